# Message history over the ring log: round trips in the seed's shape, filters with
# wildcards, since (ISO-8601 and id), limit, ordering, clear (one filter, all; surviving
# reopen and wrap-around), the retained view, recovery, open_store's config checks, and
# ISO-8601 time without datetime. Runs under CPython and MicroPython.
from check import eq, raises
from faults import rmtree, tmpdir
from lgmqtt.errors import CONFIG_ERROR, INVALID_PARAMS, TOPIC_ERROR, ConnectorError
from lgmqtt.store import Store
from lgmqtt.isotime import civil_from_days, days_from_civil, format_iso, parse_iso
from lgmqtt.store.log import RingLog
from lgmqtt.store.media import FileStorage, RamStorage
from lgmqtt.store import open_store

HEAP = "1m"
T0 = 1705276800  # 2024-01-15T00:00:00Z


def _log(seg=2048, n=4, storage=None):
    return RingLog(storage or RamStorage(seg), segment_size=seg, segments=n)


def _ids(entries):
    return [e["id"] for e in entries]


def test_iso_time_known_values():
    eq(format_iso(0), "1970-01-01T00:00:00Z")
    eq(format_iso(T0), "2024-01-15T00:00:00Z")
    eq(format_iso(951782400), "2000-02-29T00:00:00Z")
    eq(format_iso(0xFFFFFFFF), "2106-02-07T06:28:15Z")
    eq(parse_iso("2024-01-15T00:00:00Z"), T0)
    eq(parse_iso("2024-01-15"), T0)
    eq(parse_iso("2024-01-15T00:00Z"), T0)
    eq(parse_iso("2024-01-15 01:30:00+01:30"), T0)
    eq(parse_iso("2024-01-14T23:00:00-0100"), T0)
    eq(parse_iso("2024-01-15T00:00:00.999Z"), T0)
    eq(days_from_civil(2000, 3, 1), 11017)
    eq(civil_from_days(11017), (2000, 3, 1))
    eq(civil_from_days(-1), (1969, 12, 31))
    for bad in ("", "2024", "2024-13-01", "2024-02-30", "2023-02-29", "2024-01-15T24:00:00Z",
                "2024-01-15T", "2024-01-15T00:00:00Zx", "2024-01-15T00:00:00.Z", "2024/01/15", 5):
        raises(ValueError, parse_iso, bad)


def test_record_and_read_in_the_seeds_shape():
    h = Store(_log(), clock=lambda: T0 + 7).history
    eq(h.record("received", "sensors/temp", b"21.5", qos=1), 1)
    eq(h.record("published", "cmd/led", "on", qos=0, retain=True, t=T0 + 9), 2)
    eq(h.read(), [
        {"id": 2, "topic": "cmd/led", "payload": b"on", "qos": 0, "retain": True,
         "direction": "published", "timestamp": "2024-01-15T00:00:09Z"},
        {"id": 1, "topic": "sensors/temp", "payload": b"21.5", "qos": 1, "retain": False,
         "direction": "received", "timestamp": "2024-01-15T00:00:07Z"},
    ])
    eq(_ids(h.read(newest_first=False)), [1, 2])
    e = raises(ConnectorError, h.record, "sideways", "a", b"")
    eq(e.error, INVALID_PARAMS)


def test_properties_round_trip():
    h = Store(_log()).history
    props = {0x03: "application/json", 0x26: [("k", "v"), ("k", "w")], 0x02: 60}
    h.record("received", "a/b", b"{}", 1, props=props, t=T0)
    eq(h.read()[0]["properties"], props)
    h.record("received", "a/c", b"x", 1, props={}, t=T0)
    assert "properties" not in h.read(limit=1)[0]


def test_record_filters_choose_topics():
    log = _log()
    st = Store(log, record=["sensors/#", "+/status"])
    h = st.history
    assert h.wants("sensors/a/b") and h.wants("dev/status") and not h.wants("cmd/x")
    eq(h.record("received", "cmd/x", b"1"), 0)
    assert h.record("received", "sensors/t", b"2")
    assert h.record("published", "dev/status", b"3")
    eq([e["topic"] for e in h.read()], ["dev/status", "sensors/t"])
    # Outbox messages are always in the log, but history shows only recorded topics.
    ob = st.outbox
    ob.put("cmd/y", b"4", 1)
    ob.put("sensors/u", b"5", 1)
    eq([e["topic"] for e in h.read()], ["sensors/u", "dev/status", "sensors/t"])
    eq(h.read()[0]["direction"], "published")
    e = raises(ConnectorError, Store, log, ["a/#/b"])
    eq(e.error, TOPIC_ERROR)


def _filled(n=60):
    h = Store(_log(4096, 4)).history
    for i in range(n):
        h.record("received" if i % 2 else "published", "s/%d/v" % (i % 3), b"%d" % i, i % 3, t=T0 + 10 * i)
    return h


