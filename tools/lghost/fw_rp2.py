"""Raspberry Pi Pico firmware (MicroPython's rp2 port) with lgmqtt and a board profile
frozen in, built from the rp2 kit's trimmed source archive or a user's own tree.

    tools/firmware --port rp2 --board RPI_PICO [--src ARCHIVE_OR_TREE] [--plain]

prints the path of firmware.bin (progress on stderr); firmware.uf2 beside it is the
same image for a Pico's BOOTSEL drive, firmware.elf for a debugger or picotool. Frozen in: the port's default
modules, lib/manifest.py (lgmqtt) and the board's profile from boards/ (RPI_PICO:
boards.pico; RPI_PICO_W: boards.picow, which needs pico and _wifi). --plain builds the
port without them (a baseline for memory figures).

Source: --src, else $LGMQTT_RP2_SRC, else shared/rp2/rp2-src.tar.xz beside the repo,
else /work/shared/rp2/rp2-src.tar.xz. An archive holds one folder `micropython/`
(extracted once into the cache); a tree is a MicroPython checkout with its submodules
(lib/pico-sdk, lib/tinyusb, ...; or PICO_SDK_PATH set), built out of tree (mpy-cross
is built inside it, as `make` there would). Builds are cached under
${XDG_CACHE_HOME:-~/.cache}/lgmqtt/rp2-*, keyed on a hash of the source, the board,
the manifest, the frozen files and the compiler version, and reused while those are
unchanged; the CMake build folder is kept per source and board, so a lib/ change only
recompiles the frozen modules and relinks. The toolchain (Debian's gcc-arm-none-eabi)
is installed with apt-get when missing, as tools/_bootstrap.sh does for its packages.
"""
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time

from lghost.mpy import LIB, ROOT

KIT = os.path.join("shared", "rp2")
ARCHIVE = "rp2-src.tar.xz"
# board -> modules of boards/ frozen with it (the firmware imports boards.<profile>)
PROFILES = {
    "RPI_PICO": ("__init__.py", "pico.py"),
    "RPI_PICO_W": ("__init__.py", "pico.py", "picow.py", "_wifi.py"),
}
KEEP = 6  # cached firmware images kept per board (one per lib/ version); older ones go


class FirmwareError(Exception):
    """A firmware build failed; the message says why and where the log is."""


class Unavailable(FirmwareError):
    """This machine cannot build it (no source, packages it cannot install): exit 3."""


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lgmqtt")


def kit_dir():
    """The rp2 kit (harness.mjs, bootrom.mjs, package-lock.json): $LGMQTT_RP2_KIT, else
    shared/rp2 beside the repo, else /work/shared/rp2; None when there is none."""
    env = os.environ.get("LGMQTT_RP2_KIT")
    for c in (env,) if env else (os.path.join(os.path.dirname(ROOT), KIT), os.path.join("/work", KIT)):
        if os.path.isfile(os.path.join(c, "harness.mjs")):
            return c
    return None


def find_source(src=None):
    """The archive or tree to build from. Raises FirmwareError naming what was tried."""
    given = src or os.environ.get("LGMQTT_RP2_SRC")
    if given:
        path = os.path.abspath(given)
        if not os.path.exists(path):
            raise Unavailable("rp2 source %s does not exist" % path)
        if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "ports", "rp2", "CMakeLists.txt")):
            raise Unavailable("%s is not a MicroPython tree with the rp2 port (no ports/rp2/CMakeLists.txt)" % path)
        return path
    cands = [os.path.join(os.path.dirname(ROOT), KIT, ARCHIVE), os.path.join("/work", KIT, ARCHIVE)]
    for c in cands:
        if os.path.isfile(c):
            return c
    raise Unavailable("no rp2 source: none of %s exists (pass --src ARCHIVE_OR_TREE or set LGMQTT_RP2_SRC)"
                        % ", ".join(cands))


def _say(msg):
    print("firmware: " + msg, file=sys.stderr, flush=True)


