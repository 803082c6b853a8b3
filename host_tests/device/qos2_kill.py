# Device script for test_qos2_exactly_once.py (MicroPython or CPython).
# argv: history_dir host port version start count
# A Connector with clean: false (and a session expiry on 5.0) on a file store publishes
# QoS 2 messages {"i": start..start+count-1}, printing "begin i" before each write and
# "done i" once it returned; then waits until the outbox is empty ("drained") and
# disconnects. Killed with -9 at some step of a handshake by the test's proxy, and run
# again on the same history folder.
import asyncio
import sys

from lgmqtt import Connector


def say(*a):
    print(*a)
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


async def main(path, host, port, version, start, count):
    cfg = {"host": host, "port": port, "clientId": "lgt-eo-%d" % version, "protocolVersion": version,
           "clean": False, "reconnectPeriod": 100, "maxReconnectPeriod": 300, "connectTimeout": 3000,
           "history": {"path": path, "size": 65536}}
    if version == 5:
        cfg["properties"] = {"sessionExpiryInterval": 3600}
    conn = Connector({"config": cfg})
    say("pending", conn.outbox.stats()["pending"], "inflight", len(conn.outbox.inflight()))
    try:
        await conn.execute("mqtt:connection", "connect")
    except Exception as e:  # noqa: B902 - the connector keeps trying
        say("connect", repr(e))
    for i in range(start, start + count):
        say("begin", i)
        await conn.execute("mqtt:publish", "write", {"topic": "lgt/eo", "payload": {"i": i}, "qos": 2})
        say("done", i)
    for _ in range(400):
        if conn.outbox.stats()["pending"] == 0:
            break
        await asyncio.sleep(0.05)
    say("drained", conn.outbox.stats()["pending"])
    await conn.execute("mqtt:connection", "disconnect")


a = sys.argv
asyncio.run(main(a[1], a[2], int(a[3]), int(a[4]), int(a[5]), int(a[6])))
