"""Board-like MicroPython builds of the unix port: 32-bit, single-precision floats.

The pip wheel's `micropython` is a 64-bit build with double floats (and runs its VM
inside a CPython process); boards (ESP32, RP2040) are 32-bit with single floats, and
their firmware has the library frozen in, so its bytecode costs no heap. This module
builds that from a MicroPython source tree or the trimmed archive in shared/micropython:

    mpy_cross()          mpy-cross of the same version (host binary; its .mpy files
                         use 31-bit small ints, as the 32-bit ports need)
    build()              the plain 32-bit unix port (asyncio, ssl... frozen, as usual)
    build(frozen=True)   the same with lib/manifest.py (lgmqtt) and boards/ frozen in
    build(frozen=True, tls_heap=True)
                         and TLS (mbedtls) allocating from the MicroPython heap, as on the
                         Pico W: gc.mem_alloc() then counts a TLS connection's buffers

Builds are cached under ${XDG_CACHE_HOME:-~/.cache}/lgmqtt/firmware, keyed by a hash of
the source, the build options and (frozen) the frozen files' contents, and reused while
those are unchanged. Work trees are kept per source, so a rebuild after a lib/ change
only recompiles the frozen content and relinks. `-X heapsize=N` works as usual.
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

from lghost.mpy import ROOT

ARCHIVE = os.path.join("shared", "micropython", "micropython-src.tar.xz")
# The options that make the unix port board-like. FFI and btree need submodules the
# trimmed archive does not have; 32-bit x86 is a cross target in this version.
MAKE_OPTS = (
    "VARIANT=standard",
    "MICROPY_PY_FFI=0",
    "MICROPY_PY_BTREE=0",
    "CROSS_COMPILE=i686-linux-gnu-",
    "CFLAGS_EXTRA=-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT",
)
# mbedtls's memory from the GC heap (m_tracked_calloc), as the bare-metal ports have it;
# its entropy then comes from mp_hal_get_random (getrandom() here).
TLS_HEAP_CFLAGS = "-DMICROPY_MBEDTLS_CONFIG_BARE_METAL=1 -DMICROPY_TRACKED_ALLOC=1"
# ROMFS (MicroPython 1.25+): `mpremote romfs deploy` writes .mpy files into a flash
# partition that the board memory-maps; their bytecode, strings and names are then used
# where they lie, not copied into the heap. The unix port's ROMFS is a 4-byte empty
# image; the romfs build memory-maps the file named by $MICROPY_ROMFS instead, as a
# board maps its partition (read-only), and mounts it at /rom at start-up.
ROMFS_CFLAGS = "-DMICROPY_VFS_ROM_IOCTL=1"
_ROMFS_MARK = "/* lgmqtt: ROMFS from $MICROPY_ROMFS */"
_ROMFS_IOCTL = _ROMFS_MARK + """
#include <fcntl.h>
#include <sys/mman.h>
static uint8_t romfs_buf[4] = { 0xd2, 0xcd, 0x31, 0x00 }; // empty ROMFS
static MP_DEFINE_MEMORYVIEW_OBJ(romfs_obj, 'B', 0, sizeof(romfs_buf), romfs_buf);
static bool romfs_mapped;

mp_obj_t mp_vfs_rom_ioctl(size_t n_args, const mp_obj_t *args) {
    switch (mp_obj_get_int(args[0])) {
        case MP_VFS_ROM_IOCTL_GET_NUMBER_OF_SEGMENTS:
            return MP_OBJ_NEW_SMALL_INT(1);
        case MP_VFS_ROM_IOCTL_GET_SEGMENT:
            if (!romfs_mapped) {
                romfs_mapped = true;
                const char *path = getenv("MICROPY_ROMFS");
                int fd = path ? open(path, O_RDONLY) : -1;
                if (fd >= 0) {
                    struct stat st;
                    if (fstat(fd, &st) == 0 && st.st_size > 0) {
                        void *m = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
                        if (m != MAP_FAILED) {
                            romfs_obj.items = m;
                            romfs_obj.len = st.st_size;
                        }
                    }
                    close(fd);
                }
            }
            return MP_OBJ_FROM_PTR(&romfs_obj);
    }
    return MP_OBJ_NEW_SMALL_INT(-MP_EINVAL);
}

