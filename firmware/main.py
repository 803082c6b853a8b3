# Composition root of a sensor node: config -> board -> connector -> telemetry task.
# Prints one line per event on the console (the sim and a serial monitor read them):
#   connected broker=HOST:PORT
#   disconnected reason=...
#   published seq=N topic=T          (when the broker acknowledged it)
#   queued seq=N                     (accepted into the outbox while offline)
#   error CODE message
import asyncio
import gc

from lgmqtt import Connector, ConnectorError


async def _sleep_ms(ms):
    await asyncio.sleep(ms / 1000)


def _on_published(m):
    p = m.get("payload")
    if isinstance(p, dict) and "seq" in p:
        print("published seq=%d topic=%s" % (p["seq"], m["topic"]))


async def telemetry(conn, board, dev, client_id):
    tel = dev.get("telemetry", {})
    topic = tel.get("topic", "lg/{clientId}/telemetry").replace("{clientId}", client_id)
    interval = tel.get("intervalMs", 2000)
    qos = tel.get("qos", 1)
    seq = 0
    while True:
        seq += 1
        reading = board.read_sensor()
        reading["seq"] = seq
        reading["ts"] = board.now()
        board.led(True)
        try:
            r = await conn.execute("mqtt:publish", "write", {"topic": topic, "payload": reading, "qos": qos})
            if r.get("queued"):
                print("queued seq=%d" % seq)
        except ConnectorError as e:
            print("error %s %s" % (e.error, e.message))
        board.led(False)
        board.feed_watchdog()
        gc.collect()
        await _sleep_ms(interval)


async def main(doc):
    import boards

    dev = doc.get("device", {})
    board = boards.load(dev.get("board", "unix"), dev)
    if not await board.network_up():
        print("error CONNECTION_FAILED network did not come up")
    hist = doc["config"].get("history", {})
    raw = board.history_storage(hist.get("size", 65536) // hist.get("segments", 4))
    store = None
    if raw is not None:
        from lgmqtt.store import open_store

        store = open_store(hist, storage=raw)
    conn = Connector(doc, store=store)
    conn.on("connected", lambda e: print("connected broker=%s" % e["broker"]))
    conn.on("disconnected", lambda e: print("disconnected reason=%s" % e["reason"]))
    conn.on("error", lambda e: print("error %s %s" % (e["error"], e["message"])))
    conn.on("message-published", _on_published)
    try:
        await conn.execute("mqtt:connection", "connect")
    except ConnectorError:
        pass  # reported through the error event; the connector keeps reconnecting
    gc.collect()
    await telemetry(conn, board, dev, conn.cfg["clientId"])


def run():
    from lgmqtt import config

    try:
        doc = config.load("config.json", "secrets.json")
    except ConnectorError as e:
        print("error %s %s" % (e.error, e.message))
        return
    del config  # the validator's bytecode can go now (the connector loads it again briefly)
    asyncio.run(main(doc))


run()
