"""The peers lgmqtt is measured against, fetched from their real sources into a cache
at bench time (build/bench/peers/; nothing of theirs is committed):

- umqtt.simple 1.8.0 and umqtt.robust 1.0.3: micropython-lib inside the MicroPython
  source archive in shared/micropython/ (the versions ESP32/ESP8266 firmware freezes in);
- mqtt_as 0.8.3: shared/baselines/mqtt_as/ (it imports machine.unique_id and network.WLAN:
  tools/benchmarks/stubs/ provides unix-port stand-ins, on its path only);
- aiomqttc, chumicro-mqtt (+ chumicro-sockets, chumicro-timing): `pip download --no-deps`
  of pinned versions from pip's configured index, wheels unpacked.

fetch(cache) -> {source name: (path or None, version text, reason when unavailable)}.
A source that cannot be had is not fatal: its peers are reported with the reason.
"""
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STUBS = os.path.join(HERE, "stubs")
MP_DIR = os.path.join(HERE, "mp")

ARCHIVE_MEMBERS = {
    "simple": "micropython/lib/micropython-lib/micropython/umqtt.simple/",
    "robust": "micropython/lib/micropython-lib/micropython/umqtt.robust/",
}
# Pinned so a report names what it measured; bump deliberately.
PYPI = (("aiomqttc", "1.0.7", ("aiomqttc.py",)),
        ("chumicro-mqtt", "0.30.3", ("chumicro_mqtt",)),
        ("chumicro-sockets", "0.21.3", ("chumicro_sockets",)),
        ("chumicro-timing", "0.8.4", ("chumicro_timing",)))


class Peer:
    """One column of the comparison: `module` is its adapter in tools/benchmarks/mp/
    (peer_<module>.py, run by mp/driver.py), `arg` a variant the adapter understands,
    `source` the fetched code it needs on MICROPYPATH, `group` the driver process it
    shares (the raw ceilings run in lgmqtt's process, as the issue asks), `extra_path`
    folders of adapters kept elsewhere (the tests' fake peers)."""

    def __init__(self, name, module, arg="", source=None, group=None, cases=None, stubs=False, extra_path=(),
                 heap=True, note=""):
        self.name, self.module, self.arg, self.source = name, module, arg, source
        self.group = group or name
        self.cases = cases  # None: every throughput case
        self.stubs = stubs
        self.extra_path = list(extra_path)
        self.heap = heap  # in the heap-per-peer table (not the ceilings, nor a second umqtt)
        self.note = note  # how it is driven, for the report's reader


CONNECTOR_CASES = ("qos1_serial", "qos1_window", "qos2_serial")
PEERS = (
    Peer("lgmqtt", "lgmqtt", group="lgmqtt",
         note="lgmqtt.net.client.Client alone; windowed: 20 producers awaiting publish(), maxInflight 20."),
    Peer("raw asyncio", "raw", group="lgmqtt", heap=False,
         note="the ceiling, in lgmqtt's process: hand-written MQTT over asyncio streams, prebuilt packets, "
              "TCP_NODELAY; lock-step (serial) or a reader task counting acks (windowed)."),
    Peer("umqtt.simple", "umqtt", "simple", source="umqtt",
         note="as shipped: blocking socket with Nagle on; a PUBLISH goes out in four writes, then it blocks "
              "for the PUBACK, so serial QoS 1 waits on Nagle and delayed ACKs whatever the broker does."),
    Peer("umqtt.robust", "umqtt", "robust", source="umqtt",
         note="umqtt.simple with reconnect on OSError. Its QoS 0 stream is about 10x slower than umqtt.simple's "
              "here, CPU-bound in the interpreter, when every publish passes the same payload object (as this "
              "bench does for every peer); with a fresh bytes object per call it runs as fast as umqtt.simple. "
              "Seen on the pip build and a 32-bit build alike; cause not found."),
    Peer("umqtt.simple + app TCP_NODELAY", "umqtt", "simple-nodelay", source="umqtt",
         cases=("qos0", "qos1_serial"), heap=False,
         note="umqtt.simple with TCP_NODELAY set by the application after connect()."),
    Peer("mqtt_as", "mqtt_as", source="mqtt_as", stubs=True,
         note="stub machine/network for the unix port; publish() checks for its PUBACK every 100 ms."),
    Peer("aiomqttc", "aiomqttc", source="pypi", stubs=True,
         note="stub machine.RTC for its log lines; QoS 1 publish() polls for its PUBACK every 100 ms and "
              "logs each one on stdout."),
    Peer("chumicro-mqtt", "chumicro", source="pypi",
         note="tick loop: handle() back to back with nothing else in the loop (never sleeps); publish() "
              "queues at most 20 packets."),
    Peer("lgmqtt connector (RAM store)", "connector", "ram", group="connector", cases=CONNECTOR_CASES,
         heap=False, note="Connector.execute('mqtt:publish', 'write') through the outbox, history in RAM "
                          "(64 KB); a QoS 1/2 write returns after the broker's ack."),
    Peer("lgmqtt connector (file store)", "connector", "file", group="connector", cases=CONNECTOR_CASES,
         heap=False, note="the same with config.history.path: segment files under /tmp (host disk)."),
)


def shared_dir():
    """shared/ beside the repository (CI lays it there), or LGMQTT_SHARED."""
    for cand in (os.environ.get("LGMQTT_SHARED"), os.path.join(os.path.dirname(ROOT), "shared"), "/work/shared"):
        if cand and os.path.isdir(cand):
            return cand
    return None


def _version_in(path, pattern):
    with open(path) as f:
        m = re.search(pattern, f.read())
    return m.group(1) if m else "?"


