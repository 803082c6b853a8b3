# History and outbox figures under MicroPython on the flash emulator
# (tools/fakes/flashsim), for segment files on LittleFS (vfs.VfsLfs2, what the
# boards mount) and the raw block device (BlockStorage, an esp32.Partition-style
# partition), 256 KB of log (4 x 64 KB):
# - outbox put + ack per second, and flash bytes programmed / blocks erased per put+ack,
#   with lazy acks (the default: an ack rides in the next put's flush) and with a
#   sync() after every ack (durable acks);
# - opening the full store (ring log recovery + the journal's state scan);
# - history read of the newest 100 messages of one topic (of 5) from the full log;
# - the longest event-loop stall while a full-log history query runs through the
#   connector's paced scan (lgmqtt.connector.delivery.paced: a turn every history.PACE records),
#   next to the same query run in one go: a ticker task measures its wake-up gaps.
# Times include the emulator's own Python cost.
#
#   micropython -X heapsize=16m tools/benchmarks/history.py [puts]
import sys
import time

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../fakes")
sys.path.insert(0, _here + "/../../lib")
sys.path.insert(0, _here)

from flashsim import lfs_boot, raw_boot  # noqa: E402
import lgapi  # noqa: E402

RingLog = lgapi.ringlog_class()

SEG, NSEG = 65536, 4
TOPICS = 5
PAYLOAD = bytes(range(100))


def _ms(t0):
    return time.ticks_diff(time.ticks_us(), t0) / 1000


def _open(st):
    log = RingLog(st, segment_size=SEG, segments=NSEG)
    st = lgapi.store_class()(log)
    return st.history, st.outbox


def put_ack(name, boot, n, durable_acks):
    st, bd = boot(None)
    h, ob = _open(st)
    bd.reset_counters()
    t0 = time.ticks_us()
    for i in range(n):
        oid = ob.put("bench/t%d" % (i % TOPICS), PAYLOAD, 1)
        ob.ack(oid)
        if durable_acks:
            ob.store.sync()
    ms = _ms(t0)
    print("%s, %s acks: %d put+ack in %.0f ms = %.0f /s" % (
        name, "durable (sync per ack)" if durable_acks else "lazy", n, ms, n * 1000 / ms))
    print("  per put+ack: %.0f bytes programmed, %.3f blocks erased (%.0f bytes)" % (
        bd.programmed / n, bd.erased / n, bd.erased * 4096 / n))
    ob.store.close()


def fill_and_read(name, boot, n):
    st, bd = boot(None)
    h, ob = _open(st)
    # A full log that has wrapped: history records of 5 topics, some outbox traffic.
    i = 0
    while h.log.stats["reclaimed_segments"] < 2 or not h.log.would_drop(200):
        h.record("received", "bench/t%d" % (i % TOPICS), PAYLOAD, 1)
        if i % 10 == 0:
            ob.ack(ob.put("bench/out", PAYLOAD, 1))
        i += 1
    h.store.close()
    st, bd = boot(bd)
    t0 = time.ticks_us()
    h, ob = _open(st)
    ms = _ms(t0)
    s = h.log.stats
    print("%s: open full store (%d records, %d KB): %.0f ms" % (name, s["records"], s["bytes_used"] // 1024, ms))
    t0 = time.ticks_us()
    got = h.read("bench/t3", limit=100)
    ms = _ms(t0)
    print("  history read newest 100 of 1 topic (of %d): %.0f ms (%d found)" % (TOPICS, ms, len(got)))
    t0 = time.ticks_us()
    got = h.read("bench/#", limit=100, since="2000-01-01T00:00:00Z")
    print("  history read newest 100 of bench/# since an ISO time: %.0f ms" % _ms(t0))
    stalls(h)
    h.store.close()


def stalls(h):
    import asyncio

    paced = lgapi.paced()

    async def ticker(gaps, stop):
        last = time.ticks_us()
        while not stop:
            await asyncio.sleep(0)
            now = time.ticks_us()
            gaps.append(time.ticks_diff(now, last))
            last = now

    async def run(query):
        gaps, stop = [], []
        t = asyncio.create_task(ticker(gaps, stop))
        await asyncio.sleep(0)
        t0 = time.ticks_us()
        n = await query()
        ms = _ms(t0)
        stop.append(1)
        await t
        return max(gaps) / 1000, ms, n

    async def whole():
        return len(h.read("nomatch/#", limit=100))  # the whole log walked, in one go

    async def stepped():
        return len(await paced(h.read_steps("nomatch/#", 100)))

    async def both():
        w = await run(whole)
        p = await run(stepped)
        print("  longest loop stall during a full-log history scan: %.1f ms paced (scan %.0f ms), %.1f ms "
              "in one go (scan %.0f ms)" % (p[0], p[1], w[0], w[1]))

    asyncio.run(both())


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print("MicroPython %s, %d-byte payload, log %d x %d KB" % (sys.version, len(PAYLOAD), NSEG, SEG // 1024))
    for name, boot in (("LittleFS (VfsLfs2, 512 KB fs)", lfs_boot(128)),
                       ("raw flash (BlockStorage)", raw_boot(SEG, NSEG))):
        put_ack(name, boot, n, False)
        put_ack(name, boot, n // 4, True)
        fill_and_read(name, boot, n)


main()