"""
APT_PKGS = ("gcc-i686-linux-gnu", "libc6-dev-i386-cross", "libc6:i386")
JOBS = "-j2"
KEEP_FROZEN = 6  # cached frozen binaries kept (one per lib/ version); older ones go


class FirmwareError(Exception):
    """A build cannot be made here; the message says why and what to do."""


class NoSource(FirmwareError):
    """No MicroPython source on this machine."""


class NoToolchain(FirmwareError):
    """The cross compiler is missing and cannot be installed here."""


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "lgmqtt", "firmware")


def find_source(src=None):
    """The MicroPython source to build from: `src`, else $LGMQTT_MPY_SRC, else the
    archive in shared/ beside the repo, else /work/shared. Raises NoSource."""
    if src or os.environ.get("LGMQTT_MPY_SRC"):
        path = os.path.abspath(src or os.environ["LGMQTT_MPY_SRC"])
        if not os.path.exists(path):
            raise NoSource("MicroPython source %s does not exist" % path)
        if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "py", "mpconfig.h")):
            raise NoSource("%s is not a MicroPython source tree (no py/mpconfig.h)" % path)
        return path
    cands = [os.path.join(os.path.dirname(ROOT), ARCHIVE), os.path.join("/work", ARCHIVE)]
    for c in cands:
        if os.path.isfile(c):
            return c
    raise NoSource("no MicroPython source: none of %s exists (pass --src PATH or set LGMQTT_MPY_SRC)"
                   % ", ".join(cands))


def _skip_dir(name):
    return name == ".git" or name == "build" or name.startswith("build-")


def _hash_tree(h, top, rel_base=None):
    rel_base = rel_base or top
    for dirpath, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if not _skip_dir(d) and d != "__pycache__")
        for n in sorted(files):
            p = os.path.join(dirpath, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            h.update(os.path.relpath(p, rel_base).encode() + b"\0")
            with open(p, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())


def source_key(path):
    h = hashlib.sha256()
    if os.path.isdir(path):
        _hash_tree(h, path)
    else:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def _say(msg):
    print("firmware: " + msg, file=sys.stderr, flush=True)


# --- toolchain -------------------------------------------------------------------------

def _missing_packages():
    missing = []
    if not shutil.which("i686-linux-gnu-gcc"):
        missing.append("gcc-i686-linux-gnu")
    if not os.path.exists("/usr/i686-linux-gnu/lib/crt1.o"):
        missing.append("libc6-dev-i386-cross")
    if not os.path.exists("/lib/ld-linux.so.2"):  # the 32-bit loader: runs the binary
        missing.append("libc6:i386")
    for tool, pkg in (("make", "make"), ("gcc", "gcc")):  # mpy-cross is a host binary
        if not shutil.which(tool):
            missing.append(pkg)
    return missing


def ensure_toolchain():
    """Install the 32-bit cross compiler and loader with apt-get when they are missing
    (as root, or with passwordless sudo); otherwise say which packages to install."""
    missing = _missing_packages()
    if not missing:
        return
    how = "dpkg --add-architecture i386 && apt-get update && apt-get install -y " + " ".join(missing)
    sudo = []
    if os.geteuid() != 0:
        ok = shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0
        if not ok:
            raise NoToolchain("missing Debian/Ubuntu packages: %s; install them with: sudo sh -c '%s'"
                                % (" ".join(missing), how))
        sudo = ["sudo", "-n"]
    log = os.path.join(os.environ.get("TMPDIR", "/tmp"), "lgmqtt-apt-i386.log")
    _say("installing %s (apt-get, log %s)" % (" ".join(missing), log))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps = []
    if "libc6:i386" in missing:
        arches = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True).stdout
        if "i386" not in arches.split():
            steps.append(sudo + ["dpkg", "--add-architecture", "i386"])
    # another apt-get (a second tool, a helper) may hold the dpkg lock for a while
    apt = sudo + ["apt-get", "-o", "DPkg::Lock::Timeout=600"]
    steps += [apt + ["update", "-qq"], apt + ["install", "-y", "-qq"] + missing]
    with open(log, "ab") as f:
        for cmd in steps:
            if subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env).returncode:
                raise FirmwareError("apt-get failed (log %s); install by hand: %s" % (log, how))
    still = _missing_packages()
    if still:
        raise FirmwareError("still missing after apt-get: %s (log %s)" % (" ".join(still), log))


# --- source trees and builds -----------------------------------------------------------

class _Lock:
    """One build at a time per cache (tests, sim and bench may start together)."""

    def __init__(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.f = open(path, "w")

    def __enter__(self):
        fcntl.flock(self.f, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _work_tree(src, skey):
    """A writable copy of the source in the cache (builds never touch `src`)."""
    top = os.path.join(cache_dir(), "src-" + skey)
    tree = os.path.join(top, "micropython")
    if os.path.exists(os.path.join(top, ".ready")):
        return tree
    shutil.rmtree(top, ignore_errors=True)
    os.makedirs(top)
    if os.path.isdir(src):
        shutil.copytree(src, tree, symlinks=True, ignore=lambda d, names: [n for n in names if _skip_dir(n)])
    else:
        with tarfile.open(src) as t:
            names = t.getnames()
            if not names or not all(n == "micropython" or n.startswith("micropython/") for n in names):
                raise FirmwareError("%s: expected an archive of one folder named micropython/" % src)
            if hasattr(tarfile, "data_filter"):
                t.extractall(top, filter="tar")
            else:
                t.extractall(top)
    if not os.path.isfile(os.path.join(tree, "py", "mpconfig.h")):
        raise FirmwareError("%s holds no MicroPython source tree" % src)
    open(os.path.join(top, ".ready"), "w").close()
    return tree


def _patch_romfs(tree):
    """The unix port's ROMFS ioctl (compiled only with MICROPY_VFS_ROM_IOCTL=1, so the
    other builds are unchanged) made to map $MICROPY_ROMFS; idempotent."""
    main = os.path.join(tree, "ports", "unix", "main.c")
    with open(main) as f:
        s = f.read()
    if _ROMFS_IOCTL in s:
        return
    # the port's own block, or an older version of ours (it starts at the mark)
    a = s.find(_ROMFS_MARK) if _ROMFS_MARK in s else s.find("static uint8_t romfs_buf[4]")
    b = s.find("#endif", s.find("mp_obj_t mp_vfs_rom_ioctl"))
    common = os.path.join(tree, "ports", "unix", "variants", "mpconfigvariant_common.h")
    with open(common) as f:
        c = f.read()
    line = "#define MICROPY_VFS_ROM_IOCTL          (0)\n"
    guarded = "#ifndef MICROPY_VFS_ROM_IOCTL\n" + line + "#endif\n"
    if a < 0 or b < 0 or line not in c:
        raise FirmwareError("this MicroPython source has no unix-port ROMFS ioctl to extend (1.25 or later needed)")
    if guarded not in c:
        with open(common, "w") as f:
            f.write(c.replace(line, guarded))
    with open(main, "w") as f:
        f.write(s[:a] + _ROMFS_IOCTL + s[b:])


def romfs_image(folder, out):
    """`mpremote romfs build` of `folder` (its files as they are: .mpy already compiled)
    into the image file `out`, which a romfs build maps at /rom; returns out."""
    subprocess.run([sys.executable, "-m", "mpremote", "romfs", "--no-mpy", "-o", out, "build", folder],
                   check=True, stdout=subprocess.DEVNULL)
    return out


def _make(args, log):
    cmd = ["nice", "make", JOBS] + list(args)
    with open(log, "ab") as f:
        f.write(("\n$ %s\n" % " ".join(cmd)).encode())
        f.flush()
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if p.returncode:
        with open(log, "rb") as f:
            tail = f.read()[-2500:].decode(errors="replace")
        raise FirmwareError("build failed (make exit %d), full log %s:\n%s" % (p.returncode, log, tail))


def _install(built, dest_dir, meta):
    """Copy a built binary into the cache atomically, with what it was built from."""
    tmp = dest_dir + ".tmp%d" % os.getpid()
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    name = os.path.basename(built)
    shutil.copy2(built, os.path.join(tmp, name))
    with open(os.path.join(tmp, "build.json"), "w") as f:
        json.dump(meta, f, indent=1)
    shutil.rmtree(dest_dir, ignore_errors=True)
    os.rename(tmp, dest_dir)
    return os.path.join(dest_dir, name)


def _key(*parts):
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def mpy_cross(src=None, quiet=False):
    """Path of mpy-cross built from the source (cached)."""
    src = find_source(src)
    skey = source_key(src)
    dest = os.path.join(cache_dir(), "bin", "mpy-cross-" + _key(skey, "mpy-cross"))
    exe = os.path.join(dest, "mpy-cross")
    if os.access(exe, os.X_OK):
        return exe
    with _Lock(os.path.join(cache_dir(), "lock")):
        if os.access(exe, os.X_OK):
            return exe
        ensure_toolchain()
        return _build_mpy_cross(src, skey, dest, quiet)


def _build_mpy_cross(src, skey, dest, quiet):
    tree = _work_tree(src, skey)
    log = os.path.join(os.path.dirname(tree), "build.log")
    t0 = time.monotonic()
    quiet or _say("building mpy-cross from %s (log %s)" % (src, log))
    _make(["-C", os.path.join(tree, "mpy-cross")], log)
    quiet or _say("mpy-cross built in %.0f s" % (time.monotonic() - t0))
    return _install(os.path.join(tree, "mpy-cross", "build", "mpy-cross"), dest,
                    {"source": src, "source_key": skey, "seconds": round(time.monotonic() - t0, 1)})


def frozen_sources(extra=(), root=ROOT):
    """(manifest lines, hash) of what a frozen build puts in: lib/manifest.py (lgmqtt),
    the boards/ package (the firmware imports it), and `extra` (name, dir) packages."""
    h = hashlib.sha256()
    lib = os.path.join(root, "lib")
    _hash_tree(h, lib, root)
    _hash_tree(h, os.path.join(root, "boards"), root)
    lines = [
        'include("$(PORT_DIR)/variants/standard/manifest.py")',
        "include(%r)" % os.path.join(lib, "manifest.py"),
        "package('boards', base_path=%r)" % root,
    ]
    for name, path in extra:
        path = os.path.abspath(path)
        _hash_tree(h, path, os.path.dirname(path))
        if os.path.isdir(path):
            lines.append("package(%r, base_path=%r)" % (name, os.path.dirname(path)))
        else:
            lines.append("module(%r, base_path=%r)" % (os.path.basename(path), os.path.dirname(path)))
    return lines, h.hexdigest()[:16]


def build(frozen=False, src=None, extra=(), quiet=False, tls_heap=False, romfs=False):
    """Path of the 32-bit unix-port binary, plain or with lgmqtt (+ boards, + `extra`
    packages: ((name, dir), ...)) frozen in; tls_heap: TLS buffers in the GC heap; romfs:
    the ROMFS in $MICROPY_ROMFS mounted at /rom (see ROMFS_CFLAGS). Built on first use,
    then cached."""
    src = find_source(src)
    skey = source_key(src)
    manifest, fkey = frozen_sources(extra) if frozen else (None, None)
    kind = ("frozen32" if frozen else "unix32") + ("tls" if tls_heap else "") + ("romfs" if romfs else "")
    cflags = (" " + TLS_HEAP_CFLAGS if tls_heap else "") + (" " + ROMFS_CFLAGS if romfs else "")
    make_opts = [o + cflags if o.startswith("CFLAGS_EXTRA=") else o for o in MAKE_OPTS]
    parts = (skey, make_opts, manifest, fkey) + ((_ROMFS_IOCTL,) if romfs else ())  # the patch is source too
    dest = os.path.join(cache_dir(), "bin", "%s-%s" % (kind, _key(*parts)))
    exe = os.path.join(dest, "micropython")
    if os.access(exe, os.X_OK):
        return exe
    with _Lock(os.path.join(cache_dir(), "lock")):
        if os.access(exe, os.X_OK):
            return exe
        ensure_toolchain()
        mpyc = os.path.join(cache_dir(), "bin", "mpy-cross-" + _key(skey, "mpy-cross"))
        if not os.access(os.path.join(mpyc, "mpy-cross"), os.X_OK):
            _build_mpy_cross(src, skey, mpyc, quiet)
        tree = _work_tree(src, skey)
        log = os.path.join(os.path.dirname(tree), "build.log")
        # one build folder per kind: a lib/ change recompiles only the frozen content
        bdir = "build-32" + ("-frozen" if frozen else "") + ("-tls" if tls_heap else "") + ("-romfs" if romfs else "")
        if romfs:
            _patch_romfs(tree)
        opts = make_opts + ["BUILD=" + bdir]
        if frozen:
            # MicroPython's makemanifest reuses a compiled module when its .mpy is newer
            # than the source, by module path alone: the shared build folder would hand
            # this tree another tree's bytecode for a file older than that tree's build
            # (seen: a copy with preserved mtimes got a firmware without
            # lgmqtt.configfile). Compile the frozen modules afresh (a few seconds).
            shutil.rmtree(os.path.join(tree, "ports", "unix", bdir, "frozen_mpy"), ignore_errors=True)
            mf = os.path.join(os.path.dirname(tree), "manifest-frozen32.py")
            with open(mf, "w") as f:
                f.write("# written by tools/lghost/fw_unix.py\n" + "\n".join(manifest) + "\n")
            opts.append("FROZEN_MANIFEST=" + mf)
        t0 = time.monotonic()
        quiet or _say("building the 32-bit unix port%s (about a minute; log %s)"
                      % (" with lgmqtt frozen in" if frozen else "", log))
        _make(["-C", os.path.join(tree, "ports", "unix")] + opts, log)
        secs = round(time.monotonic() - t0, 1)
        quiet or _say("%s built in %.0f s" % (kind, secs))
        built = os.path.join(tree, "ports", "unix", bdir, "micropython")
        path = _install(built, dest, {"source": src, "source_key": skey, "options": opts, "frozen_key": fkey,
                                      "manifest": manifest, "seconds": secs})
        if frozen:
            _prune(os.path.join(cache_dir(), "bin"), kind + "-", KEEP_FROZEN)
        return path


def _prune(folder, prefix, keep):
    old = sorted((os.path.getmtime(os.path.join(folder, n)), n) for n in os.listdir(folder)
                 if n.startswith(prefix) and ".tmp" not in n)
    for _, n in old[:-keep]:
        shutil.rmtree(os.path.join(folder, n), ignore_errors=True)


def check(exe):
    """The build's own word on what it is: (maxsize, repr(1/3)), e.g. (2147483647, '0.33333334')."""
    p = subprocess.run([exe, "-c", "import sys; print(sys.maxsize, repr(1.0/3))"],
                       capture_output=True, text=True, timeout=30)
    if p.returncode:
        raise FirmwareError("%s does not run: %s" % (exe, (p.stdout + p.stderr).strip()[-500:]))
    size, third = p.stdout.split()
    return int(size), third
