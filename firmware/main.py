# Composition root of a sensor node: config -> board -> connector -> the node
# (lgnode.node, always on; or lgnode.duty, one deep-sleep wake-up per run).
# Prints one line per event on the console (the sim and a serial monitor read them;
# README "The node's console lines" lists them all):
#   connected broker=HOST:PORT
#   disconnected reason=...
#   published seq=N topic=T          (when the broker acknowledged it)
#   queued seq=N                     (accepted into the outbox while offline)
#   error CODE message
#   sensor-error sensor=ID CODE message       (that sensor's values are null this time)
#   online topic=T / offline topic=T          (availability published)
#   discovery announced=N removed=M prefix=P  (Home Assistant discovery published)
#   command CALL ok ... / command refused CODE [call=CALL]   (remote commands)
#   wake reason=R seq=N pending=P report=yes|no    (deep sleep: a wake-up)
#   flushed sent=N pending=P report_ms=T            (deep sleep: the report's session ended)
#   sleep ms=N awake_ms=T                           (deep sleep: going to sleep)
#   crash task=NAME error            (a task failed; it is started again after a back-off)
#   reset reason=...                 (failures that restarting a task cannot cure, a reboot command, offline too long)
#   safe-mode crashes=N reason=...   (boot loop: nothing started, console and deploy stay reachable)
#
# It never ends by itself: whatever is raised is reported; a task that fails is started
# again (lgnode.supervise); what cannot be cured that way resets the board, and the crash
# count kept in flash stops a boot loop in safe mode.
import asyncio
import gc
import time

T0 = time.ticks_ms()  # the boot's start: a deep-sleep wake-up's time awake counts from here
CRASH_FILE = "lgcrash.txt"


def _device(doc, board):
    # The device section (CONFIG_ERROR names the key; sets the Will) and the sensors,
    # before the connector: their validators are one-shot code, imported here so that
    # no frame of the running node holds them, and gone before the connector's larger
    # allocations come (a heap without compaction keeps the holes they leave).
    from lgnode import nodecfg, sensors

    dev = nodecfg.prepare(doc)
    dev["sensors"] = sensors.build(dev["sensors"], i2c=getattr(board, "i2c", None),
                                   internal_temperature=getattr(board, "internal_temperature", None))
    return dev


async def main(doc, board, log):
    from lgmqtt import ConnectorError

    try:
        dev = _device(doc, board)
        if dev["power"]["mode"] == "deep-sleep":
            from lgnode.duty import run as node
        else:
            from lgnode.node import run as node
        from lgnode.node import preload

        preload(dev, (doc["config"].get("remote") or {}).get("enabled", True))  # before the connector's allocations
        gc.collect()
        from lgmqtt import Connector

        # validates the rest of config.json; the board may offer a raw flash partition
        # for the history log
        conn = Connector(doc, history_storage=board.history_storage)
    except ConnectorError as e:
        print("error %s %s" % (e.error, e.message))
        return  # a wrong config.json: nothing to restart until it is fixed
    # The connector and the node keep validated copies: the parsed config.json (~3 KB)
    # goes before the link's buffers come (run() has let go of it already).
    doc = None
    gc.collect()
    await node(conn, board, dev, log, T0)


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
        finally:
            from lgmqtt.compat import unload

            del read
            unload("lgmqtt.connector.configfile")  # read once per boot
        dev = doc.get("device") if isinstance(doc.get("device"), dict) else {}
        try:
            board = boards.load(dev.get("board", "unix"), dev)
        except ImportError:
            print("error CONFIG_ERROR device.board: no board profile %r" % dev.get("board"))
            return
        cause = getattr(board, "reset_cause", lambda: None)()
        if cause == "watchdog":  # the last boot hung until the watchdog reset it
            log.record("watchdog reset")
        node = main(doc, board, log)
        del doc  # main() alone holds it now, and lets it go once the connector is built
        asyncio.run(node)
    except Exception as e:  # noqa: B902 - MemoryError at construction, a task that kept failing...
        gc.collect()
        _reset(board, log, repr(e)[:120])


run()
