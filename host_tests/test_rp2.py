"""lgmqtt on the real rp2 port: a Raspberry Pi Pico firmware (RPI_PICO) with lgmqtt and
the pico board profile frozen in, built by tools/firmware, run in the rp2040js emulator
(tools/lghost/rp2emu.py). That is the port's own heap, its flash driver under LittleFS,
its machine module, and power that goes away.

Skipped with one line where the rp2 kit, node or the toolchain cannot be had (node
and the toolchain are installed with apt-get when they can be); with
LGMQTT_REQUIRE_RP2=1 (CI) that, and any failed build, is an error. Power cuts:
LGMQTT_RP2_CUTS (default 36: about 160 s; each cut is a boot of the emulated chip), LGMQTT_RP2_SEED (default: a fresh one, printed).
"""
import json
import os
import random
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
from lghost.fw_rp2 import Unavailable, find_source  # noqa: E402 (pytest.ini puts tools/ on sys.path)
from lghost.rp2emu import Rp2Emu, ensure_node, node_missing  # noqa: E402

REQUIRE = os.environ.get("LGMQTT_REQUIRE_RP2") == "1"
CUTS = int(os.environ.get("LGMQTT_RP2_CUTS", "36"))
BURST = 8  # writes per burst
CFG = {"id": "pico-1", "type": "mqtt", "name": "pico", "device": {"board": "pico"},
       "config": {"host": "192.0.2.1", "clientId": "pico-1", "reconnectPeriod": 100,
                  "history": {"path": "/hist", "size": 16384}}}


def _unavailable(why, module=False):
    if REQUIRE:
        pytest.fail("rp2 emulator tests required (LGMQTT_REQUIRE_RP2=1): " + why, pytrace=False)
    pytest.skip("rp2: " + why, allow_module_level=module)


def _missing():
    why = node_missing()
    if why is None:
        try:
            find_source()
        except Unavailable as e:
            why = str(e)
    return why


if _missing() and not REQUIRE:  # one line for the whole module (required: each test errs)
    _unavailable(_missing(), module=True)


@pytest.fixture(scope="session")
def rp2_firmware(request):
    if _missing():
        _unavailable(_missing())
    try:
        ensure_node()
    except Unavailable as e:
        _unavailable(str(e))
    t0 = time.monotonic()
    p = subprocess.run([os.path.join(ROOT, "tools", "firmware"), "--port", "rp2", "--board", "RPI_PICO"],
                       capture_output=True, text=True)
    lines = p.stderr.strip().splitlines()
    if p.returncode == 3:  # this machine cannot build it (no source, no packages)
        _unavailable(lines[-1] if lines else "tools/firmware exit 3")
    if p.returncode:
        pytest.fail("tools/firmware --port rp2 failed (exit %d):\n%s" % (p.returncode, p.stderr[-3000:]), pytrace=False)
    _say(request, "rp2 firmware %s (%.1f s, %s)" % (p.stdout.strip(), time.monotonic() - t0,
                                                     next((l for l in lines if "built in" in l), "cached")))
    return p.stdout.strip()


def _say(request, line):
    """A figure for the CI log: shown as the test runs, past pytest's output capture."""
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    cap = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is not None and cap is not None:
        with cap.global_and_fixture_disabled():
            tr.write_line("  " + line)


@pytest.fixture(scope="session")
def node_mpy(rp2_firmware, tmp_path_factory):
    """host_tests/device/rp2_node.py compiled by the firmware's own mpy-cross: loading
    it on the board costs a tenth of compiling it there (emulated instructions)."""
    with open(os.path.join(os.path.dirname(rp2_firmware), "build.json")) as f:
        mpyc = json.load(f)["mpy_cross"]
    out = str(tmp_path_factory.mktemp("rp2") / "rp2_node.mpy")
    subprocess.run([mpyc, "-o", out, os.path.join(HERE, "device", "rp2_node.py")], check=True)
    with open(out, "rb") as f:
        return f.read()


@pytest.fixture
def pico(rp2_firmware, node_mpy):
    with Rp2Emu(rp2_firmware) as emu:
        emu.boot()
        emu.run("with open('/rp2_node.mpy', 'wb') as f:\n    f.write(%r)" % node_mpy)
        emu.boot()  # each test starts from a fresh boot
        yield emu


def _put(pico, path, text):
    pico.run("with open(%r, 'w') as f:\n    f.write(%r)" % (path, text))


