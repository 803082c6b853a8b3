# The ring log: round trips, wrap-around, recovery after reopening, corrupt records
# skipped and counted, torn tails discarded. Runs under CPython and MicroPython.
import os

from check import eq, raises
from faults import body_for, rmtree, tmpdir
from lgmqtt.errors import CONFIG_ERROR, PAYLOAD_TOO_LARGE, STORAGE_ERROR, ConnectorError
from lgmqtt.store.records import Message, peek_topic
from lgmqtt.store.log import HEADER_SIZE, RingLog
from lgmqtt.store.media import FileStorage, RamStorage

HEAP = "1m"


def _all(log, **kw):
    return [(s, t, k, bytes(b)) for s, t, k, b in log.scan(**kw)]


def _seqs(log, **kw):
    return [r[0] for r in log.scan(**kw)]


def _fill(log, n, salt=0):
    out = []
    for _ in range(n):
        seq = log.next_seq
        eq(log.append(seq & 0xFF, body_for(seq, salt), t=1000 + seq), seq)
        out.append(seq)
    return out


def _check_bodies(log, salt=0):
    for s, t, k, b in log.scan():
        eq(bytes(b), body_for(s, salt), "body of %d" % s)
        eq(t, 1000 + s)
        eq(k, s & 0xFF)


def test_round_trip_ram():
    log = RingLog(RamStorage(4096), segment_size=4096, segments=3)
    eq(log.stats["records"], 0)
    eq(log.oldest_seq, 0)
    eq(_all(log), [])
    eq(log.append(1, b"", t=5), 1)
    eq(log.append(2, (b"ab", memoryview(b"xcd")[1:]), t=6), 2)
    big = bytes(i & 0xFF for i in range(2000))  # larger than the read buffer
    eq(log.append(3, big, t=7), 3)
    eq(log.append(255, b"z", t=0xFFFFFFFF), 4)
    want = [(1, 5, 1, b""), (2, 6, 2, b"abcd"), (3, 7, 3, big), (4, 0xFFFFFFFF, 255, b"z")]
    eq(_all(log), want)
    eq(_all(log, newest_first=True), want[::-1])
    eq(_all(log, from_seq=3), want[2:])
    eq(_all(log, from_seq=3, newest_first=True), want[:1:-1])
    eq(_all(log, from_seq=9), [])
    st = log.stats
    eq((st["records"], st["oldest_seq"], st["newest_seq"]), (4, 1, 4))
    eq(st["bytes_used"], 4 * HEADER_SIZE + 0 + 4 + 2000 + 1)


def test_time_defaults_to_clock():
    from lgmqtt.compat import time_s

    log = RingLog(RamStorage(), segment_size=1024, segments=2)
    t0 = int(time_s())
    log.append(0, b"x")
    t = _all(log)[0][1]
    assert t0 <= t <= t0 + 5, t


def test_caller_errors():
    e = raises(ConnectorError, RingLog, RamStorage(), 4096, 1)
    eq(e.error, CONFIG_ERROR)
    log = RingLog(RamStorage(), segment_size=256, segments=2)
    e = raises(ConnectorError, log.append, 1, bytes(256 - HEADER_SIZE + 1))
    eq(e.error, PAYLOAD_TOO_LARGE)
    eq(e.details["max"], 256 - HEADER_SIZE)
    e = raises(ConnectorError, log.append, 256, b"")
    eq(e.error, STORAGE_ERROR)
    eq(log.append(0, bytes(256 - HEADER_SIZE)), 1)  # exactly a segment fits
    eq(log.stats["records"], 1)


def test_wrap_around_many_times():
    seg = 1024
    log = RingLog(RamStorage(seg), segment_size=seg, segments=3)
    dropped_seen = 0
    for _ in range(1500):
        seq = log.next_seq
        body = body_for(seq)
        predicted = log.would_drop(len(body))
        before = log.oldest_seq
        log.append(seq & 0xFF, body, t=1000 + seq)
        if predicted:
            # The reclaim dropped exactly the oldest segment: everything up to predicted.
            eq(before <= predicted, True)
            eq(log.oldest_seq, predicted + 1)
            dropped_seen += 1
        else:
            eq(log.oldest_seq, before or 1)
    st = log.stats
    assert st["reclaimed_segments"] > 100, st
    eq(st["reclaimed_segments"], dropped_seen)
    seqs = _seqs(log)
    eq(seqs, list(range(log.oldest_seq, 1501)))
    eq(st["records"], len(seqs))
    # Never more than the capacity; the two newest segments always full-ish.
    assert st["bytes_used"] <= 3 * seg
    assert st["bytes_used"] > seg, st
    eq(_seqs(log, newest_first=True), seqs[::-1])
    _check_bodies(log)


