"""kill -9 of a device while it queues QoS 1 messages offline; a new Connector on the
same history folder (a reboot) sends every message whose write() had returned. The
device runs under MicroPython and under CPython; an independent observer counts."""
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as paho
import pytest

from lghost import mpy
from lghost.mosquitto import Broker, free_port

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "device", "outbox_crash.py")


def _run(interp, args, **kw):
    if interp == "cpython":
        env = dict(os.environ, PYTHONPATH=mpy.LIB)
        return subprocess.Popen([sys.executable, SCRIPT] + args, env=env, **kw)
    return mpy.popen(SCRIPT, args, heap="1m", **kw)


@pytest.mark.parametrize("interp", ["cpython", "micropython"])
def test_kill9_then_reboot_resends_every_accepted_message(interp):
    broker = Broker().start()
    got = []
    lock = threading.Lock()
    obs = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lgt-crash-observer")
    obs.on_message = lambda c, u, m: (lock.acquire(), got.append(json.loads(m.payload)["i"]), lock.release())
    obs.connect(broker.host, broker.port)
    obs.subscribe("lgt/crash", qos=1)
    obs.loop_start()
    path = tempfile.mkdtemp(prefix="lgmqtt-crash-")
    rng = random.Random(7)
    accepted = set()
    try:
        for rnd in range(3):  # three crashes in a row, each at a random moment
            dead = str(free_port())  # nothing listens there: every write is queued
            p = _run(interp, [path, "127.0.0.1", dead, "fill", "30"], stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True)
            stop_at = rng.randrange(3, 30)
            for line in p.stdout:
                if line.startswith("queued "):
                    accepted.add((rnd, int(line.split()[1])))
                    if int(line.split()[1]) >= stop_at:
                        break
                elif line.startswith("Traceback"):
                    raise AssertionError(line + p.stdout.read())
            p.kill()  # SIGKILL: no flush, no close
            p.wait()
        d = _run(interp, [path, broker.host, str(broker.port), "drain"], stdout=subprocess.PIPE,
                 stderr=subprocess.STDOUT, text=True)
        out, _ = d.communicate(timeout=120)
        assert "drained 0" in out, out
        time.sleep(0.5)
    finally:
        obs.loop_stop()
        obs.disconnect()
        broker.stop()
    # each round wrote payload i = 0..k; the observer sees payload values, so count them
    # per value: every accepted (round, i) means one more copy of i must have arrived
    need = {}
    for rnd, i in accepted:
        need[i] = need.get(i, 0) + 1
    with lock:
        have = {i: got.count(i) for i in need}
    short = {i: (need[i], have[i]) for i in need if have[i] < need[i]}
    assert not short, "lost after kill -9: value -> (accepted, received) %s" % short
