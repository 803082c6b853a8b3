# Device script for test_connector_kill.py (MicroPython or CPython).
# argv: history_dir host port mode [n]
#   mode "fill": publish n QoS 1 messages while the broker is unreachable (all queued
#                in the persistent outbox), printing "queued i" after each returns
#   mode "drain": a new Connector on the same history: connect, wait until the outbox
#                is empty, print "drained"
import asyncio
import sys

from lgmqtt import Connector


def say(*a):
    print(*a)
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


async def main(path, host, port, mode, n):
    conn = Connector({"config": {"host": host, "port": port, "clientId": "lgt-crash", "reconnectPeriod": 100,
                                 "maxReconnectPeriod": 200, "connectTimeout": 2000,
                                 "history": {"path": path, "size": 65536}}})
    if mode == "fill":
        for i in range(n):
            r = await conn.execute("mqtt:publish", "write", {"topic": "lgt/crash", "payload": {"i": i}, "qos": 1})
            if not r["queued"]:
                raise SystemExit("expected queued")
            say("queued", i)
        say("filled")
        await asyncio.sleep(60)
    else:
        say("pending", conn.outbox.stats()["pending"])
        await conn.execute("mqtt:connection", "connect")
        for _ in range(200):
            if conn.outbox.stats()["pending"] == 0:
                break
            await asyncio.sleep(0.05)
        say("drained", conn.outbox.stats()["pending"])
        await conn.execute("mqtt:connection", "disconnect")


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 0))
