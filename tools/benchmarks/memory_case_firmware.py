# tools/bench memory, case firmware: the steps of firmware/main.py (config.json and
# secrets -> board -> connector -> QoS 1 telemetry writes, gc.collect() after each),
# in the folder that plays the board's filesystem (history in files there, as shipped).
import gc


def prepare(case):
    pass


def run(case, probe, host, port, n):
    import asyncio

    asyncio.run(_run(probe, n))


async def _run(probe, n):
    import boards
    from lgmqtt import Connector, ConnectorError  # noqa: F401
    from lgmqtt.connector.configfile import read

    import lgmqtt.connector

    probe.origin(lgmqtt.connector)
    probe.mark("after_import")
    doc = read("config.json", "secrets.json")
    dev = doc["device"]
    board = boards.load(dev.get("board", "unix"), dev)
    conn = Connector(doc, history_storage=board.history_storage)
    conn.on("error", lambda e: print("error %s %s" % (e["error"], e["message"])))
    await conn.execute("mqtt:connection", "connect")
    probe.mark("connected")
    topic = dev["telemetry"]["topic"].replace("{clientId}", conn.cfg["clientId"])
    for seq in range(1, n + 1):
        reading = board.read_sensor()
        reading["seq"] = seq
        reading["ts"] = board.now()
        r = await conn.execute("mqtt:publish", "write", {"topic": topic, "payload": reading, "qos": 1})
        if r.get("queued"):
            raise SystemExit("seq=%d queued: not connected" % seq)
        gc.collect()
    probe.mark("after_publish")
    await conn.execute("mqtt:connection", "disconnect")
