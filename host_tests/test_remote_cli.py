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
