"""Memory benchmark on board-like 32-bit MicroPython builds (tools/firmware): heap in use
(gc.mem_alloc() after gc.collect()) after import, while connected and after 100 QoS 1
publishes, and the smallest -X heapsize that runs, for

  firmware        the connector firmware's steps (shipped config.json, history on a file;
                  the smallest heap runs 20 QoS 1 telemetry messages)
  client          lgmqtt.net.client.Client alone, MQTT 3.1.1, connect + 100 QoS 1
  umqtt_simple    umqtt.simple 1.8.0 and its robust wrapper, from the MicroPython source
  umqtt_robust    archive's micropython-lib (what ESP32/ESP8266 firmware freezes in)
  lgumqtt_simple  lgmqtt.umqtt.simple / .robust, the drop-in for those two, driven the
  lgumqtt_robust  same way (connect + 100 QoS 1, blocking)
  mqtt_as_v3/_v5  peterhinch mqtt_as 0.8.3 (shared/baselines/mqtt_as), Wi-Fi stubbed up

each from .mpy files (compiled with the mpy-cross built from the same source) on the
plain build and frozen into a firmware build, against a local Mosquitto; then the heap
cost of importing each lgmqtt module (modules found by walking lib/lgmqtt). The firmware
also runs over TLS on a frozen build whose TLS buffers are heap (as the Pico W's): its
smallest heap, how it comes back from a broker restart, and whether it drains a backlog
queued during an outage, at a few heaps above the smallest. The peers
are extracted into build/bench/ at run time; none of them is committed.

    tools/bench memory [--cases firmware,client,...] [--no-modules] [--no-peers]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

from lghost import fw_unix, mpy  # noqa: E402
from lghost.mosquitto import Broker, make_certs  # noqa: E402
from lghost.mpybuild import build_mpy  # noqa: E402

HARNESS = ("memory_mp.py", "memory_case_firmware.py", "memory_case_client.py", "memory_case_umqtt.py",
           "memory_case_lgumqtt.py", "memory_case_mqtt_as.py")
WORK = os.path.join(ROOT, "build", "bench", "memory")
UMQTT = "lib/micropython-lib/micropython/umqtt.%s/umqtt/%s.py"
CASES = (
    ("firmware", "connector firmware", 20),
    ("client", "lgmqtt Client 3.1.1", 100),
    ("umqtt_simple", "umqtt.simple 1.8.0", 100),
    ("umqtt_robust", "umqtt.robust", 100),
    ("lgumqtt_simple", "lgmqtt.umqtt.simple", 100),
    ("lgumqtt_robust", "lgmqtt.umqtt.robust", 100),
    ("mqtt_as_v3", "mqtt_as 0.8.3 3.1.1", 100),
    ("mqtt_as_v5", "mqtt_as 0.8.3 v5", 100),
)
PEER_OF = {"umqtt_simple": "umqtt", "umqtt_robust": "umqtt", "mqtt_as_v3": "mqtt_as", "mqtt_as_v5": "mqtt_as"}
FIGURES_N = 100  # publishes behind the after_publish figure
RUN_TIMEOUT = 30  # a run starved of heap may stall (a task dead of MemoryError): a failure
NODE_TIMEOUT = 10  # the firmware publishes its 20 messages in about a second
RESTART_WAIT = 45  # s for the node to publish again after its broker restarted
OUTAGE = 15  # s the broker is away in the backlog runs (the node queues 20 readings/s meanwhile)
DRAIN_WAIT = 30  # s for the node to drain that backlog once the broker is back


def say(msg):
    print(msg, file=sys.stderr, flush=True)


# --- what is measured ----------------------------------------------------------------

def fetch_peers(src):
    """{name: folder} of the peers found; umqtt comes out of the MicroPython source."""
    out = os.path.join(WORK, "peers")
    shutil.rmtree(out, ignore_errors=True)
    found = {}
    os.makedirs(os.path.join(out, "umqtt"))
    for name in ("simple", "robust"):
        rel = UMQTT % (name, name)
        dst = os.path.join(out, "umqtt", name + ".py")
        if os.path.isdir(src):
            shutil.copy(os.path.join(src, rel), dst)
        else:
            with tarfile.open(src) as t, open(dst, "wb") as f:
                f.write(t.extractfile("micropython/" + rel).read())
    found["umqtt"] = os.path.join(out, "umqtt")
    for cand in (os.path.join(os.path.dirname(ROOT), "shared", "baselines", "mqtt_as"),
                 "/work/shared/baselines/mqtt_as"):
        if os.path.isfile(os.path.join(cand, "__init__.py")):
            shutil.copytree(cand, os.path.join(out, "mqtt_as"), ignore=shutil.ignore_patterns("LICENSE", "*.md"))
            found["mqtt_as"] = os.path.join(out, "mqtt_as")
            break
    else:
        say("bench: mqtt_as not found (shared/baselines/mqtt_as): its rows are left out")
    return found


def lgmqtt_modules():
    """Module names under lib/lgmqtt, packages included, as found in the tree today."""
    top = os.path.join(ROOT, "lib")
    names = []
    for dirpath, dirs, files in os.walk(os.path.join(top, "lgmqtt")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        pkg = os.path.relpath(dirpath, top).replace(os.sep, ".")
        for n in sorted(f for f in files if f.endswith(".py")):
            names.append(pkg if n == "__init__.py" else pkg + "." + n[:-3])
    return sorted(names)


def firmware_fs(broker, interval_ms=None, certs=None):
    """A board filesystem for the firmware case: the shipped config.json, pointed at the
    bench's broker (history in files under it, as shipped); with certs, over TLS that
    verifies the broker against the test CA (a file on the board)."""
    fs = tempfile.mkdtemp(prefix="lgmqtt-bench-mem-")
    with open(os.path.join(ROOT, "config.json")) as f:
        doc = json.load(f)
    doc["config"]["host"], doc["config"]["port"] = broker.host, broker.port
    if certs:
        shutil.copy(os.path.join(certs, "ca.crt"), os.path.join(fs, "ca.crt"))
        doc["config"].update(protocol="mqtts", port=broker.tls_port, tls={"ca": "ca.crt"})
    doc["device"]["board"] = "unix"
    if interval_ms:
        doc["device"]["telemetry"]["intervalMs"] = interval_ms
    with open(os.path.join(fs, "config.json"), "w") as f:
        json.dump(doc, f)
    return fs


def _published(lines):
    return sum(1 for x in list(lines) if x.startswith("published seq="))


class Runner:
    def __init__(self, broker, builds, tls=None, envs=None):
        self.broker = broker
        self.builds = builds  # {"mpy": (exe, path), "frozen": (exe, path), TLS_ORIGIN: ...}
        self.envs = envs or {}  # origin -> extra environment (ROMFS_ORIGIN: its image)
        self.tls = tls  # (TLS broker, certs folder) for TLS_ORIGIN
        self.log = open(os.path.join(WORK, "runs.log"), "w", buffering=1)  # each run, for a look afterwards

    def _fs(self, origin, interval_ms=None):
        if origin == TLS_ORIGIN:
            return firmware_fs(self.tls[0], interval_ms, self.tls[1])
        return firmware_fs(self.broker, interval_ms)

    def run(self, case, origin, n, heap):
        exe, path = self.builds[origin]
        fs = self._fs(origin) if case == "firmware" else tempfile.mkdtemp(prefix="lgmqtt-bench-mem-")
        t0 = time.monotonic()
        try:
            code = "mpy" if origin in BYTECODE_FILES else "frozen"  # where memory_mp checks the library comes from
            p = mpy.run("-m", ["memory_mp", case, code, self.broker.host, str(self.broker.port), str(n)],
                        heap=heap, path=path, lib=False, binary=exe, cwd=fs, timeout=RUN_TIMEOUT,
                        env=self.envs.get(origin))
        except subprocess.TimeoutExpired:
            self.log.write("%s %s n=%d heap=%s timed out\n" % (case, origin, n, heap))
            return False, {}, "timed out after %d s" % RUN_TIMEOUT
        finally:
            shutil.rmtree(fs, ignore_errors=True)
        figs = dict(re.findall(r"^(\w+)=(\S+)$", p.stdout, re.M))
        ok = p.returncode == 0 and figs.get("done") == str(n)
        self.log.write("%s %s n=%d heap=%s ok=%s %.1fs\n" % (case, origin, n, heap, ok, time.monotonic() - t0))
        return ok, figs, (p.stdout + p.stderr)[-1500:]

    def figures(self, case, origin):
        ok, figs, out = self.run(case, origin, FIGURES_N, "2m")
        if not ok:
            raise SystemExit("bench: %s (%s) failed in a 2 MiB heap:\n%s" % (case, origin, out))
        return {k: int(figs[k]) for k in ("after_import", "connected", "after_publish")}

    def node(self, origin, n, heap):
        """The real firmware (firmware/main.py, as tools/sim runs it) on the board fs:
        True once it has published n telemetry messages without a traceback. The
        harness's own steps give the figures, but the smallest heap is the firmware's:
        how objects happen to lie in the heap moves that figure by several KiB."""
        fs = self._fs(origin, interval_ms=50)
        t0 = time.monotonic()
        lines = []
        p = self._boot(origin, heap, fs, lines)
        try:
            while time.monotonic() - t0 < NODE_TIMEOUT and p.poll() is None:
                if _published(lines) >= n:
                    break
                time.sleep(0.02)
        finally:
            mpy.stop(p)
            shutil.rmtree(fs, ignore_errors=True)
        bad = [x for x in lines if "Traceback" in x or "Error" in x or x.startswith("error ")]
        ok = not bad and _published(lines) >= n
        self.log.write("node %s n=%d heap=%s ok=%s %.1fs %s\n" % (origin, n, heap, ok, time.monotonic() - t0,
                                                                 (bad or [""])[0].strip()))
        return ok

    def _boot(self, origin, heap, fs, lines):
        """Start firmware/main.py on the board folder fs (frozen builds: main.py copied
        there, lgmqtt and boards from the firmware); its console lines go to `lines`."""
        exe, path = self.builds[origin]
        script = os.path.join(ROOT, "firmware", "main.py")
        if origin not in BYTECODE_FILES:
            shutil.copy(script, os.path.join(fs, "main.py"))
            script = os.path.join(TOOLS, "lghost", "frozen_boot.py")
        p = mpy.popen(script, heap=heap, path=path[1:], lib=False, binary=exe, cwd=fs,  # path[0]: the harness
                      env=self.envs.get(origin), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True).start()
        return p

    def restart(self, origin, heap):
        """The node (TLS_ORIGIN) publishing, its broker restarted: how it came back in this
        heap -- "direct", "after N resets" (lgnode resets the board when connections fail
        for want of heap; the unix board's reset is exit status 75, and the board boots
        again), "safe mode" (a boot loop: too little heap even after a reset) or "not
        back" within RESTART_WAIT s."""
        broker = self.tls[0] if origin == TLS_ORIGIN else self.broker
        fs = self._fs(origin, interval_ms=500)
        lines = []
        procs = []

        def boot():
            procs.append(self._boot(origin, heap, fs, lines))

        def until(what, secs):
            t0 = time.monotonic()
            while time.monotonic() - t0 < secs and not what():
                time.sleep(0.1)
            return what()

        resets = 0
        try:
            boot()
            if not until(lambda: _published(lines) >= 3, 30):
                return "did not start"
            broker.stop()
            time.sleep(1)
            broker.start()
            n0 = _published(lines)
            t0 = time.monotonic()
            while time.monotonic() - t0 < RESTART_WAIT:
                if until(lambda: procs[-1].poll() is not None or _published(lines) >= n0 + 3, 1):
                    if procs[-1].poll() is None:
                        return "direct" if not resets else "after %d reset%s" % (resets, "s" * (resets > 1))
                    if procs[-1].returncode != 75:
                        if any(x.startswith("safe-mode") for x in lines):  # a boot loop, by design
                            return "safe mode after %d resets" % resets
                        return "exited %d" % procs[-1].returncode
                    resets += 1
                    boot()
            return "not back in %d s" % RESTART_WAIT
        finally:
            for p in procs:
                mpy.stop(p)
            shutil.rmtree(fs, ignore_errors=True)
            self.log.write("restart %s heap=%s resets=%d\n%s\n" % (origin, heap, resets, "".join(
                x for x in lines if not x.startswith(("published", "queued")))[-2000:]))

    def backlog(self, origin, heap):
        """The node (TLS_ORIGIN) booted while its broker is away for OUTAGE s, queuing a
        reading every 50 ms; then the broker comes back: (queued, published within
        DRAIN_WAIT s, drained: every queued reading published)."""
        broker = self.tls[0] if origin == TLS_ORIGIN else self.broker
        fs = self._fs(origin, interval_ms=50)
        lines = []
        broker.stop()
        p = None
        try:
            p = self._boot(origin, heap, fs, lines)
            time.sleep(OUTAGE)
            queued = sum(1 for x in list(lines) if x.startswith("queued seq="))
            broker.start()
            t0 = time.monotonic()
            def published():  # how many of the queued readings the broker has taken
                seqs = set(int(x.split()[1][4:]) for x in list(lines) if x.startswith("published seq="))
                return sum(1 for k in range(1, queued + 1) if k in seqs)

            while time.monotonic() - t0 < DRAIN_WAIT and p.poll() is None and not (queued and published() == queued):
                time.sleep(0.2)
            n = published()
            return queued, n, queued > 0 and n == queued
        finally:
            if p is not None:
                mpy.stop(p)
            if broker.proc is None:
                broker.start()
            shutil.rmtree(fs, ignore_errors=True)
            self.log.write("backlog %s heap=%s\n%s\n" % (origin, heap, "".join(
                x for x in lines if not x.startswith(("published", "queued")))[-2000:]))

    def smallest_heap(self, case, origin, n):
        """Smallest -X heapsize in KiB that runs the case (bisection between a heap that
        fails and one that works)."""
        if case == "firmware":
            def works(heap):
                return self.node(origin, n, heap)
        else:
            def works(heap):
                return self.run(case, origin, n, heap)[0]
        lo, hi = 2, 32
        while not works("%dk" % hi):
            lo, hi = hi, hi * 2
            if hi > 2048:
                return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if works("%dk" % mid):
                hi = mid
            else:
                lo = mid
        return hi

    def import_cost(self, modules, origin, deps=()):
        exe, path = self.builds[origin]
        p = mpy.run("-m", ["memory_mp", "import", origin], heap="2m", path=path, lib=False, binary=exe,
                    env={"LG_MEM_IMPORT": "%s;%s" % (",".join(modules), ",".join(deps))},
                    cwd=tempfile.gettempdir(), timeout=RUN_TIMEOUT)
        figs = dict(re.findall(r"^(\w+)=(\S+)$", p.stdout, re.M))
        if p.returncode or "after_import" not in figs:
            return None, ()
        return int(figs["after_import"]), tuple(x for x in figs.get("loaded", "").split(",") if x)


