"""The deep-sleep duty cycle as flashed: firmware/main.py under MicroPython, one process
per wake-up on the same board folder, against a real Mosquitto through a proxy that
sees every packet. The power is cut (SIGKILL, RTC memory gone) at exact steps of a
report: before the second reading reaches the broker, right after the broker's second
PUBACK reached the node, just before the DISCONNECT, just after the CONNACK. After
each cut the node boots again; in the end every reading it stored reached the
observer (duplicates allowed: at least once), and the Will told the world each time."""
import json
import os
import re
import subprocess
import threading
import time

import paho.mqtt.client as paho

from lghost import mpy
from lghost.mosquitto import Broker
from mqttproxy import MqttProxy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CID = "lgt-duty-fw"
CONNACK, PUBLISH, PUBACK, DISCONNECT = 2, 3, 4, 14
CUTS = [("c2b", PUBLISH, 2, "before"), ("b2c", PUBACK, 2, "after"), ("c2b", DISCONNECT, 1, "before"),
        ("b2c", CONNACK, 1, "after")]


def test_power_cuts_at_each_step_of_a_report_lose_no_reading(tmp_path):
    broker = Broker().start()
    proxy = MqttProxy((broker.host, broker.port)).start()
    fs = str(tmp_path / "board")
    os.mkdir(fs)
    with open(os.path.join(ROOT, "config.json")) as f:
        cfg = json.load(f)
    cfg["config"].update(host="127.0.0.1", port=proxy.port, clientId=CID, clean=False, keepalive=5)
    cfg["device"]["power"] = {"mode": "deep-sleep", "samplePeriodMs": 200, "reportEvery": 3, "awakeMs": 8000,
                              "listenMs": 0}
    with open(os.path.join(fs, "config.json"), "w") as f:
        json.dump(cfg, f)
    from lghost.mpybuild import build_mpy

    lib = build_mpy(str(tmp_path / "lib"), ("lgmqtt", "lgnode", "boards"))
    got, status = [], []
    lock = threading.Lock()

    def on_message(c, u, m):
        with lock:
            (got if m.topic.endswith("/telemetry") else status).append(m.payload.decode())

    obs = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lgt-duty-obs")
    obs.on_message = on_message
    obs.connect(broker.host, broker.port)
    obs.subscribe([("lg/%s/telemetry" % CID, 1), ("lg/%s/status" % CID, 1)])
    obs.loop_start()
    out = []

    def wake(cut=None):
        """One wake-up; with cut=(direction, type, nth, when) the power goes at that packet
        (if the wake-up reports). -> (exit status, console)."""
        current = []
        if cut is not None:  # armed before the node starts: it may connect at once
            proxy.arm(*cut, callback=lambda: current[0].kill())
        node = mpy.popen(os.path.join(ROOT, "firmware", "main.py"), heap="1m", path=[lib], cwd=fs,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        current.append(node)
        text = node.communicate(timeout=60)[0]
        out.append(text)
        assert "Traceback" not in text, text
        if node.returncode != 76:  # killed: a power cut, RTC memory is gone
            try:
                os.remove(os.path.join(fs, "lgrtc.bin"))
            except OSError:
                pass
        return node.returncode, text

    try:
        code, text = wake()  # power-on: reports its one reading at once
        assert code == 76 and "flushed sent=1 pending=0" in text, text
        for cut in CUTS:
            # sample until a report is due, with the cut armed (after a cut the next
            # wake-up is a power-on, which reports at once)
            for _ in range(4):
                code, text = wake(cut)
                if "report=yes" in text:
                    break
            assert proxy.fired.is_set(), (cut, text)
            assert code != 76, (cut, text)
            proxy.arm("c2b", 0, 1, "before", lambda: None)  # disarmed
        for _ in range(6):  # the backlog drains
            code, text = wake()
            if "flushed" in text and "pending=0" in text:
                break
        assert "flushed" in text and "pending=0" in text, text
        time.sleep(0.5)
        console = "\n".join(out)  # a killed wake-up's last line has no newline
        stored = set(int(s) for s in re.findall(r"^queued seq=(\d+)$", console, re.M))
        with lock:
            received = [json.loads(p)["seq"] for p in got]
            said = list(status)
        assert len(stored) >= 8, console
        assert stored <= set(received), ("lost", sorted(stored - set(received)))
        assert received[-1] == max(stored)
        # each cut inside a session made the broker publish the Will; each report after
        # a power-on said "online" again
        assert said.count("offline") == len(CUTS) and said[-1] == "online", said
        assert re.findall(r"^sleep ms=\d+ awake_ms=\d+$", console, re.M), console
    finally:
        obs.loop_stop()
        obs.disconnect()
        proxy.stop()
        broker.stop()
