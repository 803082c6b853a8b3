# Ring log figures under MicroPython on the flash emulator (tools/fakes/flashsim):
# appends per second (100-byte payload), flash bytes programmed and blocks erased per
# record, time to open and recover a full 256 KB log, time to read the newest 100
# records of one topic from a full log. Two storage layouts: segment files on LittleFS
# (vfs.VfsLfs2, what the boards mount) and the raw block device (BlockStorage, an
# esp32.Partition-style partition). Times include the emulator's own Python cost.
#
#   micropython tools/benchmarks/ringlog.py [records]
import sys
import time

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, _here + "/../fakes")
sys.path.insert(0, _here + "/../../lib")
sys.path.insert(0, _here)

from flashsim import lfs_boot, raw_boot  # noqa: E402
import lgapi  # noqa: E402

pack_message, peek_topic = lgapi.log_message()
RingLog = lgapi.ringlog_class()

SEG, NSEG = 65536, 4  # 256 KB of log
TOPICS = 5
PAYLOAD = bytes(range(100))


def _ms(t0):
    return time.ticks_diff(time.ticks_us(), t0) / 1000


def bench(name, boot, records):
    st, bd = boot(None)
    log = RingLog(st, segment_size=SEG, segments=NSEG)
    bd.reset_counters()
    t0 = time.ticks_us()
    for i in range(records):
        log.append(1, pack_message("bench/t%d" % (i % TOPICS), PAYLOAD, qos=1))
    ms = _ms(t0)
    s = log.stats
    print("%s: %d appends in %.0f ms = %.0f appends/s; record %d B on flash" % (
        name, records, ms, records * 1000 / ms, s["bytes_used"] // s["records"]))
    print("  per record: %.0f bytes programmed, %.3f blocks erased (%.0f bytes)" % (
        bd.programmed / records, bd.erased / records, bd.erased * 4096 / records))
    print("  log: %d records, %d bytes used, %d segments reclaimed" % (
        s["records"], s["bytes_used"], s["reclaimed_segments"]))
    log.close()
    st, bd = boot(bd)  # reboot: remount, open and recover the full log
    t0 = time.ticks_us()
    log = RingLog(st, segment_size=SEG, segments=NSEG)
    ms = _ms(t0)
    print("  open + recover full log (%d records, %d KB): %.0f ms" % (
        log.stats["records"], log.stats["bytes_used"] // 1024, ms))
    t0 = time.ticks_us()
    got = []
    it = log.scan(newest_first=True)
    for seq, t, kind, body in it:
        if peek_topic(body) == "bench/t3":
            got.append(seq)
            if len(got) == 100:
                break
    it.close()  # releases the segment file now (MicroPython does not on collection)
    ms = _ms(t0)
    print("  newest 100 records of 1 topic (of %d): %.0f ms (%d found)" % (TOPICS, ms, len(got)))
    log.close()


def main():
    records = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    print("MicroPython %s, %d records of %d-byte payload, %d topics, log %d x %d KB" % (
        sys.version, records, len(PAYLOAD), TOPICS, NSEG, SEG // 1024))
    bench("LittleFS (VfsLfs2, 512 KB fs)", lfs_boot(128), records)
    bench("raw flash (BlockStorage)", raw_boot(SEG, NSEG), records)


main()
