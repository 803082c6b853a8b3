# Runs under MicroPython for tools/bench_client.py: heap in use (gc.mem_alloc after
# gc.collect) before any import, after importing the client, and while connected; then
# publishes N QoS 1 messages. argv: host port N
import gc
import sys

gc.collect()
base = gc.mem_alloc()
import asyncio  # noqa: E402  (asyncio is part of the cost, as in mqtt_as's figure)
from lgmqtt.client import Client  # noqa: E402

gc.collect()
print("after_import=%d" % (gc.mem_alloc() - base))


async def main(host, port, n):
    c = Client({"host": host, "port": port, "clientId": "bench-heap", "readBufferSize": 512})
    await c.connect()
    gc.collect()
    print("connected=%d" % (gc.mem_alloc() - base))
    for i in range(n):
        await c.publish("bench/heap", b"x" * 64, 1)
    print("published=%d" % n)
    await c.disconnect()


asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
