"""Client benchmark: lgmqtt against a raw-socket loop, a raw asyncio loop and
umqtt.simple 1.8.0, all in one MicroPython process against one local Mosquitto; then heap
figures from .mpy builds: heap in use after import and while connected, and the
smallest -X heapsize that imports, connects and publishes 100 QoS 1 messages.

    tools/bench [client]         (or: .venv/bin/python tools/benchmarks/client.py)
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)

from lghost import mpy  # noqa: E402
from lghost.mosquitto import Broker  # noqa: E402
from lghost.mpybuild import build_mpy  # noqa: E402

sys.path.insert(0, HERE)
import peers  # noqa: E402

CACHE = os.path.join(ROOT, "build", "bench")


def fetch_umqtt():
    """umqtt.simple 1.8.0 from the MicroPython source archive (peers.py); None if absent."""
    path, version, why = peers.fetch_umqtt(os.path.join(CACHE, "peers"))
    if path is None:
        print("bench: umqtt.simple unavailable: %s" % why)
    return path


def run_mp(script, args, heap=None, path=(), lib=True, timeout=600):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen", HERE] + list(path) + ([mpy.LIB] if lib else []))
    cmd = [mpy.micropython_binary()] + (["-X", "heapsize=" + heap] if heap else []) + [script] + list(args)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def rates(broker, umqtt):
    p = run_mp(os.path.join(HERE, "client_mp.py"), [broker.host, str(broker.port)],
               path=[umqtt] if umqtt else [])
    if p.returncode:
        raise SystemExit("bench run failed:\n" + p.stdout + p.stderr)
    res = {}
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            _, name, n, secs, rate = line.split()
            res[name] = (int(n), float(secs), int(rate))
        elif line.startswith("SKIP"):
            print(line)
    return res


def heap_figures(broker, mpydir):
    script = os.path.join(HERE, "heap_mp.py")
    p = run_mp(script, [broker.host, str(broker.port), "0"], heap="256k", path=[mpydir], lib=False)
    figs = dict(re.findall(r"^(\w+)=(\d+)$", p.stdout, re.M))
    if p.returncode or "connected" not in figs:
        raise SystemExit("heap run failed:\n" + p.stdout + p.stderr)

    def ok(kb, src):
        r = run_mp(script, [broker.host, str(broker.port), "100"], heap="%dk" % kb, path=[src] if src else [],
                   lib=src is None)
        return r.returncode == 0 and "published=100" in r.stdout

    def smallest(src):
        lo, hi = 8, 256
        if not ok(hi, src):
            return None
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if ok(mid, src):
                hi = mid
            else:
                lo = mid
        return hi

    figs["min_heap_mpy_kb"] = smallest(mpydir)
    figs["min_heap_py_kb"] = smallest(None)
    return figs


def main():
    repeat = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    broker = Broker().start()
    try:
        umqtt = fetch_umqtt()
        mpydir = build_mpy()
        # these machines are noisy: each figure is the median of `repeat` runs, each run
        # measuring every case one after the other in one interpreter
        runs = [rates(broker, umqtt) for _ in range(repeat)]
        r = {}
        for name in runs[0]:
            vals = sorted(run[name] for run in runs if name in run)
            r[name] = vals[len(vals) // 2]
        h = heap_figures(broker, mpydir)
    finally:
        broker.stop()
    print("\nPublish rates, 64-byte payload, MicroPython unix port, local Mosquitto, median of %d runs"
          " (each run one process):" % repeat)
    for name, (n, secs, rate) in r.items():
        print("  %-30s %6d msgs %8.3f s %9d msgs/s" % (name, n, secs, rate))

    def ratio(a, b):
        return "%.2f" % (r[a][2] / r[b][2]) if a in r and b in r and r[b][2] else "n/a"

    print("\nRatios:")
    print("  QoS 0 lgmqtt / umqtt.simple           %s   (goal >= 1)" % ratio("lgmqtt_qos0", "umqtt_simple_qos0"))
    print("  QoS 0 lgmqtt / raw socket (ceiling)    %s" % ratio("lgmqtt_qos0", "raw_socket_qos0"))
    print("  QoS 1 lgmqtt / umqtt.simple+NODELAY    %s   (goal >= 2)" % ratio("lgmqtt_qos1", "umqtt_simple_qos1_nodelay"))
    print("  QoS 1 lgmqtt / raw asyncio window 20   %s   (goal >= 0.75)" % ratio("lgmqtt_qos1", "raw_asyncio_qos1_window20"))
    print("  QoS 2 lgmqtt / QoS 1 lgmqtt            %s   (goal >= 0.5)" % ratio("lgmqtt_qos2", "lgmqtt_qos1"))
    print("\nHeap (gc.mem_alloc after gc.collect, modules from .mpy, minus the reading before any import):")
    print("  after import of lgmqtt.net.client        %6d bytes" % int(h["after_import"]))
    print("  while connected                      %6d bytes   (goal <= 29 KB)" % int(h["connected"]))
    print("  smallest -X heapsize for connect + 100 QoS 1: .mpy %s KiB, .py %s KiB   (goal <= 40 KiB from .mpy)"
          % (h["min_heap_mpy_kb"], h["min_heap_py_kb"]))


if __name__ == "__main__":
    main()