def test_read_filter_since_limit_ordering():
    h = _filled()
    # ids are 1..60 (record i has id i + 1, time T0 + 10 i, topic s/(i % 3)/v)
    eq(_ids(h.read(limit=3)), [60, 59, 58])
    eq(_ids(h.read(limit=3, newest_first=False)), [1, 2, 3])
    eq(_ids(h.read("s/1/v", limit=4)), [59, 56, 53, 50])
    eq(_ids(h.read("s/+/v", limit=2)), [60, 59])
    eq(_ids(h.read("s/#", limit=2, newest_first=False)), [1, 2])
    eq(_ids(h.read("s/2/#", limit=100)), list(range(60, 0, -3)))
    eq(h.read("nothing/+"), [])
    eq(len(h.read(limit=1000)), 60)
    eq(h.read(limit=0), [])
    # since an id: strictly after it (the last id read is the next since).
    eq(_ids(h.read(since=55)), [60, 59, 58, 57, 56])
    eq(_ids(h.read(since=55, limit=2, newest_first=False)), [56, 57])
    eq(_ids(h.read("s/0/v", since=50)), [58, 55, 52])
    eq(h.read(since=60), [])
    # since a time: timestamp >= it.
    eq(_ids(h.read(since=format_iso(T0 + 570))), [60, 59, 58])
    eq(_ids(h.read(since="2024-01-15T00:09:31Z")), [60, 59])
    eq(_ids(h.read("s/1/v", since="2024-01-15T00:08:00Z", newest_first=False)), [50, 53, 56, 59])
    eq(len(h.read(since="2020-01-01T00:00:00Z", limit=1000)), 60)
    # paging forward
    page, seen = h.read(limit=7, newest_first=False), []
    while page:
        seen += _ids(page)
        page = h.read(limit=7, since=page[-1]["id"], newest_first=False)
    eq(seen, list(range(1, 61)))
    for bad in ("yesterday", "2024-13-01", True, 1.5):
        eq(raises(ConnectorError, h.read, since=bad).error, INVALID_PARAMS)
    eq(raises(ConnectorError, h.read, limit=-1).error, INVALID_PARAMS)
    eq(raises(ConnectorError, h.read, "a/#/b").error, TOPIC_ERROR)


def test_wrap_around_many_times():
    log = _log(1024, 3)
    h = Store(log).history
    for i in range(2000):
        h.record("received", "w/%d" % (i % 4), bytes([i & 0xFF]) * (10 + i % 50), t=T0 + i)
    st = log.stats
    assert st["reclaimed_segments"] > 100, st
    got = h.read(limit=10000, newest_first=False)
    ids = _ids(got)
    assert 20 < len(ids) < 60, len(ids)
    # History records are consecutive; checkpoints (one per segment) sit between them.
    for e in got:
        i = e["timestamp"]
        k = parse_iso(i) - T0
        eq(e["topic"], "w/%d" % (k % 4))
        eq(e["payload"], bytes([k & 0xFF]) * (10 + k % 50))
    eq(got[-1]["payload"], bytes([1999 & 0xFF]) * (10 + 1999 % 50))
    eq(_ids(h.read("w/3", limit=3)), [e["id"] for e in got if e["topic"] == "w/3"][-3:][::-1])


def test_clear_one_filter_and_all():
    h = _filled(30)
    h.clear("s/1/#")
    eq(h.read("s/1/v"), [])
    eq(len(h.read(limit=100)), 20)
    h.record("received", "s/1/v", b"new", t=T0)
    eq([e["payload"] for e in h.read("s/1/v")], [b"new"])
    h.clear("s/+/v")  # a wider filter on top
    eq(h.read(limit=100), [])
    h.record("received", "s/2/v", b"after", t=T0)
    h.record("received", "other", b"o", t=T0)
    h.clear()
    eq(h.read(limit=100), [])
    h.record("received", "s/0/v", b"z", t=T0)
    eq([e["payload"] for e in h.read()], [b"z"])
    eq(h.stats()["clears"], 1)  # clear-all superseded the filters
    eq(raises(ConnectorError, h.clear, "a/#/b").error, TOPIC_ERROR)


def test_clear_survives_reopen_and_wrap():
    d = tmpdir("hist")
    try:
        log = _log(1024, 3, FileStorage(d))
        h = Store(log).history
        for i in range(12):
            h.record("received", "keep/%d" % (i % 2), b"k%d" % i, t=T0 + i)
            h.record("received", "gone/%d" % (i % 2), b"g%d" % i, t=T0 + i)
        h.clear("gone/#")
        h.clear("keep/1")
        h.record("received", "gone/0", b"fresh", t=T0 + 100)
        h.store.close()
        h = Store(_log(1024, 3, FileStorage(d))).history
        eq([e["payload"] for e in h.read("gone/#")], [b"fresh"])
        eq([e["payload"] for e in h.read("keep/#", limit=3)], [b"k10", b"k8", b"k6"])
        # Wrap: every old record goes; the tombstones ride along in checkpoints while
        # anything they hide is still in the log, and never hide a newer record.
        n = 0
        while h.log.oldest_seq < 30:
            h.record("received", "fill", b"x" * 40, t=T0 + 200)
            n += 1
            for e in h.read("gone/#", limit=100):
                assert e["payload"] == b"fresh", e
            for e in h.read("keep/1", limit=100):
                raise AssertionError("cleared record came back: %r" % (e,))
            if n % 7 == 0:  # reopen now and then, mid-wrap
                h.store.close()
                h = Store(_log(1024, 3, FileStorage(d))).history
        h.record("received", "keep/1", b"later", t=T0 + 300)
        eq([e["payload"] for e in h.read("keep/1")], [b"later"])
        eq(h.stats()["clears"], 0)  # nothing left to hide: the tombstones died
        h.store.close()
    finally:
        rmtree(d)