def test_reopen_continues_seq_file():
    d = tmpdir("rl")
    try:
        log = RingLog(FileStorage(d), segment_size=2048, segments=4)
        _fill(log, 200)
        before = _all(log)
        st = log.stats
        log.close()
        eq(sorted(os.listdir(d)), ["seg0.log", "seg1.log", "seg2.log", "seg3.log"])
        log = RingLog(FileStorage(d), segment_size=2048, segments=4)
        eq(_all(log), before)
        eq(log.next_seq, 201)
        st2 = log.stats
        for k in ("records", "bytes_used", "oldest_seq", "newest_seq"):
            eq(st2[k], st[k], k)
        eq((st2["corrupt_skipped"], st2["torn_tail"]), (0, 0))
        _fill(log, 100)
        log.close()
        log = RingLog(FileStorage(d), segment_size=2048, segments=4)
        eq(log.newest_seq, 300)
        eq(_seqs(log), list(range(log.oldest_seq, 301)))
        _check_bodies(log)
        log.close()
    finally:
        rmtree(d)


def test_reopen_ram_and_empty_segments():
    st = RamStorage(512)
    log = RingLog(st, segment_size=512, segments=4)
    _fill(log, 3)  # only segment 0 used
    log.close()
    log = RingLog(st, segment_size=512, segments=4)
    eq(_seqs(log), [1, 2, 3])
    eq(log.append(9, b"more", t=1), 4)


def _segment_with(d, seq):
    # (file name, offset) of record `seq` (the log's own format, read back by hand).
    import struct

    for n in sorted(os.listdir(d)):
        with open(d + "/" + n, "rb") as f:
            data = f.read()
        p = 0
        while p + HEADER_SIZE <= len(data):
            magic, kind, blen, s, t, crc = struct.unpack_from("<BBHIII", data, p)
            if s == seq:
                return d + "/" + n, p
            p += HEADER_SIZE + blen
    raise AssertionError("record %d not found" % seq)


def _poke(path, off, data):
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)


def _read_at(path, off, n):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(n)


def test_corrupt_records_skipped_and_counted():
    d = tmpdir("rl")
    try:
        log = RingLog(FileStorage(d), segment_size=2048, segments=3)
        _fill(log, 40)
        log.close()
        # A flipped bit in a body, a mangled length field, and a mangled magic byte.
        at10, at20, at30 = _segment_with(d, 10), _segment_with(d, 20), _segment_with(d, 30)
        path, off = at10
        b = _read_at(path, off + HEADER_SIZE + 3, 1)[0]
        _poke(path, off + HEADER_SIZE + 3, bytes((b ^ 0x10,)))
        _poke(at20[0], at20[1] + 2, b"\xff\x7f")  # length 32767: past the segment
        _poke(at30[0], at30[1], b"\x00")  # looks like padding, then garbage: resync
        log = RingLog(FileStorage(d), segment_size=2048, segments=3)
        st = log.stats
        # One count per unreadable run of bytes (how many records it held is unknowable).
        eq(st["corrupt_skipped"], 3)
        eq(st["torn_tail"], 0)
        eq(_seqs(log), [s for s in range(1, 41) if s not in (10, 20, 30)])
        eq(_seqs(log, newest_first=True), [s for s in range(40, 0, -1) if s not in (10, 20, 30)])
        _check_bodies(log)
        eq(log.append(1, b"next", t=1), 41)
        log.close()
    finally:
        rmtree(d)


