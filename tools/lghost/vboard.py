"""A virtual board for mpremote: `micropython -i` behind a pty (socat). Its working
directory is the board's filesystem. The unix port has a raw REPL but no soft reset,
so mpremote needs `resume` with it."""
import os
import shutil
import subprocess
import tempfile
import time

from lghost.mpy import micropython_binary, stop


class VirtualBoard:
    def __init__(self, fs=None):
        self.fs = fs or tempfile.mkdtemp(prefix="lgmqtt-vboard-")
        self.dev = os.path.join(tempfile.mkdtemp(prefix="lgmqtt-vdev-"), "tty")
        self.proc = None

    def start(self, timeout=10):
        if not shutil.which("socat"):
            raise RuntimeError("socat not found: install the Debian package 'socat'")
        self.proc = subprocess.Popen(
            ["socat", "pty,link=%s,raw,echo=0" % self.dev,
             "exec:%s -i,pty,raw,echo=0,stderr,setsid" % micropython_binary()],
            cwd=self.fs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.dev):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("virtual board did not come up")
            time.sleep(0.05)
        time.sleep(0.3)  # let the REPL print its banner before mpremote talks to it
        return self

    def stop(self):
        stop(self.proc)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
