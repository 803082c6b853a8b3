# Child for test_ringlog_kill.py, run under MicroPython: opens the ring log in a
# directory (recovering whatever the last kill left), prints its state, then appends
# forever, printing each seq once its append has returned (durable). Killed with -9.
import sys

from faults import body_for
from lgmqtt.store.log import RingLog
from lgmqtt.store.media import FileStorage

path, seg_size, nseg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
log = RingLog(FileStorage(path), segment_size=seg_size, segments=nseg)
st = log.stats
sys.stdout.write("open %d %d %d %d\n" % (st["oldest_seq"], st["newest_seq"], st["torn_tail"], st["corrupt_skipped"]))
while True:
    seq = log.next_seq
    body = memoryview(body_for(seq))
    # In 4-byte parts: one write call each, so the kill often lands inside a record.
    log.append(seq & 0xFF, tuple(body[i:i + 4] for i in range(0, len(body), 4)), t=seq)
    sys.stdout.write("%d\n" % seq)
