# Runs under MicroPython for tools/benchmarks/memory.py (compiled to .mpy, run with -m,
# so the harness's own bytecode is small and out of the figures): one client of one
# library, with heap readings (gc.mem_alloc() after gc.collect(), minus the reading taken
# once the case's code is loaded and before the library is imported):
#   after_import=B  connected=B  after_publish=B  done=N
# argv: case origin host port n
#   case    firmware | client | umqtt_simple | umqtt_robust | lgumqtt_simple | lgumqtt_robust
#           | mqtt_as_v3 | mqtt_as_v5
#           | import    heap cost of the modules in $LG_MEM_IMPORT ("MOD,MOD...;DEP,DEP...")
#                       once the DEPs are in (an environment variable: this version of the
#                       unix port aborts on a command-line argument of 256 characters or more)
#   origin  frozen | mpy: where the library must come from (checked, so that a stray
#           copy on the path cannot be what gets measured)
import gc
import sys

CASE, ORIGIN = sys.argv[1], sys.argv[2]
if CASE == "import":
    import asyncio  # noqa: F401  (any client loads it: not part of a module's cost)
    import os

    mods, _, deps = os.getenv("LG_MEM_IMPORT").partition(";")
    for dep in deps.split(","):
        if dep:
            __import__(dep)
    impl = None
else:
    impl = __import__("memory_case_" + {"umqtt_simple": "umqtt", "umqtt_robust": "umqtt", "lgumqtt_simple": "lgumqtt",
                                        "lgumqtt_robust": "lgumqtt", "mqtt_as_v3": "mqtt_as", "mqtt_as_v5": "mqtt_as"}.get(CASE, CASE))


class Probe:
    def __init__(self):
        gc.collect()
        self.base = gc.mem_alloc()

    def mark(self, name):
        gc.collect()
        print("%s=%d" % (name, gc.mem_alloc() - self.base))

    def origin(self, mod):
        f = getattr(mod, "__file__", "")
        if f.endswith(".mpy"):
            got = "mpy"
        elif getattr(sys.modules[mod.__name__.split(".")[0]], "__path__", "").startswith(".frozen/"):
            got = "frozen"  # a frozen package's folder
        else:
            got = "py"
        if got != ORIGIN:
            raise SystemExit("origin: %s is %s (%s), wanted %s" % (mod.__name__, got, f, ORIGIN))


if impl is None:
    probe = Probe()
    for m in mods.split(","):
        __import__(m)
    for m in mods.split(","):
        probe.origin(sys.modules[m])
    probe.mark("after_import")
    print("loaded=" + ",".join(sorted(k for k in sys.modules if k.split(".")[0] == "lgmqtt")))
    print("done=0")
else:
    impl.prepare(CASE)
    n = int(sys.argv[5])
    impl.run(CASE, Probe(), sys.argv[3], int(sys.argv[4]), n)
    print("done=%d" % n)