def _node(pico):
    """A fresh boot's view: rp2_node's functions imported, open_node() run (c is the Connector)."""
    return json.loads(pico.run("import rp2_node\nfrom rp2_node import *\nopen_node()\nc = rp2_node.c"))


def _mem(pico):
    return int(pico.run("import gc\ngc.collect()\nprint(gc.mem_free())"))


def test_boot_frozen_image_without_network(pico, request):
    out = pico.run("import sys, gc\ngc.collect()\nprint(sys.implementation._build, gc.mem_free())")
    build, boot_free = out.split()
    assert build == "RPI_PICO"
    # the premise: this board has no socket module at all
    assert pico.run("try:\n    import socket\n    print('socket')\nexcept ImportError as e:\n    print(e)") \
        == "no module named 'socket'\n"
    # lgmqtt and the board profile run from the image (frozen), not from files: the
    # filesystem holds only the test's helper
    assert pico.run("import os\nprint(os.listdir('/'))") == "['rp2_node.mpy']\n"
    pico.run("import lgmqtt, boards.pico")
    free_import = int(pico.run("from lgmqtt import Connector, ConnectorError\ngc.collect()\nprint(gc.mem_free())"))
    _say(request, "rp2 mem_free: boot %s, after `from lgmqtt import Connector` %d" % (boot_free, free_import))


def test_uf2_image_is_the_same_firmware(rp2_firmware):
    # what a user copies onto the Pico's BOOTSEL drive: the emulator loads it block by
    # block, as the bootrom does
    with Rp2Emu(rp2_firmware[:-4] + ".uf2") as pico:
        pico.boot()
        assert pico.run("import sys, lgmqtt\nprint(sys.implementation._build, lgmqtt.__version__)").split()[0] \
            == "RPI_PICO"


def test_connector_from_config_json_offline(pico, request):
    _put(pico, "/config.json", json.dumps(CFG))
    mem = [_mem(pico)]
    n = _node(pico)
    assert (n["pending"], n["stats"]["dropped"]) == ([], 0)
    mem.append(n["mem"][1])
    out = pico.run(
        "async def w():\n"
        "    a = await c.execute('mqtt:publish', 'write', {'topic': 'pico/t', 'payload': {'v': 1}, 'qos': 1})\n"
        "    b = await c.execute('mqtt:publish', 'write', {'topic': 'pico/u', 'payload': 'two', 'qos': 2})\n"
        "    print(json.dumps([a, b]))\n"
        "asyncio.run(w())")
    a, b = json.loads(out)
    assert (a["queued"], a["qos"], b["queued"], b["qos"]) == (True, 1, True, 2)
    mem.append(_mem(pico))
    h = json.loads(pico.run("history('pico/#', 10)"))
    assert h["messages"] == [["pico/u", "two", 2, "published"], ["pico/t", {"v": 1}, 1, "published"]]
    out = pico.run(
        "async def k():\n"
        "    try:\n"
        "        await c.execute('mqtt:connection', 'connect')\n"
        "    except Exception as e:\n"
        "        print(json.dumps([e.error, e.details.get('reason'), e.message]))\n"
        "    st = await c.execute('mqtt:connection', 'status')\n"
        "    await c.execute('mqtt:connection', 'disconnect')\n"
        "    print(json.dumps([st['connected'], st['outbox']['pending']]))\n"
        "asyncio.run(k())")
    err, st = [json.loads(line) for line in out.splitlines()]
    assert err[:2] == ["CONNECTION_FAILED", "no network module"], err
    assert st == [False, 2]
    mem.append(_mem(pico))
    pico.boot()  # power cycle: both writes are still pending, in order, intact
    n = _node(pico)
    assert [(p[0], p[1], p[3]) for p in n["pending"]] == [(a["outboxId"], "pico/t", 1), (b["outboxId"], "pico/u", 2)]
    assert (json.loads(n["pending"][0][2]), n["pending"][1][2]) == ({"v": 1}, "two")  # a str payload goes as is
    assert len(json.loads(pico.run("history('pico/#', 10)"))["messages"]) == 2
    _say(request, "rp2 mem_free: boot %d, Connector(config.json) %d, 2 writes queued %d, after connect attempt %d,"
         " reboot+Connector %d" % tuple(mem + [n["mem"][1]]))


def _expected_temp(raw12):
    u16 = raw12 << 4 | raw12 >> 8  # the rp2 port's 12 -> 16 bit scaling (machine_adc.c)
    return 27 - (u16 * 3.3 / 65535 - 0.706) / 0.001721


