"""The broker is stopped and restarted on the same port while a device publishes 1,000
QoS 1 and 200 QoS 2 messages: every QoS 1 message arrives at least once, every QoS 2
message exactly once, and the client recovers by itself. The device code runs under
CPython and under MicroPython; an independent observer (paho-mqtt) counts."""
import collections
import os
import subprocess
import sys
import threading
import time

import paho.mqtt.client as paho
import pytest

from lghost import mpy

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "device", "pub_storm.py")


class Observer:
    def __init__(self, host, port):
        self.counts = collections.Counter()
        self.lock = threading.Lock()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lgt-storm-observer", clean_session=False)
        self.c.on_message = self._msg
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe("lgt/storm/#", qos=2)
        self.c.reconnect_delay_set(0.05, 0.2)
        self.c.connect(host, port, keepalive=10)
        self.c.loop_start()

    def _msg(self, c, u, m):
        with self.lock:
            self.counts[m.payload.decode()] += 1

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


def _device(interp, env):
    env = dict(env, PYTHONPATH=mpy.LIB)
    if interp == "cpython":
        return subprocess.Popen([sys.executable, SCRIPT], env=dict(os.environ, **env), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    return mpy.popen(SCRIPT, heap="1m", env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_broker_restart_during_publish_storm(broker_factory, interp):
    broker = broker_factory(persistence=True).start()
    obs = Observer(broker.host, broker.port)
    time.sleep(0.3)
    dev = _device(interp, {"LG_BROKER_HOST": broker.host, "LG_BROKER_PORT": str(broker.port)})
    lines = []
    try:
        restarted = False
        deadline = time.monotonic() + 150
        for line in dev.stdout:
            lines.append(line.rstrip())
            if line.startswith("acked ") and int(line.split()[1]) >= 300 and not restarted:
                broker.stop()
                time.sleep(0.5)
                broker.start()
                restarted = True
            if line.startswith("done") or time.monotonic() > deadline:
                break
        dev.wait(30)
    finally:
        if dev.poll() is None:
            dev.kill()
    out = "\n".join(lines[-40:])
    assert restarted, out
    assert dev.returncode == 0 and any(l.startswith("done 1200") for l in lines), out
    assert sum(1 for l in lines if l.startswith("connected")) >= 2, "the client did not reconnect by itself\n" + out
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with obs.lock:
            if all(obs.counts["1:%d" % i] for i in range(1000)) and all(obs.counts["2:%d" % i] for i in range(200)):
                break
        time.sleep(0.2)
    time.sleep(0.5)
    obs.stop()
    missing1 = [i for i in range(1000) if not obs.counts["1:%d" % i]]
    q2 = [obs.counts["2:%d" % i] for i in range(200)]
    assert missing1 == [], "QoS 1 lost: %s" % missing1[:20]
    assert [i for i, n in enumerate(q2) if n != 1] == [], "QoS 2 not exactly once: %s" % (
        [(i, n) for i, n in enumerate(q2) if n != 1][:20])
