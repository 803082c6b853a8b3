"""The benchmark tool's behaviour (tools/benchmarks/), never its timings: a peer that
fails to import or crashes mid-run is reported with its reason while the rest of the
run goes on; a message the independent subscriber does not receive is not counted;
the peers come from their real sources. Real parts: the `micropython` binary, a local
Mosquitto (the `mosquitto` fixture), paho-mqtt as the subscriber; the failing peers are
small adapters written here, wrapping the bench's own raw-MQTT ceiling."""
import os
import sys

import pytest

from lghost import mpy

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools", "benchmarks")
if BENCH not in sys.path:
    sys.path.append(BENCH)  # after the tests' own folders: its module names are generic

import harness  # noqa: E402
import peers as peerlib  # noqa: E402
import summary  # noqa: E402

FAKE_IMPORT = '''raise ImportError("fake peer: its library is missing")
'''
# Publishes 5 messages of a case, then the interpreter dies (SystemExit passes the
# driver's `except Exception`, as a fatal error in a peer's C code would end it).
FAKE_CRASH = '''import sys
from peer_raw import Peer as Raw


class Peer(Raw):
    serial = None
    window = None

    async def publish(self, topic, payload, qos):
        self.n = getattr(self, "n", 0) + 1
        if self.n > 5:
            sys.stderr.write("fake peer: dying mid-run\\n")
            sys.exit(3)
        await Raw.publish(self, topic, payload, qos)


def make(arg):
    return Peer()
'''
# Believes it sent every message but sends every second one where nobody subscribed.
FAKE_LOSSY = '''from peer_raw import Peer as Raw


class Peer(Raw):
    serial = None
    window = None

    async def publish(self, topic, payload, qos):
        self.n = getattr(self, "n", 0) + 1
        if self.n % 2 == 0 and topic.startswith("lgb/"):
            topic = "lgblost/" + topic
        await Raw.publish(self, topic, payload, qos)


def make(arg):
    return Peer()
'''


@pytest.fixture
def fakes(tmp_path):
    for name, text in (("fakeimport", FAKE_IMPORT), ("fakecrash", FAKE_CRASH), ("fakelossy", FAKE_LOSSY)):
        (tmp_path / ("peer_%s.py" % name)).write_text(text)
    return str(tmp_path)


def _cases(*keys, n=40):
    # the report's cases, with few messages each: the behaviour is what is checked here
    return [harness.Case(c.key, c.title, c.qos, c.window, n, c.version) for c in harness.CASES if c.key in keys]


def _run(mosquitto, peer_list, cases, sources=None, log=lambda line: None):
    return harness.run_throughput(mpy.micropython_binary(), [("default", mosquitto)], sources or {}, peer_list,
                                  cases, rounds=1, cap_ms=2000, log=log)


def test_failing_peers_are_reported_and_the_run_goes_on(mosquitto, fakes):
    peer_list = [
        peerlib.Peer("fake import", "fakeimport", extra_path=[fakes]),
        peerlib.Peer("fake crash", "fakecrash", group="g", extra_path=[fakes]),
        peerlib.Peer("raw asyncio", "raw", group="g"),
    ]
    lines = []
    recs = _run(mosquitto, peer_list, _cases("qos0", "qos1_serial"), log=lines.append)
    by = {(r["peer"], r["case"]): r for r in recs}
    assert len(recs) == 6, recs
    for case in ("qos0", "qos1_serial"):
        imp, crash, raw = by[("fake import", case)], by[("fake crash", case)], by[("raw asyncio", case)]
        assert imp["status"] == "error" and "ImportError: fake peer: its library is missing" in imp["reason"], imp
        assert crash["status"] == "error" and "crashed (exit 3)" in crash["reason"], crash
        assert "dying mid-run" in crash["reason"], crash
        # the crashed driver was replaced: the peer after it in the same process still ran
        assert raw["status"] == "ok" and raw["sent"] == raw["delivered"] > 0, raw
    assert any("crashed" in line for line in lines)
    rows = summary.throughput_rows(recs, ["qos0", "qos1_serial"], ["raw asyncio", "fake crash", "fake import"])
    assert len(rows) == 6  # a failed peer keeps its row, with the reason in place of a rate
    crash_row = next(r for r in rows if r["peer"] == "fake crash")
    assert "crashed (exit 3)" in crash_row["cells"]["default"]["reason"]


def test_a_lost_message_is_not_counted(mosquitto, fakes):
    peer_list = [peerlib.Peer("lossy", "fakelossy", extra_path=[fakes]),
                 peerlib.Peer("raw asyncio", "raw", group="lossy")]
    recs = _run(mosquitto, peer_list, _cases("qos1_serial", n=40))
    lossy = next(r for r in recs if r["peer"] == "lossy")
    raw = next(r for r in recs if r["peer"] == "raw asyncio")
    assert lossy["status"] == "ok" and lossy["sent"] == 40, lossy
    assert lossy["delivered"] == 20, lossy
    assert lossy["rate"] == pytest.approx(20 * 1000.0 / lossy["ms"]), lossy
    assert raw["delivered"] == raw["sent"] == 40, raw
    row = summary.throughput_rows(recs, ["qos1_serial"], ["raw asyncio", "lossy"])[1]
    assert (row["cells"]["default"]["delivered"], row["cells"]["default"]["sent"]) == (20, 40)


def test_unsupported_cases_keep_their_row_with_the_reason(mosquitto):
    src = peerlib.fetch_umqtt(os.path.join(peerlib.ROOT, "build", "bench", "peers"))
    assert src[2] is None, src
    recs = _run(mosquitto, [peerlib.Peer("umqtt.simple", "umqtt", "simple", source="umqtt")],
                _cases("qos0", "qos2_serial", "qos1_serial_v5", n=100), sources={"umqtt": src})
    by = {r["case"]: r for r in recs}
    assert by["qos0"]["status"] == "ok" and by["qos0"]["delivered"] == by["qos0"]["sent"] == 100, by["qos0"]
    assert by["qos2_serial"]["status"] == "unsupported" and "QoS 2" in by["qos2_serial"]["reason"]
    assert by["qos1_serial_v5"]["status"] == "unsupported" and "MQTT 5" in by["qos1_serial_v5"]["reason"]


def test_a_missing_source_is_a_reason_not_a_dead_run(mosquitto):
    recs = _run(mosquitto, [peerlib.Peer("mqtt_as", "mqtt_as", source="mqtt_as", stubs=True),
                            peerlib.Peer("raw asyncio", "raw")], _cases("qos0"),
                sources={"mqtt_as": (None, None, "mqtt_as not found (shared/baselines/mqtt_as/)")})
    by = {r["peer"]: r for r in recs}
    assert by["mqtt_as"]["status"] == "unavailable" and "not found" in by["mqtt_as"]["reason"]
    assert by["raw asyncio"]["status"] == "ok"


def test_peers_come_from_their_real_sources(tmp_path):
    path, version, why = peerlib.fetch_umqtt(str(tmp_path))
    assert why is None and version == "simple 1.8.0, robust 1.0.3", (version, why)
    with open(os.path.join(path, "umqtt", "simple.py")) as f:
        assert "class MQTTClient" in f.read()
    path, version, why = peerlib.fetch_mqtt_as(str(tmp_path))
    assert why is None and version == "0.8.3", (version, why)
    assert os.path.exists(os.path.join(path, "mqtt_as", "__init__.py"))
