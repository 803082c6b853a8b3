"""QoS 2 exactly-once across a device reset (issue 9 item 22): the device (a Connector
with clean: false on a file store) is killed with -9 at each step of the QoS 2
handshake -- PUBLISH, PUBREC, PUBREL, PUBCOMP, each just before and just after it
crosses -- by a proxy that sees the packets go by, then started again on the same
flash. Against a real Mosquitto with persistence and an independent QoS 2 subscriber:
every message whose write returned arrives exactly once, one whose write was under way
at most once, none twice."""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as paho
import pytest

from lghost import mpy
from lghost.mosquitto import Broker
from mqttproxy import MqttProxy

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "device", "qos2_kill.py")
PUBLISH, PUBREC, PUBREL, PUBCOMP = 3, 5, 6, 7
STEPS = [("c2b", PUBLISH, "before"), ("c2b", PUBLISH, "after"), ("b2c", PUBREC, "before"), ("b2c", PUBREC, "after"),
         ("c2b", PUBREL, "before"), ("c2b", PUBREL, "after"), ("b2c", PUBCOMP, "before"), ("b2c", PUBCOMP, "after")]


def _device(interp, args):
    kw = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if interp == "cpython":
        return subprocess.Popen([sys.executable, SCRIPT] + args, env=dict(os.environ, PYTHONPATH=mpy.LIB), **kw)
    return mpy.popen(SCRIPT, args, heap="1m", **kw)


@pytest.mark.parametrize("interp,version", [("micropython", 4), ("micropython", 5), ("cpython", 4)])
def test_kill9_at_each_qos2_step_then_reboot_delivers_exactly_once(interp, version):
    broker = Broker(persistence=True).start()
    got = []
    lock = threading.Lock()
    sub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lgt-eo-sub-%d" % version, clean_session=False)
    sub.on_message = lambda c, u, m: (lock.acquire(), got.append(json.loads(m.payload)["i"]), lock.release())
    sub.connect(broker.host, broker.port)
    sub.subscribe("lgt/eo", qos=2)
    sub.loop_start()
    proxy = MqttProxy((broker.host, broker.port)).start()
    path = tempfile.mkdtemp(prefix="lgmqtt-eo-")
    returned, begun = set(), set()
    restored = 0  # boots that found QoS 2 state in flash
    nxt = 0
    try:
        for step in STEPS:
            p = _device(interp, [path, "127.0.0.1", str(proxy.port), str(version), str(nxt), "3"])
            # the second QoS 2 message of this run is the one killed at `step`
            proxy.arm(step[0], step[1], 2, step[2], p.kill)
            out = []
            for line in p.stdout:
                out.append(line)
                w = line.split() if line.endswith("\n") else []  # a line cut by the kill says nothing
                if w and w[0] == "pending" and int(w[3]):
                    restored += 1
                if w and w[0] == "begin":
                    begun.add(int(w[1]))
                elif w and w[0] == "done":
                    returned.add(int(w[1]))
                elif line.startswith("Traceback"):
                    raise AssertionError("".join(out) + p.stdout.read())
            p.wait()
            assert proxy.fired.is_set(), (step, "".join(out))
            nxt = max(begun) + 1
        # a last boot with no kill: it resumes what was in flight and drains the outbox
        proxy.arm("c2b", 0, 1, "before", lambda: None)
        p = _device(interp, [path, "127.0.0.1", str(proxy.port), str(version), str(nxt), "1"])
        out, _ = p.communicate(timeout=120)
        assert "drained 0" in out, out
        returned.add(nxt)
        begun.add(nxt)
        time.sleep(1)
    finally:
        sub.loop_stop()
        sub.disconnect()
        proxy.stop()
        broker.stop()
    with lock:
        counts = {i: got.count(i) for i in set(got) | begun}
    twice = {i: n for i, n in counts.items() if n > 1}
    lost = sorted(i for i in returned if counts.get(i, 0) == 0)
    assert not twice, "delivered more than once: %s" % twice
    assert not lost, "lost although write() returned: %s" % lost
    assert set(got) <= begun
    assert restored >= len(STEPS) // 2, restored  # the journal's QoS 2 state was really used
