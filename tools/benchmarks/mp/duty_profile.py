# tools/bench duty, where a waking node's time goes: firmware/main.py's deep-sleep steps
# (shipped config.json with its duty settings, on the board folder it runs in), each
# timed with ticks_us; run on a board folder whose backlog already holds N-1 readings.
# Prints "@@PROFILE step us" lines. Under MicroPython only.
import time

T = [("start", time.ticks_us())]


def mark(name):
    T.append((name, time.ticks_us()))


import asyncio  # noqa: E402
import gc  # noqa: E402

mark("import asyncio")
import boards  # noqa: E402
from lgmqtt.connector.configfile import read  # noqa: E402

doc = read("config.json", "secrets.json")
board = boards.load("unix", doc["device"])
mark("config.json read, board")
from lgnode import nodecfg, sensors  # noqa: E402

dev = nodecfg.prepare(doc)
dev["sensors"] = sensors.build(dev["sensors"], internal_temperature=board.internal_temperature)
del nodecfg, sensors
mark("device section checked, sensors built")
from lgnode.duty import Wake  # noqa: E402
from lgnode.node import preload  # noqa: E402
from lgnode.telemetry import Telemetry, console  # noqa: E402

preload(dev, (doc["config"].get("remote") or {}).get("enabled", True))
mark("lgnode modules imported")
import lgmqtt  # noqa: E402

Connector = lgmqtt.Connector  # the public name; its modules load here
mark("lgmqtt imported")
conn = Connector(doc)
mark("Connector(config) (validation, flash outbox opened)")
w = Wake(conn, board, dev, Telemetry(conn, board, dev), T[0][1] // 1000)
gc.collect()
mark("node built")


async def go():
    from lgnode.duty import read_rtc, write_rtc

    rtc = read_rtc(board)
    if rtc is not None:
        w.tel.seq = rtc[0]
    else:
        await w.tel.restore_seq()
    mark("sequence number (RTC memory or history)")
    write_rtc(board, w.tel.seq + 1, 0, True)
    await w.tel.tick()
    mark("sampled, written to the flash outbox")
    await conn.execute("mqtt:connection", "connect")
    mark("connected (TCP + CONNECT/CONNACK)")
    await w._drained()
    mark("backlog acknowledged")
    await conn.execute("mqtt:connection", "disconnect")
    mark("DISCONNECT sent")
    await conn.close()
    mark("closed (acks synced to flash)")


asyncio.run(go())
for i in range(1, len(T)):
    print("@@PROFILE %s|%d" % (T[i][0], time.ticks_diff(T[i][1], T[i - 1][1])))
