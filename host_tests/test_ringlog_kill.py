"""Kill -9 of a MicroPython process while it appends to the ring log, several times in
a row: after each restart everything whose append had returned (the child printed its
seq) is intact, nothing appears twice, seq continues. The log written by MicroPython is
also read back by CPython's ringlog (same files, same code)."""
import os
import random

from lghost.mpy import FAKES, PORTABLE, kill9_after
from faults import body_for
from lgmqtt.store.log import RingLog
from lgmqtt.store.media import FileStorage

HERE = os.path.dirname(os.path.abspath(__file__))
SEG, NSEG = 4096, 4


def _run_until_killed(path, delay):
    # The parent drains the child's stdout all the time (a full pipe would park the
    # child in print() and every kill would land there) and kills after `delay` s.
    lines = kill9_after(os.path.join(HERE, "ringlog_child.py"), [path, str(SEG), str(NSEG)], delay,
                        path=[PORTABLE, FAKES])
    head = lines[0].split()
    assert head[0] == "open", lines[:3]
    return [int(x) for x in head[1:]], [int(x) for x in lines[1:]]


def _check(path, acked):
    log = RingLog(FileStorage(path), segment_size=SEG, segments=NSEG)
    seqs = []
    for s, t, k, b in log.scan():
        assert bytes(b) == body_for(s) and t == s and k == s & 0xFF, s
        seqs.append(s)
    lo = log.oldest_seq
    assert seqs == list(range(lo, lo + len(seqs)))  # in order, once each, no holes
    st = log.stats
    assert st["corrupt_skipped"] == 0, st
    missing = [s for s in acked if s >= lo and s not in set(seqs)]
    assert not missing, missing
    # Only the record in flight at the kill may be beyond what was printed... or more
    # were durable but not yet read by us: never fewer.
    assert log.newest_seq >= acked[-1]
    log.close()
    return log.newest_seq, lo


def test_kill_9_while_appending(tmp_path):
    rng = random.Random(5)
    path = str(tmp_path / "log")
    newest = 0
    reclaimed_through = 0
    torn_seen = 0
    for round_ in range(12):
        (oldest0, newest0, torn, corrupt), acked = _run_until_killed(path, rng.uniform(0.15, 0.5))
        # The child recovered what the previous kill left: same newest as we saw.
        assert newest0 == newest, (round_, newest0, newest)
        assert corrupt == 0
        torn_seen += torn
        assert acked, "the child appended nothing before the kill"
        assert acked[0] == newest + 1 and acked == list(range(acked[0], acked[0] + len(acked)))
        newest, lo = _check(path, acked)
        assert lo >= reclaimed_through
        reclaimed_through = lo
    assert reclaimed_through > 1  # the rounds wrapped the log
    print("torn tails recovered:", torn_seen)
