# Micro-benchmark of lgmqtt.mqtt.topic.match, beside a split()-based matcher for scale.
# Runs under MicroPython and CPython:
#   MICROPYPATH=.frozen:lib micropython tools/benchmarks/topic.py
#   PYTHONPATH=lib python3 tools/benchmarks/topic.py
#   ... -X heapsize=128k  (a board-sized heap; allocating matchers get faster with a
#   smaller heap, see the note in lib/lgmqtt/topic.py)
# Prints matches/s and, under MicroPython, heap bytes left as garbage per call, for
# match(str filter), match_levels(compile_filter(filter)) and a split()-based matcher.
import gc
import sys

import lgapi

match, match_levels, compile_filter = lgapi.topic_matchers()

try:
    from time import ticks_diff, ticks_us
except ImportError:  # CPython
    import time

    def ticks_us():
        return time.perf_counter_ns() // 1000

    def ticks_diff(a, b):
        return a - b

N = 20000

CASES = [
    ("literal 3 levels", "sensors/k1/temp", "sensors/k1/temp"),
    ("'+' mid, 3 levels", "sensors/+/temp", "sensors/k1/temp"),
    ("'#' tail, 3 levels", "sensors/#", "sensors/k1/temp"),
    ("'+' mid, miss", "sensors/+/temp", "sensors/k1/hum"),
    ("first level miss", "cmd/+/x", "sensors/k1/temp"),
    ("$share + '+'", "$share/g/sensors/+/temp", "sensors/k1/temp"),
]


def split_match(filt, name):
    # The obvious implementation, for comparison only.
    fl = filt.split("/")
    nl = name.split("/")
    if name[0] == "$" and fl[0] in ("+", "#"):
        return False
    for i, f in enumerate(fl):
        if f == "#":
            return True
        if i >= len(nl) or (f != "+" and f != nl[i]):
            return False
    return len(fl) == len(nl)


def alloc_per_call(fn, filt, name):
    if not hasattr(gc, "mem_alloc"):
        return None
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for _ in range(100):
        fn(filt, name)
    b = gc.mem_alloc()
    gc.enable()
    return (b - a) // 100


def rate(fn, filt, name):
    gc.collect()
    t0 = ticks_us()
    for _ in range(N):
        fn(filt, name)
    dt = ticks_diff(ticks_us(), t0)
    return N * 1000000 // max(dt, 1)


def empty(filt, name):
    return True


def main():
    print("%s %s, %d calls per case" % (sys.implementation.name, ".".join(str(v) for v in sys.implementation.version[:3]), N))
    base = rate(empty, "a", "a")
    print("loop+call overhead ceiling: %d calls/s" % base)
    print("%-20s %10s %6s %10s %6s %10s %6s" % ("case", "match/s", "B", "levels/s", "B", "split/s", "B"))
    for label, f, n in CASES:
        lv = compile_filter(f)
        assert match(f, n) == split_match(f if not f.startswith("$share/") else f.split("/", 2)[2], n)
        if f.startswith("$share/"):
            sf = f.split("/", 2)[2]
            s_rate, s_alloc = rate(split_match, sf, n), alloc_per_call(split_match, sf, n)
        else:
            s_rate, s_alloc = rate(split_match, f, n), alloc_per_call(split_match, f, n)
        print("%-20s %10d %6s %10d %6s %10d %6s" % (
            label, rate(match, f, n), alloc_per_call(match, f, n),
            rate(match_levels, lv, n), alloc_per_call(match_levels, lv, n), s_rate, s_alloc))


main()
