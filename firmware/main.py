# Composition root of a sensor node: config -> board -> connector -> telemetry task.
# Prints one line per event on the console (the sim and a serial monitor read them):
#   connected broker=HOST:PORT
#   disconnected reason=...
#   published seq=N topic=T          (when the broker acknowledged it)
#   queued seq=N                     (accepted into the outbox while offline)
#   error CODE message
#   crash task=NAME error            (a task failed; it is started again after a back-off)
#   reset reason=...                 (failures that restarting a task cannot cure: the board resets)
#   safe-mode crashes=N reason=...   (boot loop: nothing started, console and deploy stay reachable)
#
# It never ends by itself: whatever is raised is reported; a task that fails is started
# again (lgnode.supervise); what cannot be cured that way resets the board, and the crash
# count kept in flash stops a boot loop in safe mode.
import asyncio
import gc

CRASH_FILE = "lgcrash.txt"


async def _sleep_ms(ms):
    await asyncio.sleep(ms / 1000)


def _on_published(m):
    p = m.get("payload")
    if isinstance(p, dict) and "seq" in p:
        print("published seq=%d topic=%s" % (p["seq"], m["topic"]))


async def telemetry(conn, board, dev, client_id, state):
    from lgmqtt import ConnectorError

    tel = dev.get("telemetry", {})
    topic = tel.get("topic", "lg/{clientId}/telemetry").replace("{clientId}", client_id)
    interval = tel.get("intervalMs", 2000)
    qos = tel.get("qos", 1)
    while True:
        state["seq"] += 1  # kept across restarts of this task: no sequence number twice
        seq = state["seq"]
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


def _crash(name, e):
    print("crash task=%s %r" % (name, e))


async def main(doc, board, log):
    from lgmqtt import Connector, ConnectorError
    from lgnode.supervise import supervise

    try:
        # validates config.json (CONFIG_ERROR names the bad key); the board may offer a
        # raw flash partition for the history log
        conn = Connector(doc, history_storage=board.history_storage)
    except ConnectorError as e:
        print("error %s %s" % (e.error, e.message))
        return  # a wrong config.json: nothing to restart until it is fixed
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
    asyncio.create_task(log.clear_when_stable())
    state = {"seq": 0}
    await supervise("telemetry", lambda: telemetry(conn, board, dev, conn.cfg["clientId"], state), _crash)


def _reset(board, log, reason):
    print("reset reason=%s" % reason)
    try:
        log.record(reason)
    except Exception:  # noqa: B902,S110 - flash full or failing: reset anyway
        pass
    reset = getattr(board, "reset", None)
    if reset is None:  # no board profile yet (it failed to load): the port's own reset
        try:
            import machine

            reset = machine.reset
        except (ImportError, AttributeError):  # the unix port (its machine has no reset)
            import sys

            reset = lambda: sys.exit(75)  # noqa: E731 - boards/unix.py RESET_EXIT
    reset()


def run():
    from lgnode.supervise import CrashLog

    log = CrashLog(CRASH_FILE)
    if log.safe_mode:
        # No watchdog, no radio, no connector: only the console, so that whoever comes
        # can see why and deploy a fix (tools/deploy removes the crash file).
        print("safe-mode crashes=%d reason=%s" % (log.count, log.reason))
        print("safe-mode: delete %s (or deploy again) and reset to leave it" % CRASH_FILE)
        return
    board = None
    try:
        import boards
        from lgmqtt import ConnectorError
        from lgmqtt.connector.configfile import read

        try:
            doc = read("config.json", "secrets.json")
        except ConnectorError as e:
            print("error %s %s" % (e.error, e.message))
            return
        dev = doc.get("device") if isinstance(doc.get("device"), dict) else {}
        try:
            board = boards.load(dev.get("board", "unix"), dev)
        except ImportError:
            print("error CONFIG_ERROR device.board: no board profile %r" % dev.get("board"))
            return
        cause = getattr(board, "reset_cause", lambda: None)()
        if cause == "watchdog":  # the last boot hung until the watchdog reset it
            log.record("watchdog reset")
        asyncio.run(main(doc, board, log))
    except Exception as e:  # noqa: B902 - MemoryError at construction, a task that kept failing...
        gc.collect()
        _reset(board, log, repr(e)[:120])


run()