# --- report --------------------------------------------------------------------------

_TLS_PROBE = """import gc, ssl
gc.collect()
a = gc.mem_alloc()
c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
c.load_verify_locations(cadata=open(%r).read())
gc.collect()
print(gc.mem_alloc() - a)
"""


def check_tls_heap(frozen, tls_build, certs):
    """The TLS-in-heap figures are only worth printing if that build's mbedtls really
    allocates from the GC heap: a CA loaded into a context must cost more heap there
    than in the plain frozen build (where mbedtls uses malloc)."""
    probe = _TLS_PROBE % os.path.join(certs, "ca.crt")
    cost = []
    for exe in (frozen, tls_build):
        p = subprocess.run([exe, "-c", probe], capture_output=True, text=True, timeout=30)
        if p.returncode:
            raise SystemExit("bench: TLS probe failed on %s: %s" % (exe, (p.stdout + p.stderr)[-500:]))
        cost.append(int(p.stdout.split()[-1]))
    if cost[1] <= cost[0]:
        raise SystemExit("bench: %s does not allocate TLS from the GC heap (a CA costs %d bytes there, %d in the"
                         " plain frozen build): fw_unix.TLS_HEAP_CFLAGS no longer works with this source"
                         % (tls_build, cost[1], cost[0]))
    say("bench: TLS in the GC heap checked (a CA in a context: %d bytes of heap, %d without)" % (cost[1], cost[0]))


