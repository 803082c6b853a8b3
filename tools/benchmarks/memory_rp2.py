"""Free heap of the real rp2 port (RPI_PICO firmware, lgmqtt and boards.pico frozen in)
at each stage of a node's life, on the emulated Pico (tools/lghost/rp2emu.py):

    boot                     fresh boot, nothing imported
    import                   from lgmqtt import Connector
    construct                Connector(config.json) (the repo's, board "pico"): history
                             and outbox on LittleFS
    100 queued               after 100 offline QoS 1 writes (in the outbox, in flash)

    python tools/benchmarks/memory_rp2.py [--json] [--plain] [--writes N]

figures() returns the same as a dict, for tools/bench memory. gc.mem_free() and
gc.mem_alloc() after gc.collect(), in bytes. --plain adds the boot figure of the port
without lgmqtt (its own build, a few minutes the first time).
"""
import json
import os
import sys

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)
from lghost import fw_rp2  # noqa: E402
from lghost.mpy import ROOT  # noqa: E402
from lghost.rp2emu import Rp2Emu  # noqa: E402

_MEM = "import gc\ngc.collect()\nprint(gc.mem_free(), gc.mem_alloc())"
_WRITES = """
import asyncio
async def _w(n):
    for i in range(n):
        await c.execute("mqtt:publish", "write", {"topic": "lg/pico/t", "payload": {"seq": i, "t": 21.5}, "qos": 1})
asyncio.run(_w(%d))
print(len(c.outbox))
"""


def _mem(pico, code=""):
    out = pico.run(code + "\n" + _MEM).split("\n")
    free, alloc = out[-2].split()
    return {"free": int(free), "alloc": int(alloc)}, out[:-2]


def figures(image=None, writes=100, plain=False):
    """{"stages": [(name, {"free", "alloc"}), ...], "image", "flash", "plain_boot"?}"""
    image = image or fw_rp2.build("RPI_PICO", quiet=True)
    with open(os.path.join(ROOT, "config.json")) as f:
        cfg = json.load(f)
    cfg["device"]["board"] = "pico"
    stages = []
    with Rp2Emu(image) as pico:
        pico.boot()
        pico.run("with open('config.json', 'w') as f:\n    f.write(%r)" % json.dumps(cfg))
        pico.boot()  # figures from a fresh boot, as a node starts
        stages.append(("boot", _mem(pico)[0]))
        stages.append(("import", _mem(pico, "from lgmqtt import Connector")[0]))
        stages.append(("construct", _mem(pico, "import boards\nfrom lgmqtt.connector.configfile import read\n"
                                                "doc = read('config.json', 'secrets.json')\n"
                                                "board = boards.load('pico', doc['device'])\n"
                                                "c = Connector(doc, history_storage=board.history_storage)")[0]))
        m, out = _mem(pico, _WRITES % writes)
        if out[-1] != str(writes):
            raise RuntimeError("expected %d pending, the board says %r" % (writes, out))
        stages.append(("%d queued" % writes, m))
    with open(os.path.join(os.path.dirname(image), "build.json")) as f:
        r = {"stages": stages, "image": image, "flash": json.load(f).get("flash")}
    if plain:
        with Rp2Emu(fw_rp2.build("RPI_PICO", plain=True, quiet=True)) as pico:
            pico.boot()
            r["plain_boot"] = _mem(pico)[0]
    return r


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(prog="memory_rp2.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--plain", action="store_true", help="also boot the port without lgmqtt")
    ap.add_argument("--writes", type=int, default=100)
    a = ap.parse_args(argv)
    r = figures(writes=a.writes, plain=a.plain)
    if a.json:
        print(json.dumps(r, indent=1))
        return 0
    print("rp2 port, RPI_PICO, lgmqtt frozen (%s), emulated (rp2040js)" % r["flash"])
    if "plain_boot" in r:
        print("  %-22s free %7d  alloc %6d" % ("boot, without lgmqtt", r["plain_boot"]["free"], r["plain_boot"]["alloc"]))
    for name, m in r["stages"]:
        print("  %-22s free %7d  alloc %6d" % (name, m["free"], m["alloc"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
