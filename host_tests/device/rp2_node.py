# Device side of host_tests/test_rp2.py: sent to the emulated Pico's raw REPL after each
# boot; the test then calls one function per step. Each prints one JSON line (burst()
# also prints "W <index> <outbox id>" as each write returns: what the host knows
# returned when the power goes).
import asyncio
import gc
import json

c = None


def mem():
    gc.collect()
    return gc.mem_free()


def open_node():
    """What firmware/main.py does at boot: config.json -> board profile -> Connector
    (the ring log recovers here), then the outbox as it found it."""
    global c
    m0 = mem()
    import boards
    from lgmqtt import Connector
    from lgmqtt.connector.configfile import read

    doc = read("config.json", "secrets.json")
    board = boards.load(doc["device"]["board"], doc["device"])
    c = Connector(doc, history_storage=board.history_storage)
    rows = c.outbox.pending()
    print(json.dumps({"mem": [m0, mem()], "stats": c.outbox.stats(),
                      "pending": [[r.id, r.topic(), r.payload().decode(), r.qos] for r in rows]}))


def ack_all():
    """As if the broker acknowledged everything pending (no network here), made durable."""
    ids = c.outbox.pending_ids()
    for i in ids:
        c.outbox.ack(i)
    c.store.sync()
    print(json.dumps({"acked": ids, "mem": mem()}))


def history(topic, limit):
    r = asyncio.run(c.execute("mqtt:history", "read", {"topic": topic, "limit": limit}))
    print(json.dumps({"messages": [[m["topic"], m["payload"], m["qos"], m["direction"]] for m in r["messages"]],
                      "mem": mem()}))


async def _burst(cyc, n):
    print("GO")
    for i in range(n):
        r = await c.execute("mqtt:publish", "write",
                            {"topic": "pc/%d/%d" % (cyc, i), "payload": {"c": cyc, "i": i}, "qos": 1 + (i & 1)})
        print("W", i, r["outboxId"])


def burst(cyc, n):
    asyncio.run(_burst(cyc, n))
    print(json.dumps({"mem": mem()}))