def test_torn_tail_discarded_and_repaired():
    d = tmpdir("rl")
    try:
        log = RingLog(FileStorage(d), segment_size=4096, segments=2)
        _fill(log, 10)
        log.close()
        path, off = _segment_with(d, 10)
        whole = _read_at(path, off, 200)
        for cut in (3, HEADER_SIZE, HEADER_SIZE + 5):
            # Record 11 torn after `cut` bytes: a copy of record 10 with seq 11, cut short.
            rec = bytearray(whole)
            rec[4] = 11
            _poke(path, off + len(whole), bytes(rec[:cut]))
            log = RingLog(FileStorage(d), segment_size=4096, segments=2)
            st = log.stats
            eq((st["torn_tail"], st["corrupt_skipped"], st["newest_seq"]), (1, 0, 10))
            eq(_seqs(log), list(range(1, 11)))
            _check_bodies(log)
            log.close()
        log = RingLog(FileStorage(d), segment_size=4096, segments=2)
        eq(log.stats["torn_tail"], 0)  # the tail was zeroed on the first reopen
        eq(log.append(11 & 0xFF, body_for(11), t=1011), 11)
        log.close()
        log = RingLog(FileStorage(d), segment_size=4096, segments=2)
        eq((log.stats["torn_tail"], log.stats["corrupt_skipped"]), (0, 0))
        eq(_seqs(log), list(range(1, 12)))
        _check_bodies(log)
        log.close()
    finally:
        rmtree(d)


def test_garbage_never_raises():
    st = RamStorage()
    for i in range(3):
        seg = st.open(i, True)
        seg.write(0, os.urandom(3000))
    # Garbage with many magic bytes in it (each one a resync candidate).
    st.open(1, True).write(100, b"\xa1" * 500)
    log = RingLog(st, segment_size=4096, segments=3)
    eq(log.stats["records"], 0)
    eq(_all(log), [])
    eq(log.append(1, b"after garbage", t=1), 1)
    eq(_all(log), [(1, 1, 1, b"after garbage")])
    log = RingLog(st, segment_size=4096, segments=3)
    eq(_all(log), [(1, 1, 1, b"after garbage")])


def test_storage_error_is_connector_error():
    class Broken(RamStorage):
        fail = False

        def open(self, i, create=False):
            s = RamStorage.open(self, i, create)
            if s is not None and self.fail:
                def bad(pos, data):
                    raise OSError(28)

                s.write = bad
            return s

    st = Broken()
    log = RingLog(st, segment_size=1024, segments=2)
    log.append(1, b"ok", t=1)
    log.close()
    st.fail = True
    log = RingLog(st, segment_size=1024, segments=2)
    e = raises(ConnectorError, log.append, 1, b"x")
    eq(e.error, STORAGE_ERROR)
    st.fail = False
    log2 = RingLog(st, segment_size=1024, segments=2)
    eq(_seqs(log2), [1])


def test_message_records():
    # a message is stored as the PUBLISH it travels as (encoded once), read back whole
    from lgmqtt.store.history import message
    from lgmqtt.store.journal import K_PENDING, K_RECEIVED

    log = RingLog(RamStorage(), segment_size=4096, segments=2)
    ms = [message("sensors/t", b"21.5", 1), message("a/\u00e9", "text", 2, True, {0x03: "text/plain"}),
          message("e", b"")]
    for i, m in enumerate(ms):
        log.append(K_PENDING if i else K_RECEIVED, m.parts(), t=i)
    got = [Message.of_record(k, b, s, t) for s, t, k, b in log.scan()]
    eq([(m.topic(), m.payload(), m.qos, m.retain, m.props(), m.version) for m in got], [
        ("sensors/t", b"21.5", 1, False, None, 4),
        ("a/\u00e9", b"text", 2, True, {0x03: "text/plain"}, 5),
        ("e", b"", 0, False, None, 4)])
    eq([peek_topic(k, b) for s, t, k, b in log.scan(newest_first=True)], ["e", "a/\u00e9", "sensors/t"])
    head, body = message("x", b"p" * 100, 1).parts()
    eq((len(head), len(body)), (2, 2 + 1 + 2 + 100))  # version + first byte; the body is a view, not a copy
    # the packet the session sends: the stored bytes with a fixed header
    pk = got[1].packet()
    eq((pk[0], pk[1], bytes(pk[2:])), (0x35, len(got[1].body), bytes(got[1].body)))
    # records written by lgmqtt 0.1 (their own format) read back as the same messages
    # (0.1 kept the property block as encoded, its own length first, behind a u16 length)
    old = [(0x10, b"\x01\x00\x03a/bhi"), (0x12, b"\x0e\x00\x01t\x00\x03\x02\x01\x01p")]
    got = [Message.of_record(k, b) for k, b in old]
    eq([(m.topic(), m.payload(), m.qos, m.retain, m.props(), peek_topic(k, b)) for m, (k, b) in zip(got, old)], [
        ("a/b", b"hi", 1, False, None, "a/b"), ("t", b"p", 2, True, {0x01: 1}, "t")])