def fmt(v):
    return "-" if v is None else "{:,}".format(v)


def table(rows, heads, aligns):
    cols = [[h] + [r[i] for r in rows] for i, h in enumerate(heads)]
    widths = [max(len(c) for c in col) for col in cols]
    out = []
    for r in [heads] + rows:
        out.append("  ".join(c.ljust(w) if a == "<" else c.rjust(w) for c, w, a in zip(r, widths, aligns)))
        if r is heads:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# Issue 11's table: the figures it measured before the diet, its targets, and this run's.
# (case, code, figure, before, target) with sizes in KiB; target None: "<= mqtt_as v5".
# The firmware frozen into a build whose TLS (mbedtls) allocates from the GC heap, as on
# the Pico W (fw_unix.build(tls_heap=True)), connected over TLS verified with a CA.
TLS_ORIGIN = "frozen, TLS in heap"
# The same .mpy files in a ROMFS image (`mpremote romfs build`/`deploy`) on a build that
# maps it at /rom as a board maps its flash partition (fw_unix.build(romfs=True)).
ROMFS_ORIGIN = "mpy in ROMFS"
BYTECODE_FILES = ("mpy", ROMFS_ORIGIN)  # origins whose library is .mpy files (not frozen)
TARGETS = (
    ("connector firmware", "mpy", "smallest heap", 138, 64),
    ("connector firmware", "frozen", "smallest heap", 45, 24),
    ("connector firmware", TLS_ORIGIN, "smallest heap", 84, 64),
    ("lgmqtt Client 3.1.1", "mpy", "after 100 QoS 1", None, None),
)


