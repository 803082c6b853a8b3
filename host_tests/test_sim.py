"""tools/sim end to end: the firmware under real MicroPython, a real Mosquitto, an observer."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = [sys.executable, os.path.join(ROOT, "tools", "sim.py")]


def _leftovers(marker):
    out = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if marker in l and "ps -eo" not in l]


def _summary(out):
    m = re.search(r"^summary: published=(\d+) received=(\d+) lost=(\d+) duration=[\d.]+$", out, re.M)
    assert m, out
    return tuple(int(x) for x in m.groups())


def _duty_summary(out):
    m = re.search(r"^summary: published=(\d+) received=(\d+) lost=(\d+) duration=[\d.]+ wakeups=(\d+) reports=(\d+)"
                  r" awake_ms_per_report=(\d+) awake_ms_per_wake=(\d+) cuts=(\d+) cuts_in_flush=(\d+)$", out, re.M)
    assert m, out
    keys = ("published", "received", "lost", "wakeups", "reports", "awake_ms_per_report", "awake_ms_per_wake", "cuts",
            "cuts_in_flush")
    return dict(zip(keys, (int(x) for x in m.groups())))


def test_sim_deep_sleep_with_power_cuts_loses_nothing():
    # the command: a minute of wake-ups (sample, report every 5th, sleep), the
    # power cut at random moments, the first report always inside its flush; after the
    # minute the node is woken until its backlog is out, and every reading it stored
    # (queued) or had acknowledged (published) must have reached the observer
    p = subprocess.run(SIM + ["--power", "deep-sleep", "--duration", "60", "--cut-power-at", "random", "--mpy",
                              "--seed", "7"], capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    s = _duty_summary(p.stdout)
    assert s["lost"] == 0, p.stdout[-3000:]
    assert s["cuts"] >= 1 and s["cuts_in_flush"] >= 1, s
    assert s["wakeups"] > s["reports"] >= 3 and s["published"] >= 10, s
    assert "Traceback" not in p.stdout, p.stdout[-3000:]
    assert "sim: power cut 1 (during a flush)" in p.stdout, p.stdout[-3000:]


def test_sim_deep_sleep_cut_at_a_given_second():
    p = subprocess.run(SIM + ["--power", "deep-sleep", "--duration", "8", "--cut-power-at", "2.5", "--interval", "500"],
                       capture_output=True, text=True, timeout=200)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    s = _duty_summary(p.stdout)
    assert (s["lost"], s["cuts"]) == (0, 1), s
    # after the cut the node boots as at power-on: it reports at once
    after = p.stdout.split("sim: power cut 1", 1)[1]
    assert "node: wake reason=power-on" in after, p.stdout[-3000:]


# From source the on-device compiler fragments the heap (its peaks need room beyond the
# steady state); boards run .mpy or frozen code. Heaps re-measured by the memory work;
# the node (lgnode) runs from .mpy in 272k on this 64-bit port (README "RAM").
@pytest.mark.parametrize("build", [["--heap", "448k"], ["--heap", "320k", "--mpy"]], ids=["source", "mpy"])
def test_sim_publishes_and_loses_nothing_in_a_board_sized_heap(build):
    p = subprocess.run(SIM + ["--duration", "4", "--interval", "300"] + build,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    published, received, lost = _summary(p.stdout)
    assert published >= 3 and lost == 0 and received >= published, p.stdout
    assert p.stdout.count("telemetry lg/lg-node-1/telemetry {") == received


# Smallest heap the frozen32 node ran in (tools/bench sim-heap: bisection over tools/sim
# runs, 6 s at 300 ms, shipped config.json): 50 KiB for the connector firmware before
# lgnode's node, 59-60 KiB for the node with availability, Home Assistant discovery and
# commands (its heap is fragmented when the first discovery message goes out); 64 KiB
# is that plus a margin: an ESP32 without PSRAM starts with 56 KiB and grows its heap
# to about 112 KiB as the application needs it.
FROZEN32_HEAP = "64k"


def test_sim_frozen32_firmware_runs_the_frozen_library_in_an_esp32_sized_heap(micropython32):
    # micropython32 (the session's plain build) skips or fails this as it does the
    # portable micropython32 items; the sim builds the frozen one from the same cache
    p = subprocess.run(SIM + ["--firmware", "frozen32", "--duration", "4", "--interval", "300",
                              "--heap", FROZEN32_HEAP], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "node: firmware: lgmqtt from .frozen/lgmqtt, boards from .frozen/boards" in p.stdout, p.stdout
    assert "Traceback" not in p.stdout and "MemoryError" not in p.stdout, p.stdout
    published, received, lost = _summary(p.stdout)
    assert published >= 3 and lost == 0 and received >= published, p.stdout


def test_frozen_boot_refuses_a_library_copy_that_shadows_the_frozen_one(micropython32, tmp_path):
    # as on a board, the filesystem ('') comes before .frozen: a stray lgmqtt/ there
    # would run instead of the firmware's, so the frozen32 runs would measure it
    from lghost import fw_unix, mpy

    shutil.copytree(os.path.join(ROOT, "lib", "lgmqtt"), str(tmp_path / "lgmqtt"))
    p = mpy.run(os.path.join(ROOT, "tools", "lghost", "frozen_boot.py"), binary=fw_unix.build(frozen=True),
                lib=False, cwd=str(tmp_path), timeout=60)
    assert p.returncode == 3, p.stdout + p.stderr
    assert p.stdout.strip() == "error FIRMWARE lgmqtt is not the frozen copy: lgmqtt", p.stdout


def test_sim_unreachable_broker_is_one_clear_line():
    p = subprocess.run(SIM + ["--broker", "mqtt://127.0.0.1:1", "--duration", "5"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "Traceback" not in p.stdout + p.stderr
    err = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(err) == 1 and "cannot connect" in err[0] and "127.0.0.1:1" in err[0], p.stderr


def test_sim_ctrl_c_stops_everything_it_started():
    p = subprocess.Popen(SIM + ["--interval", "200"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _ctrl_c(p)
    finally:
        if p.poll() is None:
            p.kill()


def _ctrl_c(p):
    deadline = time.monotonic() + 30
    lines = []
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        lines.append(line)
        if line.startswith("telemetry "):
            break
    board_fs = next(l.split("board fs ")[1].strip() for l in lines if "board fs " in l)
    port = int(next(l.rsplit(":", 1)[1] for l in lines if l.startswith("sim: started mosquitto")))
    assert _leftovers("firmware/main.py"), "the node should be running before Ctrl-C"
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert "summary: published=" in out, out + err
    time.sleep(0.5)
    assert _leftovers("firmware/main.py") == []
    assert not os.path.exists(board_fs)
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        raise AssertionError("the sim's broker still listens on %d" % port)
    except ConnectionRefusedError:
        pass


def test_sim_boot_loop_ends_in_safe_mode_without_a_traceback():
    # a heap too small for the connector: every boot dies of MemoryError; the firmware
    # reports it and resets, and after 5 such boots stays in safe mode (nothing started)
    p = subprocess.run(SIM + ["--duration", "60", "--heap", "96k"], capture_output=True, text=True, timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out
    assert "Traceback" not in out, out
    assert out.count("sim: node reset") == 5, out
    assert "node: safe-mode crashes=5 reason=MemoryError" in out, out
    assert "node is in safe mode" in p.stderr, out
