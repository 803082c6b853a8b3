# Runs under MicroPython, one figure per interpreter (the harness starts one per point,
# so no earlier client's leftovers count): lgmqtt's client heap (gc.mem_alloc after
# gc.collect, minus the reading before the import) with K subscriptions while
# connected ("subs K"), or the largest live heap sampled at every scheduling turn while
# W producers keep W QoS 1 messages in flight with maxInflight W ("window W").
#   micropython heap_lg.py HOST PORT subs|window K
import asyncio
import gc
import json
import sys

import lgapi

HOST, PORT, MODE, K = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])


def used():
    gc.collect()
    return gc.mem_alloc()


async def subs(c, base):
    for i in range(K):
        await c.subscribe([("lgbheap/%d/sub/%d" % (PORT, i), 1)])
    return used() - base


async def window(c, base):
    peak = [used() - base]
    left = [K * 10]
    running = [True]

    async def producer():
        while left[0] > 0:
            left[0] -= 1
            await c.publish("lgbheap/%d" % PORT, b"x" * 64, 1)

    async def sampler():
        while running[0]:
            v = used() - base
            if v > peak[0]:
                peak[0] = v
            await asyncio.sleep(0)

    s = asyncio.create_task(sampler())
    await asyncio.gather(*[producer() for _ in range(K)])
    running[0] = False
    await s
    return peak[0]


async def main():
    base = used()
    Client = lgapi.client_class()
    cfg = {"host": HOST, "port": PORT, "clientId": "lgb-heap-%s-%d" % (MODE, K)}
    if MODE == "window":
        cfg["maxInflight"] = K
    c = Client(cfg)
    await c.connect()
    v = await (subs if MODE == "subs" else window)(c, base)
    await c.disconnect()
    return {"mode": MODE, "k": K, "bytes": v}


try:
    res = asyncio.run(main())
    res["status"] = "ok"
except Exception as e:
    res = {"status": "error", "reason": "%s: %s" % (type(e).__name__, e)}
print("@@BENCH " + json.dumps(res))
