"""An emulated Raspberry Pi Pico for tests and benches: rp2emu.mjs (rp2040js, from the
rp2 kit in shared/rp2/) in a Node process, driven over its stdin.

    with Rp2Emu(firmware_bin) as pico:
        pico.boot()
        r = pico.exec("print(1 + 1)")            # raw REPL: r["out"] == "2\\n"
        r = pico.exec(code, cut={"after": "GO", "instructions": 123456})
        r["cut"]                                  # None, or how the power went off

The flash persists across boot() calls (a power cycle) for the life of the object.
rp2040js comes from the kit's node_modules when it holds it, else it is installed once
with `npm ci` (the kit's package-lock.json) into ${XDG_CACHE_HOME:-~/.cache}/lgmqtt/rp2-node.
"""
import json
import os
import shutil
import subprocess
import tempfile

from lghost.fw_rp2 import FirmwareError, Unavailable, apt_install, cache_dir, kit_dir

HERE = os.path.dirname(os.path.abspath(__file__))
_MARK = "@@RP2 "


class Rp2EmuError(Exception):
    pass


def node_modules(kit):
    """A node_modules folder holding rp2040js: the kit's, or one installed in the cache."""
    own = os.path.join(kit, "node_modules")
    if os.path.isfile(os.path.join(own, "rp2040js", "package.json")):
        return own
    dest = os.path.join(cache_dir(), "rp2-node")
    mods = os.path.join(dest, "node_modules")
    if os.path.isfile(os.path.join(mods, "rp2040js", "package.json")):
        return mods
    if not shutil.which("npm"):
        apt_install(["npm"])
    os.makedirs(dest, exist_ok=True)
    for n in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(kit, n), os.path.join(dest, n))
    p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=dest, capture_output=True, text=True)
    if p.returncode:
        raise FirmwareError("npm ci (rp2040js) failed in %s:\n%s" % (dest, (p.stdout + p.stderr)[-1500:]))
    return mods


def node_missing():
    """None when the emulator can run here, else one line saying what is missing."""
    if kit_dir() is None:
        return "no rp2 kit: shared/rp2/harness.mjs is neither beside the repo nor in /work ($LGMQTT_RP2_KIT)"
    return None


def ensure_node():
    """node on PATH (the Debian package nodejs, installed when missing), and rp2040js."""
    if not shutil.which("node"):
        apt_install(["nodejs"])
    return node_modules(kit_dir())


class Rp2Emu:
    def __init__(self, image, kit=None, timeout_s=300):
        kit = kit or kit_dir()
        if kit is None:
            raise Unavailable(node_missing())
        modules = ensure_node() if kit == kit_dir() else node_modules(kit)
        self.timeout_s = timeout_s
        self.log = tempfile.TemporaryFile()  # a file, not a pipe: rp2040js may log a lot
        self.p = subprocess.Popen(
            ["node", os.path.join(HERE, "rp2emu.mjs"), "--kit", kit, "--image", image,
             "--modules", modules],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, encoding="latin-1")

    def stderr_tail(self, n=2000):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-n:]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.p.poll() is None:
            try:
                self.request("quit")
                self.p.wait(10)
            except (Rp2EmuError, OSError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        self.log.close()

    def request(self, op, **kw):
        kw["op"] = op
        kw.setdefault("timeout_s", self.timeout_s)
        try:
            self.p.stdin.write(json.dumps(kw) + "\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            raise Rp2EmuError("the emulator exited: " + self.stderr_tail())
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise Rp2EmuError("the emulator exited (%s): %s" % (self.p.poll(), self.stderr_tail()))
            if line.startswith(_MARK):
                r = json.loads(line[len(_MARK):])
                if not r.pop("ok"):
                    raise Rp2EmuError("%s: %s; console tail %r" % (op, r.get("error"), r.get("tail")))
                return r

    def boot(self, **kw):
        """Power on (a new chip on the same flash); returns {console, emu_s, wall_s}."""
        return self.request("boot", **kw)

    def exec(self, code, cut=None, **kw):
        """Run code at the raw REPL: {out, err, cut, emu_s, wall_s, instructions, erases, programs, ...}."""
        if cut is not None:
            kw["cut"] = cut
        return self.request("exec", code=code, **kw)

    def run(self, code, **kw):
        """exec() that must succeed: returns stdout; raises with the board's traceback."""
        r = self.exec(code, **kw)
        if r["cut"] is not None or r["err"]:
            raise Rp2EmuError("on the board: %s%s" % (r["err"] or "", r["cut"] or ""))
        return r["out"]

    def adc(self, channel, value):
        self.request("adc", channel=channel, value=value)

    def gpio(self, pin):
        return self.request("gpio", pin=pin)
