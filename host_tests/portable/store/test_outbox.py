# The persistent outbox: put/ack/pending in order, out-of-order acks, reopen re-sends
# exactly the unacknowledged in order, both full policies with drop counts, max_pending,
# caller errors. Power cuts at every write are in test_outbox_powercut.py. Runs under
# CPython and MicroPython.
from check import eq, raises
from faults import rmtree, tmpdir
from lgmqtt.errors import OUTBOX_FULL, PAYLOAD_TOO_LARGE, QOS_ERROR, TOPIC_ERROR, ConnectorError
from lgmqtt.store import Store
from lgmqtt.store.outbox import ACK_BATCH
from lgmqtt.store.log import RingLog
from lgmqtt.store.media import FileStorage, RamStorage

HEAP = "1m"


def _open(storage, seg=1024, n=3, policy="drop-oldest", max_pending=None):
    log = RingLog(storage, segment_size=seg, segments=n)
    st = Store(log, policy=policy, max_pending=max_pending)
    return st.history, st.outbox


def _order(seed, xs):
    # A deterministic shuffle (MicroPython has no random.shuffle).
    xs = list(xs)
    s = seed
    for i in range(len(xs) - 1, 0, -1):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        j = s % (i + 1)
        xs[i], xs[j] = xs[j], xs[i]
    return xs


def test_put_ack_pending_in_order():
    h, ob = _open(RamStorage(4096), 4096)
    props = {0x03: "text/plain", 0x26: [("a", "b")]}
    ids = [ob.put("o/%d" % i, b"m%d" % i, 1 + i % 2, i == 3, props if i == 2 else None) for i in range(6)]
    eq(ids, sorted(ids))
    eq(len(ob), 6)
    got = ob.pending()
    eq([m.id for m in got], ids)
    row = lambda m: (m.id, m.topic(), m.payload(), m.qos, m.retain, m.props())  # noqa: E731
    eq(row(got[2]), (ids[2], "o/2", b"m2", 1, False, props))
    eq(row(got[3]), (ids[3], "o/3", b"m3", 2, True, None))
    eq([m.id for m in ob.pending(after=ids[1], limit=2)], ids[2:4])
    eq(ob.pending(after=ids[-1]), [])
    assert ob.ack(ids[0])
    assert not ob.ack(ids[0])  # twice
    assert not ob.ack(12345)  # unknown
    eq(ob.pending_ids(), ids[1:])
    # The outbox's records are the history's "published" records.
    eq([e["id"] for e in h.read()], ids[::-1])
    eq(h.read(limit=1)[0]["direction"], "published")
    eq(ob.stats()["pending"], 5)


def test_out_of_order_acks_survive_reopen_in_order():
    d = tmpdir("ob")
    try:
        h, ob = _open(FileStorage(d), 2048, 4)
        ids = []
        for i in range(40):
            h.record("received", "in/%d" % (i % 3), b"r" * 20)
            ids.append(ob.put("o/%d" % i, b"p%d" % i, 1))
        acked = _order(7, ids)[:25]
        for x in acked:
            assert ob.ack(x)
        want = [x for x in ids if x not in acked]
        eq(ob.pending_ids(), want)
        ob.store.close()  # writes the acks still in RAM
        h, ob = _open(FileStorage(d), 2048, 4)
        eq(ob.pending_ids(), want)
        eq([m.topic() for m in ob.pending()], ["o/%d" % ids.index(x) for x in want])
        # Ack the rest out of order, with a crash (no close) after a sync in the middle.
        rest = _order(3, want)
        for x in rest[:5]:
            ob.ack(x)
        ob.store.sync()
        for x in rest[5:8]:
            ob.ack(x)
        # crash: no close, the last three acks were only in RAM
        h, ob = _open(FileStorage(d), 2048, 4)
        eq(ob.pending_ids(), sorted(rest[5:]))
        eq(ob.stats()["dropped"], 0)
        ob.store.close()
    finally:
        rmtree(d)


def test_acks_batch_into_one_record():
    h, ob = _open(RamStorage(4096), 4096)
    ids = [ob.put("o", b"x", 1) for _ in range(ACK_BATCH + 3)]
    n0 = ob.log.stats["records"]
    for x in ids[:ACK_BATCH - 1]:
        ob.ack(x)
    eq(ob.log.stats["records"], n0)  # held in RAM
    ob.ack(ids[ACK_BATCH - 1])
    eq(ob.log.stats["records"], n0 + 1)  # one K_ACK of ACK_BATCH ids
    ob.ack(ids[-1])
    ob.put("o", b"y", 1)  # the waiting ack goes with the put, in its flush
    eq(ob.log.stats["records"], n0 + 3)
    eq(ob.stats()["unsavedAcks"], 0)