def test_pico_profile_on_the_chip(pico):
    pico.run("import boards\nb = boards.load('pico', {})")
    for raw in (876, 800, 950):  # about 27, 41 and 14 C on the sensor's line
        pico.adc(4, raw)
        t = json.loads(pico.run("import json\nprint(json.dumps(b.read_sensor()))"))["temperature"]
        assert abs(t - _expected_temp(raw)) < 0.05, (raw, t)
    pico.run("b.led(True)")
    assert pico.gpio(25) == {"out": True, "oe": True}
    pico.run("b.led(False)")
    assert pico.gpio(25) == {"out": False, "oe": True}
    # A fed watchdog keeps the chip up; starved, it resets it (the emulator then powers
    # it off). Idle time is free here, and an idle REPL does not feed it either, so each
    # watchdog lives within one step. Times are the emulator's clock.
    r = pico.exec("import time\nw = boards.load('pico', {'watchdogMs': 300})\n"
                  "for i in range(20):\n    w.feed_watchdog()\n    time.sleep_ms(100)\n"
                  "print('fed for 2 s')\ntime.sleep_ms(5000)\nprint('still up')")
    assert r["cut"] is not None and r["cut"]["reason"] == "watchdog", r
    assert r["out"] == "fed for 2 s\n", r["out"]
    assert 2.2 < r["emu_s"] < 2.5, r["emu_s"]  # 2 s fed, then 0.3 s
    pico.boot()
    r = pico.exec("import boards, time\nboards.load('pico', {'watchdogMs': 60000})\nprint('made')\ntime.sleep(30)")
    assert (r["out"], r["cut"]["reason"]) == ("made\n", "watchdog"), r
    assert 8.3 < r["emu_s"] < 8.5, r["emu_s"]  # clamped to the RP2040's maximum, 8.388 s
    pico.boot()


def test_firmware_main_runs_offline_on_the_pico(pico):
    cfg = dict(CFG, device={"board": "pico", "telemetry": {"intervalMs": 200, "qos": 1}})
    for name in ("boot.py", "main.py"):
        with open(os.path.join(ROOT, "firmware", name)) as f:
            _put(pico, "/" + name, f.read())
    _put(pico, "/config.json", json.dumps(cfg))
    pico.adc(4, 876)
    con = pico.boot(console_until="queued seq=4\r\n")["console"].replace("\r\n", "\n")
    assert "error CONNECTION_FAILED network did not come up\n" in con, con
    assert "no network module" in con, con
    assert [l for l in con.split("\n") if l.startswith("queued")][:4] == ["queued seq=%d" % i for i in (1, 2, 3, 4)]
    n = _node(pico)  # main.py was stopped by the REPL's Ctrl-C; the outbox holds its readings
    got = [json.loads(p[2]) for p in n["pending"]]
    assert [g["seq"] for g in got][:4] == [1, 2, 3, 4], got
    assert all(abs(g["temperature"] - _expected_temp(876)) < 0.05 for g in got), got


def _check_boot(n, st, what):
    """After a power cut: nothing that returned is lost, nothing acknowledged comes back.
    Returns (returned writes found, the cut write if it reached the flash)."""
    pend = [(p[0], p[1], json.loads(p[2]), p[3]) for p in n["pending"]]
    ids = [p[0] for p in pend]
    assert ids == sorted(set(ids)), (what, ids)
    assert n["stats"]["dropped"] == 0, (what, n["stats"])
    assert not set(ids) & st["acked"], (what, "acknowledged and synced, yet pending", set(ids) & st["acked"])
    want = {oid: m for oid, m in st["returned"].items() if oid not in st["acked"]}
    have = {p[0]: p[1:] for p in pend}
    lost = sorted(set(want) - set(have))
    assert not lost, (what, "returned writes lost", lost)
    for oid, m in want.items():
        assert have[oid] == m, (what, oid, have[oid], m)
    extra = [p for p in pend if p[0] not in want]
    # the write the cut caught may have reached the flash: only it, only intact
    assert len(extra) <= 1 and all(p[1:] == st["inflight"] for p in extra), (what, extra, st["inflight"])
    return len(want), extra