def test_retained_last_per_topic():
    log = _log()
    h = Store(log).history
    h.record("received", "r/a", b"1", 1, True, t=T0)
    h.record("received", "r/b", b"2", 0, True, t=T0)
    h.record("received", "r/a", b"3", 0, False, t=T0)  # not retained: does not count
    h.record("published", "r/c", b"4", 1, True, t=T0)
    h.record("received", "r/b", b"", 0, True, t=T0)  # empty retained: clears r/b
    h.store.outbox.put("r/d", b"5", 1, True)
    eq([(e["topic"], e["payload"]) for e in h.retained()], [("r/d", b"5"), ("r/c", b"4"), ("r/a", b"1")])
    eq([e["topic"] for e in h.retained("r/+")], ["r/d", "r/c", "r/a"])
    eq([e["topic"] for e in h.retained("r/a")], ["r/a"])
    h.record("received", "r/a", b"6", 1, True, t=T0)
    eq(h.retained("r/a")[0]["payload"], b"6")
    h.clear("r/a")
    eq([e["topic"] for e in h.retained()], ["r/d", "r/c"])


def test_recovery_after_reopen_with_torn_tail():
    d = tmpdir("hist")
    try:
        h = Store(_log(2048, 3, FileStorage(d))).history
        for i in range(40):
            h.record("received", "t/%d" % (i % 2), b"v%d" % i, t=T0 + i)
        before = h.read(limit=1000)
        h.store.close()
        # A torn half-record at the end of the active segment.
        import os

        names = sorted(os.listdir(d), key=lambda n: -os.stat(d + "/" + n)[8])
        with open(d + "/" + names[0], "ab") as f:
            f.write(b"\xa1\x10\x40\x00partial")
        h = Store(_log(2048, 3, FileStorage(d))).history
        eq(h.read(limit=1000), before)
        h.record("received", "t/0", b"again", t=T0)
        eq(h.read(limit=1)[0]["payload"], b"again")
        h.store.close()
    finally:
        rmtree(d)


def test_lazy_records_durable_after_sync():
    # RamStorage keeps writes either way; check sync() and close() leave no unsaved acks.
    log = _log()
    st = Store(log)
    h, ob = st.history, st.outbox
    a = ob.put("x", b"1", 1)
    h.record("received", "y", b"2")
    ob.ack(a)
    eq(ob.stats()["unsavedAcks"], 1)
    h.store.sync()
    eq(ob.stats()["unsavedAcks"], 0)


def test_open_store_config():
    st = open_store({"size": 8192, "record": ["a/#"], "outboxPolicy": "refuse-new"})
    h, ob = st.history, st.outbox
    assert h.log is ob.log
    eq(h.log.stats["capacity"], 8192)
    eq(ob.policy, "refuse-new")
    assert h.record("received", "a/b", b"1") and not h.record("received", "b", b"1")
    h = open_store(None).history
    eq(h.log.segments, 4)
    d = tmpdir("store")
    try:
        ob = open_store({"path": d + "/h", "size": 4096, "segments": 2}).outbox
        oid = ob.put("q", b"1", 1)
        ob.store.close()
        ob = open_store({"path": d + "/h", "size": 4096, "segments": 2}).outbox
        eq(ob.pending_ids(), [oid])
        ob.store.close()
    finally:
        rmtree(d)
    cases = [
        ({"size": "big"}, "config.history.size"),
        ({"size": 1000}, "config.history.size"),
        ({"size": 4096, "segments": 8}, "config.history.size"),
        ({"segments": 1}, "config.history.segments"),
        ({"path": 5}, "config.history.path"),
        ({"path": ""}, "config.history.path"),
        ({"record": "a/#"}, "config.history.record"),
        ({"record": ["ok", "a/#/b"]}, "config.history.record[1]"),
        ({"outboxPolicy": "drop-newest"}, "config.history.outboxPolicy"),
        ({"maxPending": 0}, "config.history.maxPending"),
        ({"colour": 1}, "config.history.colour"),
        ([], "config.history"),
    ]
    for cfg, path in cases:
        e = raises(ConnectorError, open_store, cfg)
        eq(e.error, CONFIG_ERROR, path)
        eq(e.details["path"], path)
        assert e.details["expected"], e.details
        assert path in e.message, e.message
