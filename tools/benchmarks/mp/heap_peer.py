# Runs under MicroPython, once per peer (a fresh interpreter each): heap in use
# (gc.mem_alloc after gc.collect) after importing the peer's library, while connected,
# and after n QoS 1 publishes, each minus the reading before the import (the adapter
# and asyncio are loaded first, so neither is counted: asyncio is in every peer's
# figure the same way, and lgmqtt's too).
#   micropython heap_peer.py MODULE ARG HOST PORT CID N
import asyncio
import gc
import json
import sys

module, arg, host, port, cid, n = sys.argv[1:7]
arg = "" if arg == "-" else arg
adapter = __import__("peer_" + module).make(arg)


def used():
    gc.collect()
    return gc.mem_alloc()


async def main():
    base = used()
    adapter.load()
    out = {"import": used() - base}
    await adapter.connect(host, int(port), cid, 4, 1)
    out["connected"] = used() - base
    for _ in range(int(n)):
        await adapter.publish("lgbheap/" + cid, b"x" * 64, 1)
    out["published"] = used() - base
    await adapter.disconnect()
    return out


try:
    res = asyncio.run(main())
    res["status"] = "ok"
except Exception as e:
    res = {"status": "error", "reason": "%s: %s" % (type(e).__name__, e)}
print("@@BENCH " + json.dumps(res))