def test_power_cuts_during_write_bursts(pico, request):
    """Bursts of offline QoS 1/2 writes, each cut at a random moment: after a random
    number of instructions, or inside a random flash erase/program of which only a random
    prefix reaches the flash. After each cut a new chip boots on that flash: the ring log
    recovers in Connector(), and the outbox must hold every write that returned (the
    device prints each outbox id as its write returns). Between bursts everything
    pending is acknowledged and synced (so the log wraps and reclaims segments under the
    cuts too), and none of it may come back."""
    seed = int(os.environ.get("LGMQTT_RP2_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    _put(pico, "/config.json", json.dumps(CFG))
    st = {"returned": {}, "acked": set(), "inflight": None}
    tally = {"cuts": 0, "instructions": 0, "erase": 0, "program": 0, "uncut": 0, "returned": 0, "found": 0, "ops": 0, "erases": 0,
             "inflight_kept": 0, "inflight_gone": 0}
    mem = {"boot": [], "open": [], "ack": [], "burst": []}
    most = None  # [instructions, flash ops]: the most a burst was seen to take (cuts land within)
    t0 = time.monotonic()
    cyc = 0
    while True:
        mem["boot"].append(_mem(pico))
        n = _node(pico)
        mem["open"].append(n["mem"][1])
        what = "cycle %d (seed %d)" % (cyc, seed)
        found, extra = _check_boot(n, st, what)
        tally["found"] += found
        if st["inflight"] is not None:
            tally["inflight_kept" if extra else "inflight_gone"] += 1
        if cyc:  # every write of the last burst that returned is in the history too
            h = json.loads(pico.run("history('pc/%d/#', 50)" % (cyc - 1)))
            seen = [(m[0], m[1], m[2]) for m in h["messages"]]
            for m in st["returned"].values():
                if m[1]["c"] == cyc - 1:
                    assert m in seen, (what, "returned write missing from history", m)
        if tally["cuts"] >= CUTS:
            break
        for p in extra:
            st["returned"][p[0]] = p[1:]
        a = json.loads(pico.run("ack_all()"))
        mem["ack"].append(a["mem"])
        st["acked"].update(a["acked"])
        st["inflight"] = None
        cut = None
        if most is not None:  # the first burst runs whole: it sizes the others
            if rng.random() < 0.5:
                cut = {"after": "GO", "instructions": rng.randrange(1, most[0])}
            else:  # +2: later bursts (a fuller log, reclaims) may take more
                cut = {"after": "GO", "flash_op": rng.randrange(most[1] + 2), "keep": rng.random()}
        r = pico.exec("burst(%d, %d)" % (cyc, BURST), cut=cut)
        done = [l.split() for l in r["out"].split("\n")[:-1] if l.startswith("W ")]  # complete lines only
        for _, i, oid in done:
            st["returned"][int(oid)] = ("pc/%d/%s" % (cyc, i), {"c": cyc, "i": int(i)}, 1 + (int(i) & 1))
        tally["returned"] += len(done)
        if r["cut"] is None:
            assert not r["err"], (what, r["err"])
            assert len(done) == BURST, (what, r["out"])
            mem["burst"].append(json.loads(r["out"].split("\n")[-2])["mem"])
            tally["uncut"] += cut is not None  # the burst ended before the chosen moment
        ops = r["erases"] + r["programs"]
        most = [max(most[0], r["instructions"]), max(most[1], ops)] if most else [r["instructions"], ops]
        tally["ops"] += ops
        tally["erases"] += r["erases"]
        if r["cut"] is not None:
            reason = r["cut"]["reason"]
            assert reason in ("instructions", "flash"), (what, r["cut"])
            tally["cuts"] += 1
            tally[r["cut"].get("op", reason)] += 1
            if len(done) < BURST:
                i = len(done)
                st["inflight"] = ("pc/%d/%d" % (cyc, i), {"c": cyc, "i": i}, 1 + (i & 1))
        pico.boot()
        cyc += 1
    assert tally["found"] == tally["returned"]
    secs = time.monotonic() - t0
    _say(request, "rp2 power cuts (seed %d): %d cuts (%d by instruction count, %d in a flash erase, %d in a flash"
         " program) in %d bursts of %d writes, %.0f s; %d writes returned, %d found after reboot; the write"
         " being made when the power went was on flash after %d cuts, gone after %d; %d bursts ended before"
         " their cut; LittleFS: %.2f erases, %.2f flash operations per write"
         % (seed, tally["cuts"], tally["instructions"], tally["erase"], tally["program"], cyc, BURST, secs,
            tally["returned"], tally["found"], tally["inflight_kept"], tally["inflight_gone"], tally["uncut"],
            tally["erases"] / max(1, tally["returned"]), tally["ops"] / max(1, tally["returned"])))
    _say(request, "rp2 mem_free per step (min-max): " + ", ".join(
        "%s %d-%d" % (k, min(v), max(v)) for k, v in mem.items() if v))
