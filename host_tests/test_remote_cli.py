"""Remote invocation end to end: the firmware (a Connector) runs under MicroPython as a
device; tools/lgctl on the host reads its status and history over MQTT, on 3.1.1 and
5.0; a capability that is not remotely callable is refused with its code."""
import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from lghost import mpy
from lghost.mosquitto import Broker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LGCTL = [sys.executable, os.path.join(ROOT, "tools", "lgctl.py")]


@pytest.fixture
def device(request):
    version = request.param
    broker = Broker().start()
    fs = tempfile.mkdtemp(prefix="lgmqtt-dev-")
    with open(os.path.join(ROOT, "config.json")) as f:
        cfg = json.load(f)
    cfg["config"].update(host=broker.host, port=broker.port, protocolVersion=version, clientId="lgt-dev-%d" % version)
    cfg["device"]["telemetry"]["intervalMs"] = 100
    with open(os.path.join(fs, "config.json"), "w") as f:
        json.dump(cfg, f)
    node = mpy.popen(os.path.join(ROOT, "firmware", "main.py"), heap="512k", path=[ROOT], cwd=fs,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until three readings were acknowledged
        line = node.stdout.readline()
        seen.append(line)
        if line.startswith("published seq=3"):
            break
    yield broker, cfg["config"]["clientId"], "".join(seen)
    node.kill()
    node.wait()
    broker.stop()


def lgctl(broker, dev, *args):
    return subprocess.run(LGCTL + ["--broker", broker.url(), "--device", dev, "--timeout", "10"] + list(args),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("device", [4, 5], indirect=True, ids=["mqtt311", "mqtt5"])
def test_lgctl_status_and_history_from_micropython_device(device):
    broker, dev, log = device
    assert "published seq=3" in log, log
    r = lgctl(broker, dev, "status")
    assert r.returncode == 0, r.stdout + r.stderr
    st = json.loads(r.stdout)
    assert st["connected"] is True and st["clientId"] == dev
    # telemetry keeps flowing every 100 ms: at most a few messages are between write and ack
    assert st["outbox"]["dropped"] == 0 and st["outbox"]["pending"] <= 3, st["outbox"]
    r = lgctl(broker, dev, "history", "--topic", "lg/+/telemetry", "--limit", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    h = json.loads(r.stdout)
    assert h["count"] == 2 and h["order"] == "newest"
    a, b = h["messages"]
    assert a["payload"]["seq"] > b["payload"]["seq"] >= 1
    assert a["direction"] == "published" and a["topic"] == "lg/%s/telemetry" % dev
    r = lgctl(broker, dev, "call", "mqtt:history", "clear", "{}")
    assert r.returncode == 1
    err = json.loads(r.stdout)["error"]
    assert err["error"] == "CAPABILITY_DISABLED" and err["details"]["operation"] == "clear"


KEY_HEX = "5a" * 32


@pytest.fixture
def signed_device(tmp_path):
    """The firmware with a key in secrets.json; status is open, everything else signed."""
    broker = Broker().start()
    fs = str(tmp_path / "board")
    os.mkdir(fs)
    with open(os.path.join(ROOT, "config.json")) as f:
        cfg = json.load(f)
    cfg["config"].update(host=broker.host, port=broker.port, clientId="lgt-signed")
    cfg["device"]["telemetry"]["intervalMs"] = 100
    cfg["device"]["auth"] = {"unauthenticated": ["mqtt:connection.status"]}
    with open(os.path.join(fs, "config.json"), "w") as f:
        json.dump(cfg, f)
    secrets = str(tmp_path / "secrets.json")
    with open(secrets, "w") as f:
        json.dump({"auth": {"key": KEY_HEX}}, f)
    with open(os.path.join(fs, "secrets.json"), "w") as f:
        json.dump({"auth": {"key": KEY_HEX}}, f)
    node = mpy.popen(os.path.join(ROOT, "firmware", "main.py"), heap="512k", path=[ROOT], cwd=fs,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    import threading

    threading.Thread(target=lambda: lines.extend(iter(node.stdout.readline, "")), daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(l.startswith("published seq=2") for l in lines):
        time.sleep(0.05)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("LGCTL_KEY", None)
    yield broker, "lgt-signed", secrets, env, node, lines
    node.kill()
    node.wait()
    broker.stop()


def _ctl(broker, dev, env, *args):
    return subprocess.run(LGCTL + ["--broker", broker.url(), "--device", dev, "--timeout", "10"] + list(args),
                          capture_output=True, text=True, timeout=60, env=env)


def test_lgctl_signs_commands_and_the_firmware_refuses_unsigned_replayed_and_forged_ones(signed_device, tmp_path):
    broker, dev, secrets, env, node, lines = signed_device
    assert any(l.startswith("published seq=2") for l in lines), "".join(lines)
    r = _ctl(broker, dev, env, "status")  # open: listed in device.auth.unauthenticated
    assert r.returncode == 0 and json.loads(r.stdout)["connected"] is True, r.stdout + r.stderr
    r = _ctl(broker, dev, env, "led", "on")  # no key: unsigned
    assert r.returncode == 1 and json.loads(r.stdout)["error"]["error"] == "AUTH_REQUIRED", r.stdout
    r = _ctl(broker, dev, env, "--key-file", secrets, "led", "on")
    assert r.returncode == 0 and json.loads(r.stdout) == {"on": True}, r.stdout + r.stderr
    counter = tmp_path / "cache" / "lgmqtt" / "lgctl" / (dev + ".counter")
    assert counter.read_text().strip() == "1"
    r = _ctl(broker, dev, dict(env, LGCTL_KEY=KEY_HEX), "interval", "300")  # the key from the environment
    assert r.returncode == 0 and json.loads(r.stdout) == {"intervalMs": 300}, r.stdout + r.stderr
    r = _ctl(broker, dev, env, "--key-file", secrets, "node")
    st = json.loads(r.stdout)
    assert (st["intervalMs"], st["led"], st["power"]) == (300, True, "always-on"), st
    # the counter file lost: the device refuses the replayed number, lgctl goes past it once
    counter.unlink()
    r = _ctl(broker, dev, env, "--key-file", secrets, "led", "off")
    assert r.returncode == 0 and json.loads(r.stdout) == {"on": False}, r.stdout + r.stderr
    assert counter.read_text().strip() == "4"
    # a request signed earlier, sent again as it was: refused
    import paho.mqtt.client as paho
    from lgnode import auth

    old = auth.signed_request(bytes.fromhex(KEY_HEX), dev, {"id": "replay", "replyTo": "lgt/replay",
                                                            "capability": "lg:led", "operation": "set",
                                                            "params": {"on": True}}, n=2)
    got = []
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lgt-replayer")
    c.on_message = lambda cl, u, m: got.append(json.loads(m.payload))
    c.connect(broker.host, broker.port)
    c.subscribe("lgt/replay", qos=1)
    c.loop_start()
    time.sleep(0.3)
    c.publish("lg/%s/rpc" % dev, old, qos=1)
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    c.loop_stop()
    c.disconnect()
    assert got and got[0]["error"]["error"] == "AUTH_REPLAYED", got
    # signed with the time instead of a counter (the unix board's clock is the host's)
    r = _ctl(broker, dev, env, "--key-file", secrets, "--ts", "led", "on")
    assert r.returncode == 0, r.stdout + r.stderr
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"auth": {"key": "a5" * 32}}))
    r = _ctl(broker, dev, env, "--key-file", str(wrong), "led", "off")
    assert r.returncode == 1 and json.loads(r.stdout)["error"]["error"] == "AUTH_FAILED", r.stdout
    assert "a5a5" not in r.stdout + r.stderr and KEY_HEX not in r.stdout + r.stderr
    assert KEY_HEX not in "".join(lines), "the key never shows on the console"
    # reboot: the node answers, says offline itself, disconnects and resets (status 75 on unix)
    r = _ctl(broker, dev, env, "--key-file", secrets, "reboot")
    assert r.returncode == 0 and json.loads(r.stdout)["rebooting"] is True, r.stdout + r.stderr
    assert node.wait(10) == 75
    out = "".join(lines)
    assert "offline topic=lg/%s/status" % dev in out and "reset reason=command" in out, out


def test_lgctl_keygen_and_a_bad_key_file(tmp_path):
    r = subprocess.run(LGCTL + ["keygen"], capture_output=True, text=True, timeout=30)
    key = json.loads(r.stdout)["auth"]["key"]
    assert r.returncode == 0 and len(key) == 64 and int(key, 16) >= 0
    short = tmp_path / "k.txt"
    short.write_text("abcd")
    r = subprocess.run(LGCTL + ["--device", "x", "--key-file", str(short), "led", "on"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "auth.key" in r.stderr and "abcd" not in r.stderr, r.stderr
