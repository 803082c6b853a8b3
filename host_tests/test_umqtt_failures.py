"""lgmqtt.umqtt.robust under the failures umqtt.robust users meet, with the device in its
own process (CPython, MicroPython, the 32-bit build) and independent observers:

- the broker restarts during a QoS 1 publish loop: a persistent subscriber (paho) counts
  every message, none lost, and the loop ends (no hang);
- a PUBACK never comes: a small fake broker swallows the first PUBLISH; the client gives
  up waiting, reconnects and sends the same message again, same packet id, DUP set.
"""
import subprocess
import sys
import threading
import time

import paho.mqtt.client as paho
import pytest

from lghost import mpy
from lghost.mosquitto import Broker
from lghost.tcp import accept_forever, listener
from mqttproxy import _frames

HERE = __import__("os").path.dirname(__import__("os").path.abspath(__file__))
INTERPS = ("cpython", "micropython", "micropython32")


def device(request, interp, script, args):
    path = "%s/device/%s" % (HERE, script)
    kw = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if interp == "cpython":
        return subprocess.Popen([sys.executable, path] + args, env=dict(__import__("os").environ, PYTHONPATH=mpy.LIB),
                                **kw)
    binary = request.getfixturevalue("micropython32") if interp == "micropython32" else None
    return mpy.popen(path, args, heap="256k", binary=binary, **kw)


def lines_of(p, out):
    for line in p.stdout:
        out.append(line)


@pytest.mark.parametrize("interp", INTERPS)
def test_robust_broker_restart_during_qos1_loop_loses_nothing_and_ends(request, interp):
    n = 300
    broker = Broker(persistence=True).start()
    got = set()
    lock = threading.Lock()
    sub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lgt-umqtt-loop-sub-" + interp, clean_session=False)
    sub.reconnect_delay_set(0.1, 0.5)
    sub.on_message = lambda c, u, m: (lock.acquire(), got.add(int(m.payload)), lock.release())
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("lgt/umqtt/loop", qos=1)
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    out = []
    p = None
    try:
        deadline = time.monotonic() + 10
        while not sub.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        p = device(request, interp, "umqtt_publoop.py", [broker.host, str(broker.port), str(n), "lgt-umqtt-loop-" + interp])
        reader = threading.Thread(target=lines_of, args=(p, out), daemon=True)
        reader.start()
        deadline = time.monotonic() + 60
        while not any(x.startswith("sent 100") for x in out) and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.01)
        assert any(x.startswith("sent 100") for x in out), "".join(out)
        broker.restart()  # SIGTERM (the session store is saved), then the same port again
        p.wait(timeout=120)  # no hang: the loop finishes
        reader.join(5)
        assert p.returncode == 0 and "done %d\n" % n in out, "".join(out)
        assert any(x.startswith("mqtt") for x in out), "the restart was noticed: " + "".join(out)
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got == set(range(n)), "lost: %s" % sorted(set(range(n)) - got)[:20]
    finally:
        if p and p.poll() is None:
            p.kill()
        sub.loop_stop()
        broker.stop()


class SwallowFirstPublish:
    """A fake broker: CONNACK to every CONNECT (session present from the second on); the
    first PUBLISH is kept and never acknowledged, every later one gets its PUBACK."""

    def __init__(self):
        self.sock = listener(4)
        self.port = self.sock.getsockname()[1]
        self.publishes = []  # (connection number, packet bytes)
        self.connections = 0
        accept_forever(self.sock, self._accept)

    def _accept(self, c):
        self.connections += 1
        threading.Thread(target=self._serve, args=(c, self.connections), daemon=True).start()

    def _serve(self, c, n):
        buf = b""
        try:
            while True:
                data = c.recv(4096)
                if not data:
                    return
                frames, buf = _frames(buf + data)
                for f in frames:
                    t = f[0] >> 4
                    if t == 1:  # CONNECT
                        c.sendall(b"\x20\x02" + (b"\x01" if n > 1 else b"\x00") + b"\x00")
                    elif t == 3:  # PUBLISH (QoS 1): topic length, topic, then the packet id
                        self.publishes.append((n, f))
                        if len(self.publishes) > 1:
                            i = 2 + ((f[2] << 8) | f[3]) + 2
                            c.sendall(b"\x40\x02" + f[i:i + 2])
                    elif t == 12:  # PINGREQ
                        c.sendall(b"\xd0\x00")
        except OSError:
            return
        finally:
            c.close()

    def stop(self):
        self.sock.close()


@pytest.mark.parametrize("interp", INTERPS)
def test_robust_missing_puback_is_resent_with_dup_after_reconnect(request, interp):
    fake = SwallowFirstPublish()
    p = device(request, interp, "umqtt_puback.py", ["127.0.0.1", str(fake.port)])
    try:
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
        fake.stop()
    assert p.returncode == 0 and "done\n" in out, out
    assert "TIMEOUT" in out, "the missing PUBACK was reported to log(): " + out
    assert [n for n, _ in fake.publishes] == [1, 2], (fake.publishes, out)
    first, second = fake.publishes[0][1], fake.publishes[1][1]
    assert first[0] & 0x08 == 0 and second[0] & 0x08, "DUP on the re-send only: %r %r" % (first, second)
    assert (first[0] | 0x08, first[1:]) == (second[0], second[1:]), "the same message, same packet id"
