# Device-side script (runs under micropython and CPython): publish N1 QoS 1 and N2 QoS 2
# messages through lgmqtt.net.client while the host kills and restarts the broker.
# Prints "acked N" as acknowledgements arrive and "done" when every one is acknowledged.
import asyncio
import os
import sys

from lgmqtt.net.client import Client, CONNECTED, DISCONNECTED


def log(*a):
    print(*a)
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


async def main():
    n1 = int(os.getenv("LG_N1") or 1000)
    n2 = int(os.getenv("LG_N2") or 200)
    cfg = {"host": os.getenv("LG_BROKER_HOST"), "port": int(os.getenv("LG_BROKER_PORT")), "clientId": "lgt-storm",
           "clean": False, "keepalive": 10, "reconnectPeriod": 100, "maxReconnectPeriod": 500,
           "protocolVersion": int(os.getenv("LG_VERSION") or 4), "maxInflight": 20,
           "connectProperties": {0x11: 600} if os.getenv("LG_VERSION") == "5" else None}

    def on_event(kind, info):
        if kind == CONNECTED:
            log("connected", info["sessionPresent"])
        elif kind == DISCONNECTED:
            log("disconnected", info["reason"])

    c = Client(cfg, on_event)
    await c.connect()
    acked = [0]

    async def one(qos, i):
        await c.publish("lgt/storm/%d" % qos, b"%d:%d" % (qos, i), qos)
        acked[0] += 1
        if acked[0] % 50 == 0:
            log("acked", acked[0])

    jobs = [(1, i) for i in range(n1)] + [(2, i) for i in range(n2)]
    batch = 40
    for k in range(0, len(jobs), batch):
        await asyncio.gather(*[one(q, i) for q, i in jobs[k:k + batch]])
    log("done", acked[0])
    await c.disconnect()


asyncio.run(main())