def _hash_tree(h, top, rel_base, names=None):
    for dirpath, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in (".git", "__pycache__") and not d.startswith("build"))
        for n in sorted(files):
            if names is not None and n not in names:
                continue
            p = os.path.join(dirpath, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            h.update(os.path.relpath(p, rel_base).encode() + b"\0")
            with open(p, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        if names is not None:
            break  # boards/: only the listed files, no subfolders


def source_key(path):
    h = hashlib.sha256()
    if os.path.isdir(path):
        _hash_tree(h, path, path)  # a user tree: its content, submodules included
    else:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


# --- toolchain -------------------------------------------------------------------------

def _missing_packages(need_xz):
    def lib_found(tool, name):  # the compiler prints the bare name when it has no such file
        return bool(shutil.which(tool)) and subprocess.run(
            [tool, "-print-file-name=" + name], capture_output=True, text=True).stdout.strip() != name

    missing = []
    if not shutil.which("arm-none-eabi-gcc"):
        missing.append("gcc-arm-none-eabi")
    if not lib_found("arm-none-eabi-gcc", "libc.a"):
        missing.append("libnewlib-arm-none-eabi")
    if not lib_found("arm-none-eabi-g++", "libstdc++.a"):
        missing.append("libstdc++-arm-none-eabi-newlib")
    if not shutil.which("cmake"):
        missing.append("cmake")
    if not (shutil.which("make") and shutil.which("gcc") and shutil.which("g++")):
        missing.append("build-essential")  # mpy-cross and pioasm are host programs
    if need_xz and not shutil.which("xz"):
        missing.append("xz-utils")
    return missing


def ensure_toolchain(need_xz=True):
    """apt-get the packages a build needs when they are missing."""
    missing = _missing_packages(need_xz)
    if missing:
        apt_install(missing)
        still = _missing_packages(need_xz)
        if still:
            raise FirmwareError("still missing after apt-get: %s" % " ".join(still))


def apt_install(missing):
    """apt-get install `missing` (as root or with passwordless sudo, as
    tools/_bootstrap.sh does); otherwise raise Unavailable naming the packages."""
    how = "apt-get update && apt-get install -y " + " ".join(missing)
    sudo = []
    if os.geteuid() != 0:
        ok = shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
        if not ok:
            raise Unavailable("missing Debian/Ubuntu packages: %s; install them with: sudo sh -c '%s'"
                              % (" ".join(missing), how))
        sudo = ["sudo", "-n"]
    log = os.path.join(os.environ.get("TMPDIR", "/tmp"), "lgmqtt-apt-rp2.log")
    _say("installing %s (apt-get, log %s)" % (" ".join(missing), log))
    apt = sudo + ["apt-get", "-o", "DPkg::Lock::Timeout=600"]  # another apt-get may hold the lock
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with open(log, "ab") as f:
        for cmd in (apt + ["update", "-qq"], apt + ["install", "-y", "-qq"] + missing):
            if subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode:
                raise FirmwareError("apt-get install %s failed (log %s); install by hand: %s"
                                    % (" ".join(missing), log, how))


def _compiler_version():
    p = subprocess.run(["arm-none-eabi-gcc", "--version"], capture_output=True, text=True)
    return p.stdout.split("\n")[0]


# --- builds ----------------------------------------------------------------------------

class _Lock:
    """One build at a time per cache (test sessions and benches may start together)."""

    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.f = open(path, "w")

    def __enter__(self):
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def frozen_manifest(board):
    """(manifest text, hash of the frozen files) for `board`."""
    if board not in PROFILES:
        raise FirmwareError("no board profile for %s (known: %s)" % (board, ", ".join(sorted(PROFILES))))
    files = PROFILES[board]
    h = hashlib.sha256()
    _hash_tree(h, LIB, ROOT)
    _hash_tree(h, os.path.join(ROOT, "boards"), ROOT, names=files)
    text = "\n".join((
        "# written by tools/lghost/fw_rp2.py",
        'include("$(PORT_DIR)/boards/manifest.py")',  # the port's defaults stay (asyncio...)
        "include(%r)" % os.path.join(LIB, "manifest.py"),
        "package('boards', files=%r, base_path=%r)" % (list(files), ROOT),
    )) + "\n"
    return text, h.hexdigest()[:16]


def _tree(src, skey):
    """The MicroPython tree to build: a user's tree as is, an archive extracted once."""
    if os.path.isdir(src):
        return src
    top = os.path.join(cache_dir(), "rp2-src-" + skey)
    tree = os.path.join(top, "micropython")
    if os.path.exists(os.path.join(top, ".ready")):
        return tree
    shutil.rmtree(top, ignore_errors=True)
    os.makedirs(top)
    _say("extracting %s" % src)
    with tarfile.open(src) as t:
        if not all(n == "micropython" or n.startswith("micropython/") for n in t.getnames()):
            raise FirmwareError("%s: expected an archive of one folder named micropython/" % src)
        if hasattr(tarfile, "data_filter"):
            t.extractall(top, filter="tar")
        else:
            t.extractall(top)
    if not os.path.isfile(os.path.join(tree, "ports", "rp2", "CMakeLists.txt")):
        raise FirmwareError("%s holds no rp2 port (ports/rp2/CMakeLists.txt)" % src)
    open(os.path.join(top, ".ready"), "w").close()
    return tree


def _run(cmd, log, what):
    with open(log, "ab") as f:
        f.write(("\n$ %s\n" % " ".join(cmd)).encode())
        f.flush()
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if p.returncode:
        with open(log, "rb") as f:
            tail = f.read()[-2500:].decode(errors="replace")
        raise FirmwareError("%s failed (exit %d), full log %s:\n%s" % (what, p.returncode, log, tail))


def _flash_line(log):
    with open(log, errors="replace") as f:
        for line in f:
            if " FLASH:" in line:
                return " ".join(line.split())
    return ""


def build(board="RPI_PICO", src=None, plain=False, quiet=False):
    """Path of firmware.bin for `board` (frozen unless plain). Built on first use,
    then cached; its build.json (next to it) says what it was built from."""
    src = find_source(src)
    skey = source_key(src)
    if plain:
        manifest, fkey = None, None
    else:
        manifest, fkey = frozen_manifest(board)
    ensure_toolchain(need_xz=not os.path.isdir(src))
    cc = _compiler_version()
    # the manifest without the checkout's path: a fresh clone of the same sources
    # (CI) reuses the image; the frozen files' content is in fkey
    mkey = manifest.replace(ROOT, "<repo>") if manifest else None
    key = hashlib.sha256(json.dumps((skey, board, mkey, fkey, cc)).encode()).hexdigest()[:16]
    kind = "plain" if plain else "frozen"
    dest = os.path.join(cache_dir(), "rp2-fw", "%s-%s-%s" % (board, kind, key))
    fw = os.path.join(dest, "firmware.bin")
    if os.path.isfile(os.path.join(dest, "firmware.uf2")):
        return fw
    with _Lock(os.path.join(cache_dir(), "rp2.lock")):
        if os.path.isfile(fw):
            if not os.path.isfile(os.path.join(dest, "firmware.uf2")):  # cached by an older tool
                uf2(fw, os.path.join(dest, "firmware.uf2"))
            return fw
        tree = _tree(src, skey)
        if not os.path.isdir(os.path.join(tree, "ports", "rp2", "boards", board)):
            raise Unavailable("board %s is not in %s (the shared kit has RPI_PICO only)" % (board, src))
        bdir = os.path.join(cache_dir(), "rp2-build-%s-%s-%s" % (skey, board, kind))
        os.makedirs(bdir, exist_ok=True)
        log = bdir + ".log"
        open(log, "w").close()
        t0 = time.monotonic()
        quiet or _say("building %s %s firmware from %s (a few minutes cold; log %s)" % (board, kind, src, log))
        _run(["nice", "make", "-j%d" % (os.cpu_count() or 2), "-C", os.path.join(tree, "mpy-cross")], log,
             "mpy-cross build")
        opts = ["-DPICO_BUILD_DOCS=0", "-DMICROPY_BOARD=" + board,
                "-DMICROPY_BOARD_DIR=" + os.path.join(tree, "ports", "rp2", "boards", board),
                "-DPICO_NO_PICOTOOL=1"]  # picotool is fetched from GitHub: no .uf2 offline
        if manifest:
            mf = bdir + ".manifest.py"
            with open(mf, "w") as f:
                f.write(manifest)
            opts.append("-DMICROPY_FROZEN_MANIFEST=" + mf)
        _run(["cmake", "-S", os.path.join(tree, "ports", "rp2"), "-B", bdir] + opts, log, "cmake configure")
        _run(["nice", "make", "-j%d" % (os.cpu_count() or 2), "-C", bdir], log, "firmware build")
        secs = round(time.monotonic() - t0, 1)
        flash = _flash_line(log) or "firmware.bin %d bytes" % os.path.getsize(os.path.join(bdir, "firmware.bin"))
        quiet or _say("%s %s built in %.0f s: %s" % (board, kind, secs, flash))
        tmp = dest + ".tmp%d" % os.getpid()
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        for n in ("firmware.bin", "firmware.elf", "firmware.elf.map"):
            shutil.copy2(os.path.join(bdir, n), os.path.join(tmp, n))
        uf2(os.path.join(tmp, "firmware.bin"), os.path.join(tmp, "firmware.uf2"))
        with open(os.path.join(tmp, "build.json"), "w") as f:
            json.dump({"board": board, "kind": kind, "source": src, "source_key": skey, "frozen_key": fkey,
                       "mpy_cross": os.path.join(tree, "mpy-cross", "build", "mpy-cross"),
                       "compiler": cc, "seconds": secs, "flash": flash, "manifest": manifest}, f, indent=1)
        shutil.rmtree(dest, ignore_errors=True)
        os.rename(tmp, dest)
        _prune(os.path.dirname(dest), "%s-%s-" % (board, kind), KEEP)
        return fw


def uf2(bin_path, out_path, base=0x10000000, family=0xE48BFF56):
    """firmware.bin -> firmware.uf2, what a Pico in BOOTSEL mode takes as a file
    (picotool, which the port's build uses for this, is not available offline).
    UF2: 512-byte blocks of 256 payload bytes each; family 0xE48BFF56 is the RP2040."""
    import struct

    with open(bin_path, "rb") as f:
        data = f.read()
    n = (len(data) + 255) // 256
    with open(out_path, "wb") as f:
        for i in range(n):
            chunk = data[i * 256:(i + 1) * 256]
            f.write(struct.pack("<8I", 0x0A324655, 0x9E5D5157, 0x2000, base + i * 256, 256, i, n, family)
                    + chunk.ljust(476, b"\0") + struct.pack("<I", 0x0AB16F30))
    return out_path


def _prune(folder, prefix, keep):
    old = sorted((os.path.getmtime(os.path.join(folder, n)), n) for n in os.listdir(folder)
                 if n.startswith(prefix) and ".tmp" not in n)
    for _, n in old[:-keep]:
        shutil.rmtree(os.path.join(folder, n), ignore_errors=True)


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(prog="tools/firmware --port rp2", description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", default="rp2", choices=("rp2",))
    ap.add_argument("--board", default="RPI_PICO", choices=sorted(PROFILES))
    ap.add_argument("--src", help="rp2 source: a .tar.xz of micropython/ or a MicroPython tree")
    ap.add_argument("--plain", action="store_true", help="no lgmqtt, no board profile (a baseline)")
    a = ap.parse_args(argv)
    try:
        print(build(a.board, a.src, a.plain))
    except FirmwareError as e:
        print("firmware: " + str(e), file=sys.stderr)
        return 3 if isinstance(e, Unavailable) else 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
