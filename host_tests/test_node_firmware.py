"""The node as flashed: firmware/main.py under MicroPython against a real Mosquitto, an
independent observer (paho-mqtt). Availability (retained online, the broker's Will when
the node is killed), Home Assistant discovery read the way HA reads it, entities removed
when a sensor leaves config.json, one telemetry message per tick with every value, and
the sequence number going on after the kill."""
import json
import os
import subprocess
import threading
import time

import paho.mqtt.client as paho

from lghost import mpy
from lghost.mosquitto import Broker
from test_discovery import DEVICE_CLASS_STATE_CLASSES, DEVICE_CLASS_UNITS, _as_ha_reads_it, _render

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CID = "lgt-fw-node"
SENSORS = [{"type": "internal", "objectIds": {"temperature": "chip"}}, {"type": "sim", "id": "room"}]


class Watch:
    def __init__(self, broker, *filters):
        self.got = []
        self.lock = threading.Lock()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lgt-watch-%d" % id(self))
        self.c.on_message = self._on
        self.c.connect(broker.host, broker.port)
        for f in filters:
            self.c.subscribe(f, qos=1)
        self.c.loop_start()

    def _on(self, c, u, m):
        with self.lock:
            self.got.append((m.topic, m.payload.decode(), bool(m.retain)))

    def wait(self, pred, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if pred(list(self.got)):
                    return list(self.got)
            time.sleep(0.05)
        raise AssertionError("timed out: %r" % self.got[-10:])

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


def _retained(broker, *filters):
    w = Watch(broker, *filters)
    time.sleep(0.5)  # a new subscription's retained messages come at once
    w.stop()
    return {t: p for t, p, r in w.got if r}


def _start(fs, broker, sensors):
    with open(os.path.join(ROOT, "config.json")) as f:
        cfg = json.load(f)
    cfg["config"].update(host=broker.host, port=broker.port, clientId=CID)
    cfg["device"]["telemetry"]["intervalMs"] = 200
    cfg["device"]["sensors"] = sensors
    with open(os.path.join(fs, "config.json"), "w") as f:
        json.dump(cfg, f)
    node = mpy.popen(os.path.join(ROOT, "firmware", "main.py"), heap="512k", path=[ROOT], cwd=fs,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    threading.Thread(target=lambda: lines.extend(iter(node.stdout.readline, "")), daemon=True).start()
    return node, lines


def _until(lines, prefix, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(l.startswith(prefix) for l in list(lines)):
            return
        time.sleep(0.05)
    raise AssertionError("no %r in: %s" % (prefix, "".join(lines)))


def test_firmware_availability_discovery_and_removal(tmp_path):
    broker = Broker().start()
    fs = str(tmp_path)
    status, tel = "lg/%s/status" % CID, "lg/%s/telemetry" % CID
    configs = "homeassistant/sensor/%s/+/config" % CID
    watch = Watch(broker, status, tel)
    node = None
    try:
        node, lines = _start(fs, broker, SENSORS)
        _until(lines, "discovery announced=3 removed=0")
        held = _retained(broker, status, configs)
        assert held[status] == "online", held
        ids = ("chip", "room_temperature", "room_humidity")
        got = watch.wait(lambda g: len([1 for t, _, _ in g if t == tel]) >= 2)
        reading = json.loads([p for t, p, _ in got if t == tel][-1])
        assert sorted(reading) == sorted(("seq", "ts") + ids), reading  # every value in one message
        for oid in ids:
            p = _as_ha_reads_it(held["homeassistant/sensor/%s/%s/config" % (CID, oid)])
            assert (p["state_topic"], p["availability_topic"], p["unique_id"]) == (tel, status, "%s_%s" % (CID, oid))
            assert _render(p["value_template"], reading) == reading[oid]
            assert p["unit_of_measurement"] in DEVICE_CLASS_UNITS[p["device_class"]], p
            assert p["state_class"] in DEVICE_CLASS_STATE_CLASSES[p["device_class"]], p
            assert p["device"]["identifiers"] == [CID] and p["device"]["sw_version"].startswith("lgnode "), p
        # kill -9: no DISCONNECT, so the broker publishes the node's Will
        node.kill()
        node.wait()
        watch.wait(lambda g: g[-1:] and [x for x in g if x[0] == status][-1][1] == "offline")
        assert _retained(broker, status)[status] == "offline"
        last = max(json.loads(p)["seq"] for t, p, _ in watch.got if t == tel)
        # the sim sensor leaves config.json: its two entities go, the node is online again
        node, lines = _start(fs, broker, SENSORS[:1])
        _until(lines, "discovery announced=1 removed=2")
        held = _retained(broker, status, configs)
        assert sorted(held) == sorted([status, "homeassistant/sensor/%s/chip/config" % CID]), sorted(held)
        assert held[status] == "online"
        got = watch.wait(lambda g: len([1 for t, p, _ in g if t == tel and json.loads(p)["seq"] > last + 2]) >= 2)
        # the numbers go on from the flash: a number seen twice is the same reading sent
        # again (at least once), never another reading
        by_seq = {}
        for t, p, _ in got:
            if t == tel:
                by_seq.setdefault(json.loads(p)["seq"], set()).add(p)
        assert all(len(v) == 1 for v in by_seq.values()), [v for v in by_seq.values() if len(v) > 1]
        assert sorted(json.loads([p for t, p, _ in got if t == tel][-1])) == ["chip", "seq", "ts"]
        assert "Traceback" not in "".join(lines), "".join(lines)
    finally:
        if node is not None and node.poll() is None:
            node.kill()
            node.wait()
        watch.stop()
        broker.stop()
