"""`tools/bench report` renders a recorded result set: the Markdown table (medians with
min-max, ratios to lgmqtt within a round, reasons for what a peer cannot run, the
issue's target ratios with measured values) and PNG charts that are valid images.
No benchmark runs here: the results are written by hand, as results.json holds them."""
import json
import os
import struct
import sys

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "benchmarks")
if BENCH not in sys.path:
    sys.path.append(BENCH)

import harness  # noqa: E402
import report  # noqa: E402
import summary  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
# (peer, case) -> rate per round, for each broker setting (nodelay = default x 2)
RATES = {
    ("lgmqtt", "qos0"): [300.0, 200.0, 250.0],
    ("umqtt.simple", "qos0"): [100.0, 100.0, 100.0],
    ("lgmqtt", "qos1_serial"): [100.0, 100.0, 100.0],
    ("raw asyncio", "qos1_serial"): [200.0, 125.0, 100.0],
    ("chumicro-mqtt", "qos1_serial"): [50.0, 50.0, 50.0],
    ("lgmqtt connector (RAM store)", "qos1_serial"): [90.0, 80.0, 85.0],
    ("lgmqtt", "qos1_window"): [1000.0, 1000.0, 1000.0],
    ("raw asyncio", "qos1_window"): [1000.0, 1000.0, 1000.0],
    ("lgmqtt", "qos2_window"): [500.0, 700.0, 600.0],
}


def recorded():
    recs = []
    for b, k in (("default", 1), ("nodelay", 2)):
        for (peer, case), rates in RATES.items():
            for rnd, rate in enumerate(rates):
                recs.append({"broker": b, "round": rnd, "peer": peer, "case": case, "status": "ok", "reason": None,
                             "sent": 100, "delivered": 100 if peer != "umqtt.simple" else 90, "duplicates": 0,
                             "ms": 1000.0, "rate": rate * k})
        for rnd in range(3):
            recs.append({"broker": b, "round": rnd, "peer": "umqtt.simple", "case": "qos2_window",
                         "status": "unsupported", "reason": "QoS 2 unsupported (publish() has `assert 0` for it)"})
            recs.append({"broker": b, "round": rnd, "peer": "aiomqttc", "case": "qos1_serial", "status": "error",
                         "reason": "crashed (exit 3): NameError: name 'TimeoutError' isn't defined"})
    codec = [[{"name": "encode v4", "rate": 100.0 + r, "ratio": 0.4 + r / 10}, {"name": "decode v4", "rate": 50.0,
                                                                             "ratio": 0.25}] for r in range(3)]
    store = [[{"size": s, "status": "ok", "records": s // 100, "bytes": s - 100, "pending": 50,
               "open_ms": s / 1000 + r, "newest_ms": 10.0 + r, "scan_ms": s / 500, "found": 100, "scan_found": 0}
              for s in (65536, 131072)] for r in range(3)]
    peers = ["lgmqtt", "raw asyncio", "umqtt.simple", "aiomqttc", "chumicro-mqtt", "lgmqtt connector (RAM store)"]
    return {"meta": {"date": "2026-01-01 00:00 UTC", "rounds": 3, "cap_ms": 3000, "scale": 1.0,
                     "interpreter": {"path": "/x/micropython", "version": "3.4.0; MicroPython v1.29", "bits": "64",
                                     "float": "double precision", "implementation": "(name='micropython')"},
                     "broker": {"version": "mosquitto version 2.0.11", "settings": dict(harness.BROKERS),
                                "common": harness.BROKER_COMMON},
                     "machine": {"cpu": "test cpu", "cores": 2, "system": "Linux", "python": "3.11"},
                     "peers": {p: "1.0" for p in peers}, "cases": [vars(c) for c in harness.CASES],
                     "heap_publishes": 20, "elapsed_s": {"total": 1.0}},
            "throughput": recs, "codec": codec, "store": store,
            "heap_peers": {"lgmqtt": {"status": "ok", "import": 70000, "connected": 80000, "published": 81000},
                           "aiomqttc": {"status": "error", "reason": "ImportError: no module named 'rich'"}},
            "heap_lg": {"status": "ok", "subs": [[0, 80000], [10, 82000]], "window": [[1, 81000], [20, 100000]]}}


def _is_png(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG and head[12:16] == b"IHDR", path
    w, h = struct.unpack(">II", head[16:24])
    assert w > 100 and h > 100, (path, w, h)


def test_report_renders_table_and_charts(tmp_path):
    src = tmp_path / "results.json"
    src.write_text(json.dumps(recorded()))
    out = report.main(["--from", str(src), "--out", str(tmp_path / "out")])
    text = open(out["report"]).read()
    assert len(out["charts"]) == 4
    for p in out["charts"]:
        _is_png(p)
        assert "](%s)" % os.path.basename(p) in text  # the report links each chart
    # header: interpreter, broker and its settings, date, machine
    for s in ("MicroPython v1.29", "mosquitto version 2.0.11", "set_tcp_nodelay true", "2026-01-01", "test cpu"):
        assert s in text, s
    # medians with min-max; a peer's ratio to lgmqtt taken within each round
    assert "| QoS 0 stream | lgmqtt | 250 (200–300) | 300/300 | 1 |" in text
    assert "| QoS 0 stream | umqtt.simple | 100 | 270/300 | 0.40 (0.33–0.50) |" in text
    # what a peer cannot run keeps its row, with the reason
    assert "*QoS 2 unsupported (publish() has `assert 0` for it)*" in text
    assert "crashed (exit 3): NameError" in text
    assert "ImportError: no module named 'rich'" in text


def test_targets_are_measured_ratios_within_rounds():
    t = {row["figure"]: row for row in summary.targets(recorded()["throughput"], recorded()["codec"])}
    qos0 = t["QoS 0 msgs/s vs umqtt.simple 1.8.0"]
    assert qos0["values"]["default"]["median"] == 2.5 and qos0["met"] is True
    serial = t["QoS 1 serial vs raw asyncio lock-step loop"]["values"]["default"]
    assert (serial["median"], serial["min"], serial["max"]) == (0.8, 0.5, 1.0)
    chumicro = t["QoS 1 serial vs chumicro-mqtt serial (default broker)"]
    assert chumicro["values"]["default"]["median"] == 2.0 and chumicro["met"] is True
    assert t["QoS 2 windowed vs own QoS 1 windowed"]["values"]["nodelay"]["median"] == 0.6
    assert t["connector QoS 1 write (RAM store) vs client publish"]["met"] is True
    enc = t["codec encode vs hand-rolled (v4 QoS 1 PUBLISH)"]
    assert enc["values"]["-"]["median"] == 0.5 and enc["met"] is True
    assert t["codec decode vs hand-rolled (v4 QoS 1 PUBLISH)"]["met"] is False


def test_a_target_without_both_figures_is_not_judged():
    recs = [r for r in recorded()["throughput"] if r["peer"] != "raw asyncio"]
    t = {row["figure"]: row for row in summary.targets(recs, [])}
    assert t["QoS 1 serial vs raw asyncio lock-step loop"]["met"] is None
    assert t["codec encode vs hand-rolled (v4 QoS 1 PUBLISH)"]["met"] is None