def targets(results):
    """The targets table from this run's results (rows the run did not measure say so)."""
    got = {(label, origin): (f, kib) for label, origin, f, n, kib in results}
    v5 = got.get(("mqtt_as 0.8.3 v5", "mpy"))
    rows = []
    for label, origin, figure, before, target in TARGETS:
        f, kib = got.get((label, origin), (None, None))
        if figure == "smallest heap":
            now = "-" if kib is None else "%d KiB" % kib
            met = "" if kib is None else ("yes" if kib <= target else "no (%.1fx)" % (kib / target))
            rows.append(["%s, %s, %s" % (label, origin, figure), "%d KiB" % before, "<= %d KiB" % target, now, met])
        else:
            now = f and f.get("after_publish")
            peer = v5 and v5[0].get("after_publish")
            met = "" if not (now and peer) else ("yes" if now <= peer else "no (%.1fx)" % (now / peer))
            rows.append(["the client alone, %s, connected + 100 QoS 1" % origin, "-",
                         "<= mqtt_as v5 (%s)" % fmt(peer) if peer else "<= mqtt_as v5 (not measured)", fmt(now), met])
    return ("\nIssue 11's targets (before: the issue's figures for the connector firmware, without the sensor node;"
            "\nnow: this run, firmware/main.py as shipped, which runs the sensor node)\n\n"
            + table(rows, ["figure (32-bit)", "before", "target", "now", "met"], "<>>><"))


