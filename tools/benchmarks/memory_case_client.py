# tools/bench memory, case client: lgmqtt.net.client.Client alone, MQTT 3.1.1, QoS 1.
PAYLOAD = b"x" * 64


def prepare(case):
    pass


def run(case, probe, host, port, n):
    import asyncio

    asyncio.run(_run(probe, host, port, n))


async def _run(probe, host, port, n):
    from lgmqtt.net.client import Client

    import lgmqtt.net.client

    probe.origin(lgmqtt.net.client)
    probe.mark("after_import")
    c = Client({"host": host, "port": port, "clientId": "bench-mem-lgmqtt", "protocolVersion": 4})
    await c.connect()
    probe.mark("connected")
    for _ in range(n):
        await c.publish("bench/mem", PAYLOAD, 1)  # returns once the PUBACK is in
    probe.mark("after_publish")
    await c.disconnect()