def fetch_umqtt(cache):
    shared = shared_dir()
    archive = shared and os.path.join(shared, "micropython", "micropython-src.tar.xz")
    if not archive or not os.path.exists(archive):
        return None, None, "MicroPython source archive not found (shared/micropython/micropython-src.tar.xz)"
    dest = os.path.join(cache, "umqtt")
    pkg = os.path.join(dest, "umqtt")
    if not os.path.exists(os.path.join(pkg, "robust.py")):
        shutil.rmtree(dest, ignore_errors=True)
        os.makedirs(pkg)
        with tarfile.open(archive, "r:xz") as t:
            for variant, prefix in ARCHIVE_MEMBERS.items():
                for name, out in (("umqtt/%s.py" % variant, os.path.join(pkg, variant + ".py")),
                                  ("manifest.py", os.path.join(dest, variant + "-manifest.py"))):
                    with t.extractfile(prefix + name) as src, open(out, "wb") as f:
                        f.write(src.read())
    versions = {v: _version_in(os.path.join(dest, v + "-manifest.py"), r'version="([^"]+)"') for v in ARCHIVE_MEMBERS}
    return dest, "simple %(simple)s, robust %(robust)s" % versions, None


def fetch_mqtt_as(cache):
    shared = shared_dir()
    src = shared and os.path.join(shared, "baselines", "mqtt_as")
    if not src or not os.path.exists(os.path.join(src, "__init__.py")):
        return None, None, "mqtt_as not found (shared/baselines/mqtt_as/)"
    dest = os.path.join(cache, "mqtt_as")
    if not os.path.exists(os.path.join(dest, "mqtt_as", "__init__.py")):
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(src, os.path.join(dest, "mqtt_as"))
    with open(os.path.join(dest, "mqtt_as", "__init__.py")) as f:
        m = re.search(r"VERSION = \((\d+), (\d+), (\d+)\)", f.read())
    v = ".".join(m.groups()) if m else "?"
    return dest, v, None


def fetch_pypi(cache, pip=None):
    """Wheels with `pip download --no-deps` (pip's configured index), unpacked: only the
    library modules, not stray top-level files a wheel may carry (aiomqttc ships a main.py)."""
    dest = os.path.join(cache, "pypi")
    stamp = os.path.join(dest, ".fetched")
    want = " ".join("%s==%s" % (n, v) for n, v, _ in PYPI)
    if not (os.path.exists(stamp) and open(stamp).read() == want):
        shutil.rmtree(dest, ignore_errors=True)
        dl = tempfile.mkdtemp(prefix="lgmqtt-bench-dl-")
        try:
            p = subprocess.run((pip or [sys.executable, "-m", "pip"]) + ["download", "-q", "--no-deps", "-d", dl]
                               + ["%s==%s" % (n, v) for n, v, _ in PYPI], capture_output=True, text=True, timeout=300)
            if p.returncode:
                last = [l for l in (p.stderr or p.stdout).splitlines() if l.strip() and "is ignored" not in l]
                return None, None, "pip download failed: %s" % (last[-1] if last else "exit %d" % p.returncode)
            os.makedirs(dest)
            for whl in sorted(os.listdir(dl)):
                with zipfile.ZipFile(os.path.join(dl, whl)) as z:
                    keep = next(k for n, v, k in PYPI if whl.startswith(n.replace("-", "_") + "-"))
                    for member in z.namelist():
                        if member.split("/")[0] in keep:
                            z.extract(member, dest)
            with open(stamp, "w") as f:
                f.write(want)
        finally:
            shutil.rmtree(dl, ignore_errors=True)
    return dest, ", ".join("%s %s" % (n, v) for n, v, _ in PYPI), None


def lgmqtt_version():
    v = _version_in(os.path.join(ROOT, "lib", "lgmqtt", "__init__.py"), r'__version__ = "([^"]+)"')
    try:
        rev = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except OSError:
        rev = ""
    return "%s (%s)" % (v, rev) if rev else v


def fetch(cache):
    """Every source: {name: (path, version, reason)}; never raises for one that fails."""
    out = {}
    for name, fn in (("umqtt", fetch_umqtt), ("mqtt_as", fetch_mqtt_as), ("pypi", fetch_pypi)):
        try:
            out[name] = fn(os.path.join(cache, "peers"))
        except Exception as e:  # a broken source is a reason in the table, not a dead run
            out[name] = (None, None, "fetch failed: %s: %s" % (type(e).__name__, e))
    return out


def peer_version(peer, sources):
    if peer.source is None:
        return lgmqtt_version() if peer.module in ("lgmqtt", "connector") else "in the bench"
    path, version, reason = sources.get(peer.source, (None, None, "no such source"))
    if peer.module == "umqtt" and version:
        return dict(kv.split(" ") for kv in version.split(", ")).get(peer.arg.split("-")[0], version)
    if peer.source == "pypi" and version:
        parts = version.split(", ")
        if peer.module == "aiomqttc":
            return next((p.split(" ")[1] for p in parts if p.startswith("aiomqttc ")), version)
        own = next((p.split(" ")[1] for p in parts if p.startswith("chumicro-mqtt ")), "?")
        return "%s (%s)" % (own, ", ".join(p for p in parts if p.startswith("chumicro-") and "mqtt" not in p))
    return version or "-"


def mp_path(peer, sources):
    """MICROPYPATH entries (before lib/) for a peer's driver process, or a reason."""
    path = [MP_DIR, HERE]
    if peer.source:
        src, _, reason = sources.get(peer.source, (None, None, "no such source"))
        if src is None:
            return None, reason
        path.append(src)
    if peer.stubs:
        path.append(STUBS)
    return path + peer.extra_path, None
