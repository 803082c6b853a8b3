# Runs under MicroPython for tools/benchmarks/client.py: heap in use (gc.mem_alloc after
# gc.collect) before any import, after importing, and while connected; then publishes
# N QoS 1 messages. argv: host port N [client|connector]
import gc
import sys

import lgapi  # the bench's import helper: before the base reading, so not counted

gc.collect()
base = gc.mem_alloc()
import asyncio  # noqa: E402  (asyncio is part of the cost, as in mqtt_as's figure)

MODE = sys.argv[4] if len(sys.argv) > 4 else "client"

if MODE == "client":
    Client = lgapi.client_class()
else:
    Connector = lgapi.connector_class()

gc.collect()
print("after_import=%d" % (gc.mem_alloc() - base))


async def main(host, port, n):
    if MODE == "client":
        c = Client({"host": host, "port": port, "clientId": "bench-heap", "readBufferSize": 512})
        await c.connect()
    else:
        c = Connector({"config": {"host": host, "port": port, "clientId": "bench-heap-conn",
                                  "history": {"size": 16384}}})
        await c.execute("mqtt:connection", "connect")
    gc.collect()
    print("connected=%d" % (gc.mem_alloc() - base))
    for i in range(n):
        if MODE == "client":
            await c.publish("bench/heap", b"x" * 64, 1)
        else:
            await c.execute("mqtt:publish", "write", {"topic": "bench/heap", "payload": {"i": i}, "qos": 1})
    gc.collect()
    print("published=%d" % n)
    print("after_publish=%d" % (gc.mem_alloc() - base))
    if MODE == "client":
        await c.disconnect()
    else:
        await c.execute("mqtt:connection", "disconnect")


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
