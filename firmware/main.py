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

    raw_dev = doc.get("device") if isinstance(doc.get("device"), dict) else {}
    try:
        board = boards.load(raw_dev.get("board", "unix"), raw_dev)
    except ImportError:
        print("error CONFIG_ERROR device.board: no board profile %r" % raw_dev.get("board"))
        return
    try:
        # validates config.json (CONFIG_ERROR names the bad key); the board may offer a
        # raw flash partition for the history log
        conn = Connector(doc, history_storage=board.history_storage)
    except ConnectorError as e:
        print("error %s %s" % (e.error, e.message))
        return
    dev = conn.doc.get("device", {})
    if not await board.network_up():
        print("error CONNECTION_FAILED network did not come up")
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
    from lgmqtt.configfile import read

    try:
        doc = read("config.json", "secrets.json")
    except ConnectorError as e:
        print("error %s %s" % (e.error, e.message))
        return
    asyncio.run(main(doc))


run()
