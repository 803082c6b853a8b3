"""The report's other figures, each a MicroPython run of its own: codec rates against
the hand-rolled loop (codec.py --json), store cost versus log size (mp/store_scale.py),
heap per peer (mp/heap_peer.py, a fresh interpreter per peer) and lgmqtt's heap versus
subscriptions and window (mp/heap_lg.py); and the header's facts (interpreter, broker,
machine, date)."""
import datetime
import json
import os
import platform
import subprocess

import peers as peerlib
from harness import MARK, mp_env

STORE_SIZES = (65536, 131072, 262144, 524288, 1048576)
HEAP_SUBS = (0, 1, 10, 50, 100)
HEAP_WINDOWS = (1, 5, 10, 20, 50)


def _marked(micropython, script, args, path, timeout=600, heap=None):
    cmd = [micropython] + (["-X", "heapsize=" + heap] if heap else []) + [script] + [str(a) for a in args]
    try:
        p = subprocess.run(cmd, env=mp_env(path), cwd=peerlib.ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [], "hung: no result in %d s" % timeout
    rows = [json.loads(l[len(MARK):]) for l in p.stdout.splitlines() if l.startswith(MARK)]
    if p.returncode and not rows:
        last = [l for l in p.stderr.splitlines() if l.strip()]
        return [], "exit %d: %s" % (p.returncode, last[-1] if last else "no output")
    return rows, None


def run_codec(micropython):
    rows, err = _marked(micropython, os.path.join(peerlib.HERE, "codec.py"), ["--json"], [peerlib.HERE])
    return {"rows": rows, "error": err}


def run_store(micropython, sizes=STORE_SIZES):
    rows, err = _marked(micropython, os.path.join(peerlib.MP_DIR, "store_scale.py"), [",".join(map(str, sizes))],
                        [peerlib.HERE])
    return {"rows": rows, "error": err}


def run_heap_peers(micropython, broker, sources, peer_list=peerlib.PEERS, n=20):
    """{peer name: {"status", "import", "connected", "published"} or reason}, for the
    peers marked heap=True (the raw ceiling is no library; the connector's figures are
    the memory bench's)."""
    out = {}
    for i, p in enumerate(peer_list):
        if not p.heap:
            continue
        path, why = peerlib.mp_path(p, sources)
        if path is None:
            out[p.name] = {"status": "unavailable", "reason": why}
            continue
        rows, err = _marked(micropython, os.path.join(peerlib.MP_DIR, "heap_peer.py"),
                            [p.module, p.arg or "-", broker.host, broker.port, "lgb-heap-%d" % i, n],
                            path, timeout=120)
        out[p.name] = rows[-1] if rows else {"status": "error", "reason": err}
    return out


def run_heap_lg(micropython, broker, subs=HEAP_SUBS, windows=HEAP_WINDOWS):
    """{"status", "subs": [[k, bytes]], "window": [[w, peak bytes]]}, one process a point."""
    out = {"status": "ok", "subs": [], "window": []}
    for mode, points in (("subs", subs), ("window", windows)):
        for k in points:
            rows, err = _marked(micropython, os.path.join(peerlib.MP_DIR, "heap_lg.py"),
                                [broker.host, broker.port, mode, k], [peerlib.HERE], timeout=120)
            row = rows[-1] if rows else {"status": "error", "reason": err}
            if row.get("status") != "ok":
                return {"status": "error", "reason": "%s %d: %s" % (mode, k, row.get("reason"))}
            out[mode].append([k, row["bytes"]])
    return out


def interpreter(micropython):
    code = ("import sys, gc\n"
            "print(sys.version)\n"
            "print(repr(sys.implementation))\n"
            "print(sys.maxsize > 2**32 and 64 or 32)\n"
            "print(1.0 / 3)\n")
    try:
        p = subprocess.run([micropython, "-c", code], capture_output=True, text=True, timeout=30)
        version, impl, bits, third = (p.stdout.splitlines() + ["?"] * 4)[:4]
    except OSError as e:
        return {"path": micropython, "error": str(e)}
    return {"path": micropython, "version": version, "implementation": impl, "bits": bits,
            "float": "single precision" if third.startswith("0.33333334") else "double precision"}


def broker_version(mosquitto):
    try:
        p = subprocess.run([mosquitto, "-h"], capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).splitlines()[0].strip()
    except (OSError, IndexError):
        return "?"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "system": "%s %s %s" % (platform.system(), platform.release(),
                                                                       platform.machine()),
            "python": platform.python_version()}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
