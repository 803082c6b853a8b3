"""umqtt's own example programs (micropython-lib's umqtt.simple / umqtt.robust, taken out
of the MicroPython source archive at test time: nothing of theirs is committed) run on
lgmqtt.umqtt under MicroPython and the 32-bit build, against a real Mosquitto. What is
rewritten: the import line (umqtt. -> lgmqtt.umqtt.) and the server address (host, and
the fixture broker's port added to the MQTTClient(...) call). example_pub_button.py
gets a stand-in `machine` module (GPIO cannot exist here): a Pin whose value() reads
"pressed" every third poll."""
import os
import re
import subprocess
import tarfile
import threading
import time

import paho.mqtt.client as paho
import pytest

from lghost import fw_unix, mpy

EXAMPLES = "lib/micropython-lib/micropython/umqtt.%s/%s"
INTERPS = ("micropython", "micropython32")
MACHINE = '''# test stand-in for the board's GPIO (see test_umqtt_examples.py)
class Pin:
    IN = 0
    _n = 0

    def __init__(self, *args):
        pass

    def value(self):
        Pin._n += 1
        return 0 if Pin._n % 3 == 0 else 1  # active low: pressed every third poll


def unique_id():
    return b"\\x01\\x02\\x03\\x04"
'''


def example(name, variant, port):
    """The example's source from the archive (or source tree), rewritten for lgmqtt."""
    src = fw_unix.find_source()
    rel = EXAMPLES % (variant, name)
    if os.path.isdir(src):
        with open(os.path.join(src, rel)) as f:
            text = f.read()
    else:
        with tarfile.open(src) as t:
            text = t.extractfile("micropython/" + rel).read().decode()
    text, k = re.subn(r"^(from|import) umqtt\.", r"\1 lgmqtt.umqtt.", text, flags=re.M)
    assert k == 1, "one import line to rewrite in %s" % name
    text = text.replace('"localhost"', '"127.0.0.1"').replace('"192.168.1.35"', '"127.0.0.1"')
    text, k = re.subn(r"MQTTClient\(([^()]*)\)", r"MQTTClient(\1, %d)" % port, text)
    assert k == 1, "one MQTTClient(...) call in %s" % name
    return text


def run_example(request, interp, tmp_path, name, variant, port, **kw):
    path = tmp_path / name
    path.write_text(example(name, variant, port))
    (tmp_path / "machine.py").write_text(MACHINE)
    binary = request.getfixturevalue("micropython32") if interp == "micropython32" else None
    return mpy.popen(str(path), [], heap="256k", binary=binary, path=[str(tmp_path)], stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True, **kw)


class Watch:
    """Lines of a running example, read on a thread."""

    def __init__(self, p):
        self.p, self.lines = p, []
        threading.Thread(target=lambda: self.lines.extend(p.stdout), daemon=True).start()

    def wait(self, pred, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(pred(x) for x in list(self.lines)):
                return True
            if self.p.poll() is not None:
                time.sleep(0.2)
                return any(pred(x) for x in list(self.lines))
            time.sleep(0.02)
        return False

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        return "".join(self.lines)


def subscriber(broker, topic):
    got = []
    c = paho.Client(paho.CallbackAPIVersion.VERSION2)
    c.on_message = lambda cl, u, m: got.append(m.payload)
    c.connect(broker.host, broker.port)
    c.subscribe(topic, qos=1)
    c.loop_start()
    deadline = time.monotonic() + 10
    while not c.is_connected() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)  # the SUBACK
    return c, got


def publish(broker, topic, payload):
    c = paho.Client(paho.CallbackAPIVersion.VERSION2)
    c.connect(broker.host, broker.port)
    c.loop_start()
    c.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    c.loop_stop()
    c.disconnect()


@pytest.mark.parametrize("interp", INTERPS)
def test_example_pub(request, interp, tmp_path, mosquitto):
    sub, got = subscriber(mosquitto, "foo_topic")
    try:
        p = run_example(request, interp, tmp_path, "example_pub.py", "simple", mosquitto.port)
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0, out
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got == [b"hello"], (got, out)
    finally:
        sub.loop_stop()


@pytest.mark.parametrize("interp", INTERPS)
def test_example_sub(request, interp, tmp_path, broker_factory):
    broker = broker_factory().start()
    publish(broker, "foo_topic", b"hello")  # retained: it reaches the example once it subscribes
    w = Watch(run_example(request, interp, tmp_path, "example_sub.py", "simple", broker.port))
    try:
        assert w.wait(lambda x: x.strip() == "(b'foo_topic', b'hello')"), w.stop()
    finally:
        w.stop()


@pytest.mark.parametrize("interp", INTERPS)
def test_example_pub_button(request, interp, tmp_path, mosquitto):
    sub, got = subscriber(mosquitto, "led")
    w = Watch(run_example(request, interp, tmp_path, "example_pub_button.py", "simple", mosquitto.port))
    try:
        assert w.wait(lambda x: x.startswith("Connected to 127.0.0.1")), w.stop()
        deadline = time.monotonic() + 30
        while len(got) < 3 and time.monotonic() < deadline and w.p.poll() is None:
            time.sleep(0.05)
        out = w.stop()
        assert got[:3] == [b"toggle"] * 3, (got, out)
        assert out.count("Button pressed") >= len(got), out
    finally:
        w.stop()
        sub.loop_stop()


@pytest.mark.parametrize("interp", INTERPS)
def test_example_sub_robust_survives_a_broker_restart(request, interp, tmp_path, broker_factory):
    broker = broker_factory().start()  # no persistence: the restart loses sessions and retained messages
    publish(broker, "foo_topic", b"one")
    w = Watch(run_example(request, interp, tmp_path, "example_sub_robust.py", "robust", broker.port))
    try:
        assert w.wait(lambda x: x.strip() == "(b'foo_topic', b'one')"), w.stop()
        broker.restart()
        # robust noticed, reconnected (DELAY 2 s), found no session and re-subscribed
        assert w.wait(lambda x: x.startswith("mqtt"), 30), w.stop()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not w.wait(lambda x: "b'two'" in x, 0.5):
            publish(broker, "foo_topic", b"two")
        assert w.wait(lambda x: x.strip() == "(b'foo_topic', b'two')", 1), w.stop()
        assert w.p.poll() is None, "still running its wait_msg() loop: " + w.stop()
    finally:
        w.stop()


@pytest.mark.parametrize("interp", INTERPS)
def test_umqtt_loads_no_asyncio_client_connector_store_or_config(request, interp, tmp_path, mosquitto):
    script = tmp_path / "mods.py"
    script.write_text("import sys\nfrom lgmqtt.umqtt.robust import MQTTClient\n"
                      "c = MQTTClient('lgt-umqtt-mods', '127.0.0.1', %d)\nc.connect()\n"
                      "c.publish(b'lgt/umqtt/mods', b'x', qos=1)\nc.disconnect()\n"
                      "print(' '.join(sorted(sys.modules)))\n" % mosquitto.port)
    binary = request.getfixturevalue("micropython32") if interp == "micropython32" else None
    p = mpy.run(str(script), binary=binary, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    mods = p.stdout.split()
    assert "lgmqtt.umqtt.robust" in mods and "lgmqtt.mqtt.session" in mods, mods
    bad = [m for m in mods if m.split(".")[0] in ("asyncio", "uasyncio") or m.split(".")[:2] in (
        ["lgmqtt", "net"], ["lgmqtt", "connector"], ["lgmqtt", "store"])]
    assert bad == [], bad