def test_state_carried_across_many_wraps():
    # Long-lived pending messages and out-of-order acks while history wraps the log
    # many times: after every reopen, exactly the unacked are pending, in order; the
    # ones the log reclaimed are counted as dropped.
    st = RamStorage(1024)
    h, ob = _open(st, 1024, 3)
    put, acked = 0, set()
    for step in range(400):
        h.record("received", "noise", b"n" * (20 + step % 40))
        if step % 5 == 0:
            ob.put("o/%d" % step, b"%d" % step, 1)
            put += 1
            p = ob.pending_ids()
            if len(p) >= 3 and step % 10 == 0:
                assert ob.ack(p[2])  # out of order: the head stays pending
                acked.add(p[2])
        if step % 37 == 0:
            ob.store.sync()  # (its ack record may reclaim, and drop, too)
            before, dropped = ob.pending_ids(), ob.stats()["dropped"]
            if step % 2:
                ob.store.close()
            # else: crash without closing
            h, ob = _open(st, 1024, 3)
            eq(ob.pending_ids(), before, "step %d" % step)
            eq(ob.stats()["dropped"], dropped, "step %d" % step)
    assert ob.log.oldest_seq > 300, ob.log.stats  # wrapped many times
    s = ob.stats()
    assert s["dropped"] > 0, s
    eq(s["dropped"] + s["pending"] + len(acked), put)
    for m in ob.pending():
        eq(m.payload(), m.topic()[2:].encode())


def test_refuse_new_keeps_everything():
    st = RamStorage(1024)
    h, ob = _open(st, 1024, 3, policy="refuse-new")
    ids = []
    while True:
        try:
            ids.append(ob.put("o", b"x" * 60, 1))
        except ConnectorError as e:
            eq(e.error, OUTBOX_FULL)
            eq(e.details["policy"], "refuse-new")
            break
    assert len(ids) > 20, len(ids)
    eq(ob.pending_ids(), ids)
    eq(ob.stats()["dropped"], 0)
    # History records that would reclaim pending messages are skipped and counted.
    eq(h.record("received", "in", b"y" * 60), 0)
    eq(h.stats()["skipped"], 1)
    # Acking the oldest frees the oldest segment: puts go on.
    for x in ids[:12]:
        ob.ack(x)
    more = ob.put("o", b"z", 1)
    eq(ob.pending_ids(), ids[12:] + [more])
    ob.store.close()
    h, ob = _open(st, 1024, 3, policy="refuse-new")
    eq(ob.pending_ids(), ids[12:] + [more])
    eq(ob.stats()["dropped"], 0)


def test_drop_oldest_counts_every_drop():
    st = RamStorage(1024)
    h, ob = _open(st, 1024, 3)
    ids = [ob.put("o/%d" % i, b"x" * 60, 1) for i in range(100)]
    s = ob.stats()
    assert s["dropped"] > 50, s
    eq(s["dropped"] + s["pending"], 100)
    eq(ob.pending_ids(), ids[s["dropped"]:])  # the newest survive, in order
    ob.store.close()
    h, ob = _open(st, 1024, 3)
    eq(ob.stats()["dropped"], s["dropped"])
    eq(ob.pending_ids(), ids[s["dropped"]:])


def test_max_pending_both_policies():
    for policy in ("refuse-new", "drop-oldest"):
        st = RamStorage(4096)
        h, ob = _open(st, 4096, 3, policy, max_pending=5)
        ids = [ob.put("o", b"%d" % i, 1) for i in range(5)]
        if policy == "refuse-new":
            e = raises(ConnectorError, ob.put, "o", b"5", 1)
            eq((e.error, e.details["maxPending"]), (OUTBOX_FULL, 5))
            want, dropped = ids, 0
        else:
            ids += [ob.put("o", b"%d" % i, 1) for i in range(5, 8)]
            want, dropped = ids[3:], 3
        eq(ob.pending_ids(), want)
        eq(ob.stats()["dropped"], dropped)
        ob.store.close()
        h, ob = _open(st, 4096, 3, policy, max_pending=5)
        eq((ob.pending_ids(), ob.stats()["dropped"]), (want, dropped), policy)


def test_put_errors_change_nothing():
    h, ob = _open(RamStorage(1024), 1024, 3)
    ob.put("ok", b"1", 1)
    eq(raises(ConnectorError, ob.put, "a/+", b"x", 1).error, TOPIC_ERROR)
    eq(raises(ConnectorError, ob.put, "a", b"x", 3).error, QOS_ERROR)
    eq(raises(ConnectorError, ob.put, "a", b"x" * 2000, 1).error, PAYLOAD_TOO_LARGE)
    eq(len(ob), 1)
    eq(ob.log.stats["records"], 1)
    eq(raises(ValueError, Store, ob.log, None, "drop-newest").args[0][:15], "capacity_policy")


