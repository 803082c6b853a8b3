"""tools/bench sim-heap: the smallest -X heapsize in which tools/sim runs the node, by
bisection over real tools/sim runs (firmware/main.py, the shipped config.json, a local
Mosquitto): a run counts when the summary says lost=0 with at least MIN_PUBLISHED
readings acknowledged, and no MemoryError, traceback or reset appears.

  tools/bench sim-heap [--firmware frozen32|unix32|wheel] [--mpy] [--power deep-sleep] [--duration S]

Prints one line per run tried and the result in KiB. Extra arguments after -- go to
tools/sim as they are.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SIM = [sys.executable, os.path.join(ROOT, "tools", "sim.py")]
MIN_PUBLISHED = 5


def works(args, heap, extra):
    cmd = SIM + ["--quiet", "--duration", str(args.duration), "--heap", "%dk" % heap, "--firmware", args.firmware]
    if args.mpy:
        cmd.append("--mpy")
    if args.power:
        cmd += ["--power", args.power]
    if args.interval:
        cmd += ["--interval", str(args.interval)]
    p = subprocess.run(cmd + extra, capture_output=True, text=True, timeout=args.duration * 4 + 600)
    out = p.stdout + p.stderr
    m = re.search(r"^summary: published=(\d+) received=\d+ lost=(\d+)", out, re.M)
    bad = re.search(r"MemoryError|Traceback|reset reason=|sim: error", out)
    ok = p.returncode == 0 and m is not None and int(m.group(1)) >= MIN_PUBLISHED and m.group(2) == "0" and not bad
    why = "" if ok else (bad.group(0) if bad else (m.group(0) if m else "no summary"))
    print("sim-heap: %4d KiB %s %s" % (heap, "ok" if ok else "fails", why), flush=True)
    return ok


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(prog="tools/bench sim-heap", description=__doc__.split("\n")[0])
    ap.add_argument("--firmware", default="frozen32", choices=("wheel", "unix32", "frozen32"))
    ap.add_argument("--mpy", action="store_true")
    ap.add_argument("--power", choices=("always-on", "deep-sleep"))
    ap.add_argument("--duration", type=float, default=6)
    ap.add_argument("--interval", type=int, default=300)
    ap.add_argument("--lo", type=int, default=16, help="KiB known (or guessed) to fail")
    ap.add_argument("--hi", type=int, default=512, help="KiB known (or guessed) to work")
    args = ap.parse_args(argv)
    lo, hi = args.lo, args.hi
    while not works(args, hi, extra):
        lo, hi = hi, hi * 2
        if hi > 8192:
            print("sim-heap: does not run in 8 MiB")
            return 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if works(args, mid, extra):
            hi = mid
        else:
            lo = mid
    print("sim-heap: smallest heap %d KiB (firmware %s%s%s)" % (hi, args.firmware, " .mpy" if args.mpy else "",
                                                                ", " + args.power if args.power else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
