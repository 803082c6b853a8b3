# Runs under MicroPython: how the store's costs grow with the log. For each size, a
# file store (segment files in a fresh folder, 4 segments as config.history defaults
# to) is filled with 100-byte messages on 5 topics until it has wrapped once, with an
# outbox put+ack every 10 records and 50 messages left pending; then it is reopened:
#   open_ms     open_store on the full log: ring log recovery + the outbox's state scan
#   newest_ms   history read, newest 100 of one topic (of 5)
#   scan_ms     history read of a topic with no message: the whole log is scanned
# Times are lgmqtt's own work on host files (the same FileStorage a board uses on
# LittleFS; a board's flash is slower).
#   micropython store_scale.py SIZES(comma list, bytes)
import json
import os
import sys
import time

import lgapi

SIZES = [int(x) for x in sys.argv[1].split(",")]
PAYLOAD = bytes(range(100))


def ms(t0):
    return time.ticks_diff(time.ticks_us(), t0) / 1000


def rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        os.remove(path + "/" + n)
    os.rmdir(path)


def one(size):
    path = "/tmp/lgb-store-%d-%d" % (size, time.ticks_us() & 0xFFFFFF)
    rmtree(path)
    cfg = {"path": path, "size": size}
    h, ob = lgapi.open_store(cfg)
    i = 0
    while h.stats()["oldestId"] in (None, 0, 1):
        h.record("received", "lgb/t%d" % (i % 5), PAYLOAD, 1)
        if i % 10 == 0:
            ob.ack(ob.put("lgb/out", PAYLOAD, 1))
        i += 1
    for _ in range(50):
        ob.put("lgb/out", PAYLOAD, 1)
    h.store.close()
    t0 = time.ticks_us()
    h, ob = lgapi.open_store(cfg)
    open_ms = ms(t0)
    st = h.stats()
    t0 = time.ticks_us()
    got = h.read("lgb/t3", limit=100)
    newest_ms = ms(t0)
    t0 = time.ticks_us()
    none = h.read("lgb/none", limit=100)
    scan_ms = ms(t0)
    res = {"size": size, "records": st["records"], "bytes": st["bytesUsed"], "pending": ob.stats()["pending"],
           "open_ms": open_ms, "newest_ms": newest_ms, "scan_ms": scan_ms, "found": len(got), "scan_found": len(none)}
    h.store.close()
    rmtree(path)
    return res


for s in SIZES:
    try:
        r = one(s)
        r["status"] = "ok"
    except Exception as e:
        r = {"size": s, "status": "error", "reason": "%s: %s" % (type(e).__name__, e)}
    print("@@BENCH " + json.dumps(r))