def rp2_table():
    """The rp2 port's free heap at each stage (tools/benchmarks/memory_rp2.py), or one
    line saying why it could not run here."""
    import memory_rp2
    from lghost import fw_rp2

    say("bench: rp2 port on the emulated Pico")
    try:
        r = memory_rp2.figures()
    except (fw_rp2.Unavailable, OSError) as e:
        return "\nrp2 port: not measured here (%s)" % e
    rows = [[name, fmt(m["free"]), fmt(m["alloc"])] for name, m in r["stages"]]
    return ("\nThe real rp2 port (RPI_PICO, lgmqtt and boards.pico frozen, %s), on the emulated Pico:"
            " gc.mem_free() / gc.mem_alloc()\nafter gc.collect(), bytes\n\n" % r["flash"]
            + table(rows, ["stage", "free", "alloc"], "<>>"))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tools/bench memory", description=__doc__.split("\n")[0])
    ap.add_argument("--cases", help="comma-separated subset of: " + ",".join(c[0] for c in CASES))
    ap.add_argument("--no-peers", action="store_true", help="lgmqtt only (no umqtt, mqtt_as)")
    ap.add_argument("--no-modules", action="store_true", help="skip the per-module import table")
    ap.add_argument("--src", help="MicroPython source tree or archive (default: as tools/firmware)")
    ap.add_argument("--no-rp2", action="store_true", help="skip the rp2 port on the emulated Pico")
    ap.add_argument("--no-tls", action="store_true", help="skip the firmware over TLS (its own build)")
    ap.add_argument("--no-romfs", action="store_true", help="skip the .mpy files in a ROMFS image (its own build)")
    args = ap.parse_args(argv)
    wanted = args.cases.split(",") if args.cases else [c[0] for c in CASES]
    unknown = set(wanted) - set(c[0] for c in CASES)
    if unknown:
        ap.error("unknown case(s): %s" % ", ".join(sorted(unknown)))
    if args.no_peers:
        wanted = [c for c in wanted if c not in PEER_OF]

    t0 = time.monotonic()
    src = fw_unix.find_source(args.src)
    peers = fetch_peers(src) if any(c in PEER_OF for c in wanted) else {}
    wanted = [c for c in wanted if c not in PEER_OF or PEER_OF[c] in peers]
    mpyc = fw_unix.mpy_cross(src)
    plain = fw_unix.build(False, src)
    frozen = fw_unix.build(True, src, extra=sorted(peers.items()))
    # compiled as tools/deploy --mpy installs them (firmware/main.py runs the sensor node)
    mpydir = build_mpy(os.path.join(WORK, "mpy"), ("lgmqtt", "lgnode", "boards") + tuple(sorted(peers.items())), mpyc)
    say("bench: builds ready (%.0f s); plain %s, frozen %s" % (time.monotonic() - t0, plain, frozen))
    # the harness runs compiled too (-m memory_mp), so its own bytecode stays small
    harness = os.path.join(WORK, "harness")
    shutil.rmtree(harness, ignore_errors=True)
    os.makedirs(harness)
    for n in HARNESS:
        subprocess.run([mpyc, "-o", os.path.join(harness, n[:-3] + ".mpy"), os.path.join(HERE, n)], check=True)
    builds = {"mpy": (plain, [harness, mpydir]), "frozen": (frozen, [harness])}
    envs = {}
    if not args.no_romfs:
        img = fw_unix.romfs_image(mpydir, os.path.join(WORK, "lgmqtt.romfs"))
        builds[ROMFS_ORIGIN] = (fw_unix.build(False, src, romfs=True), [harness, "/rom"])
        envs[ROMFS_ORIGIN] = {"MICROPY_ROMFS": img}
    tls = None
    if "firmware" in wanted and not args.no_tls:
        builds[TLS_ORIGIN] = (fw_unix.build(True, src, extra=sorted(peers.items()), tls_heap=True), [harness])
        certs = make_certs(os.path.join(WORK, "certs"))
        check_tls_heap(builds["frozen"][0], builds[TLS_ORIGIN][0], certs)
        tls = (Broker(certs=certs, options=["set_tcp_nodelay true"]).start(), certs)

    broker = Broker(options=["set_tcp_nodelay true"]).start()
    results = []
    restarts = []
    backlogs = []
    try:
        r = Runner(broker, builds, tls, envs)
        for case, label, n in CASES:
            if case not in wanted:
                continue
            for origin in ("mpy", "frozen") + tuple(o for o in (ROMFS_ORIGIN,) if o in builds) + (
                    (TLS_ORIGIN,) if case == "firmware" and tls else ()):
                say("bench: %s (%s)" % (label, origin))
                figs = r.figures(case, origin)
                results.append((label, origin, figs, n, r.smallest_heap(case, origin, n)))
                if origin == TLS_ORIGIN and results[-1][4]:
                    say("bench: %s (%s), broker restarts" % (label, origin))
                    restarts = [(k, r.restart(origin, "%dk" % k)) for k in
                                (results[-1][4] + d for d in (0, 8, 16, 32))]
                    say("bench: %s (%s), a backlog after an outage" % (label, origin))
                    backlogs = [(k,) + r.backlog(origin, "%dk" % k) for k in
                                (results[-1][4] + d for d in (0, 4, 8, 16, 32))]
        modules = []
        if not args.no_modules:
            say("bench: per-module import cost")
            names = lgmqtt_modules()
            for m in names:
                alone, loaded = r.import_cost([m], "mpy")
                deps = [x for x in loaded if x != m]
                own, _ = r.import_cost([m], "mpy", deps)
                own_frozen, _ = r.import_cost([m], "frozen", deps)
                rel = m.replace(".", os.sep)
                f = os.path.join(mpydir, rel + ".mpy")
                f = f if os.path.exists(f) else os.path.join(mpydir, rel, "__init__.mpy")
                modules.append((m, own, alone, own_frozen, os.path.getsize(f), len(deps)))
            everything, _ = r.import_cost(names, "mpy")
            everything_frozen, _ = r.import_cost(names, "frozen")
    finally:
        for b in (broker,) + ((tls[0],) if tls else ()):
            b.stop()
            shutil.rmtree(b.workdir, ignore_errors=True)

    size, third = fw_unix.check(plain)
    print("\nHeap in use, bytes (gc.mem_alloc() after gc.collect(), minus the reading before any import;"
          " asyncio's import counts),\nMicroPython unix port 32-bit (sys.maxsize %d, 1/3 = %s), local Mosquitto;"
          " smallest heap: -X heapsize\nthat runs the whole case (firmware: firmware/main.py itself until 20 QoS 1"
          " telemetry messages are acknowledged;\nclients: connect + 100 QoS 1)\n" % (size, third))
    rows = [[label, origin, fmt(f["after_import"]), fmt(f["connected"]), fmt(f["after_publish"]),
             "-" if kib is None else "%d KiB" % kib] for label, origin, f, n, kib in results]
    print(table(rows, ["case", "code", "after import", "connected", "after 100 QoS 1", "smallest heap"],
                "<<>>>>"))
    print(targets(results))
    if restarts:
        print("\nThe firmware over TLS (TLS buffers in the heap), its broker restarted while it publishes: how it"
              " came back,\nby -X heapsize (lgnode resets the board after 3 connection attempts in a row that fail"
              " for want of heap)\n")
        print(table([["%d KiB" % k, how] for k, how in restarts], ["heap", "back online"], "><"))
    if backlogs:
        print("\nThe firmware over TLS (TLS buffers in the heap) booted while its broker is away for %d s (a reading"
              " queued\nevery 50 ms), then the broker back: the backlog drained within %d s? By -X heapsize\n"
              % (OUTAGE, DRAIN_WAIT))
        print(table([["%d KiB" % k, str(q), str(n), "yes" if ok else "no"] for k, q, n, ok in backlogs],
                    ["heap", "queued offline", "of them published", "drained"], ">>>>"))
    if modules:
        print("\nImport cost per lgmqtt module, bytes of heap: own = with its lgmqtt imports already loaded;"
              "\nalone = in a fresh process, with everything it pulls in (asyncio already loaded in both)\n")
        rows = [[m, fmt(own), fmt(alone), fmt(ownf), fmt(sz), str(nd)]
                for m, own, alone, ownf, sz, nd in sorted(modules, key=lambda x: -(x[1] or 0))]
        rows.append(["sum of own", fmt(sum(x[1] or 0 for x in modules)), "", fmt(sum(x[3] or 0 for x in modules)),
                     fmt(sum(x[4] for x in modules)), ""])
        rows.append(["all modules in one process", fmt(everything), "", fmt(everything_frozen), "", ""])
        print(table(rows, ["module", "own .mpy", "alone .mpy", "own frozen", ".mpy file", "deps"], "<>>>>>"))
    if not args.no_rp2:
        print(rp2_table())
    say("bench: done in %.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
