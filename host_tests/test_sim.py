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


# From source the on-device compiler fragments the heap (its peaks need room beyond the
# steady state); boards run .mpy or frozen code. Heaps re-measured by the memory work.
@pytest.mark.parametrize("build", [["--heap", "448k"], ["--heap", "240k", "--mpy"]], ids=["source", "mpy"])
def test_sim_publishes_and_loses_nothing_in_a_board_sized_heap(build):
    p = subprocess.run(SIM + ["--duration", "4", "--interval", "300"] + build,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    published, received, lost = _summary(p.stdout)
    assert published >= 3 and lost == 0 and received >= published, p.stdout
    assert p.stdout.count("telemetry lg/lg-node-1/telemetry {") == received


# Smallest heap the frozen32 node ran in (bisection, 4 s at 300 ms): 44 KiB; 56 KiB is
# that plus a margin, and happens to be the heap an ESP32 without PSRAM starts with.
FROZEN32_HEAP = "56k"


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