def test_checkpoint_lists_pending_when_shorter():
    # A head message never acknowledged while many after it are: the checkpoint keeps
    # the short pending list instead of the long acked one. Checked over crash-reopens.
    st = RamStorage(1024)
    h, ob = _open(st, 1024, 4)
    ids = [ob.put("o/%d" % i, b"p", 1) for i in range(30)]
    for x in ids:
        if x not in (ids[0], ids[9]):
            ob.ack(x)
    ob.store.sync()
    want = [ids[0], ids[9]]
    eq(len(ob.journal.ooo), 28)
    body = ob.journal._encode_state()
    eq(body[1], 1)  # the list holds pending ids
    eq(len(body), 21 + 4 * 2 + 4)  # + the (empty) parked and in-flight counts
    ck = ob.journal.checkpoints
    while ob.journal.checkpoints < ck + 2 and ob.log.oldest_seq <= ids[0]:
        h.record("received", "n", b"n" * 40)
    h2, ob2 = _open(st, 1024, 4)  # crash: no close
    eq(ob2.pending_ids(), want)
    # Then the acked list is the shorter one again.
    ob2.ack(ids[0])
    ob2.ack(ids[9])
    last = ob2.put("o/last", b"p", 1)
    eq(ob2.journal._encode_state()[1], 0)
    ob2.journal.checkpoint()
    h3, ob3 = _open(st, 1024, 4)
    eq(ob3.pending_ids(), [last])


def test_parked_and_inflight_state_survive_reopen_and_checkpoints():
    st = RamStorage(1024)
    h, ob = _open(st, 1024, 4)
    ids = [ob.put("o/%d" % i, b"p%d" % i, 2) for i in range(6)]
    eq(ob.park(ids[1]), True)
    eq(ob.park(ids[1]), False)  # not pending any more
    ob.set_inflight(ids[2], 7, 0)
    ob.set_inflight(ids[3], 8, 1)
    ob.ack(ids[4])
    ob.store.sync()
    h2, ob2 = _open(st, 1024, 4)  # a reset: no close
    eq(ob2.pending_ids(), [ids[0], ids[2], ids[3], ids[5]])
    eq(ob2.parked_ids(), [ids[1]])
    eq(ob2.inflight(), {ids[2]: (7, 0), ids[3]: (8, 1)})
    eq(ob2.stats()["parked"], 1)
    eq([r.topic() for r in ob2.records([ids[1], ids[3]])], ["o/1", "o/3"])
    # through checkpoints (new segments) the state is carried, not lost
    ck = ob2.journal.checkpoints
    while ob2.journal.checkpoints < ck + 2:
        h2.record("received", "n", b"n" * 40)
    _, ob3 = _open(st, 1024, 4)
    eq((ob3.parked_ids(), ob3.inflight()), ([ids[1]], {ids[2]: (7, 0), ids[3]: (8, 1)}))
    eq(ob3.discard(ids[1]), True)  # the application discards the parked one
    eq(ob3.discard(ids[0]), True)  # and a pending one
    eq(ob3.discard(ids[0]), False)
    ob3.ack(ids[2])
    ob3.store.sync()
    _, ob4 = _open(st, 1024, 4)
    eq((ob4.pending_ids(), ob4.parked_ids(), ob4.inflight()), ([ids[3], ids[5]], [], {ids[3]: (8, 1)}))


def test_a_parked_message_never_blocks_the_log():
    # refuse-new protects pending messages, not parked ones: a reclaim drops those
    st = RamStorage(1024)
    h, ob = _open(st, 1024, 3, policy="refuse-new")
    first = ob.put("o/p", b"x" * 100, 1)
    ob.park(first)
    for i in range(40):
        ob.ack(ob.put("o/%d" % i, b"y" * 100, 1))
    eq(ob.parked_ids(), [])
    eq(ob.stats()["dropped"], 1)


def test_pending_page_is_a_window_of_the_pending_ids_after_a_cursor():
    h, ob = _open(RamStorage(4096), 4096)
    ids = [ob.put("t/%d" % i, b"x", 1) for i in range(12)]
    ob.ack(ids[3])
    rest = [i for i in ids if i != ids[3]]
    eq(ob.pending_page(0, 5), rest[:5])
    eq(ob.pending_page(ids[2], 3), rest[3:6])  # from the first id after the cursor, acked ones skipped
    eq(ob.pending_page(ids[-1], 8), [])
    eq(ob.pending_page(ids[-3], 8), ids[-2:])
