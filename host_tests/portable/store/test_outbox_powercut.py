# Power cuts at every write of a whole put + ack cycle (history records, out-of-order
# acks, syncs, reclaims, checkpoints), on RAM and files (FaultyStorage), raw NOR flash
# (BlockStorage on FlashSim) and, under MicroPython, LittleFS on the same emulator.
# After each "reboot": opening raises nothing; pending ids are ascending, unique and
# readable with the right content; every put that returned is pending, acknowledged
# or counted as dropped (never lost uncounted); an ack covered by a returned sync()
# never comes back; an ack not yet synced may come back (the message is pending
# again: at-least-once); the drop count is exact up to such lost acks (a message whose
# ack was lost and whose record a reclaim then took counts as dropped); a history
# clear done before stays in force; the store keeps working and reopens clean.
from check import eq
from flashsim import PowerCut
from lgmqtt.store import Store
from lgmqtt.store.log import RingLog
from test_ringlog_powercut import FileBackend, LfsBackend, RamBackend, RawFlashBackend

HEAP = "2m"
TIMEOUT = 280


def _pl(n, size):
    return (b"%06d" % n + b"." * size)[:size]


def _open(be, cfg):
    log = RingLog(be.boot(), segment_size=cfg["seg"], segments=cfg["nseg"])
    st = Store(log, policy="drop-oldest")
    return st.history, st.outbox


def _close(ob):
    try:
        ob.store.close()
    except Exception:  # the power is off
        pass


def _workload(h, ob, st, base, m, size, every=3):
    for i in range(m):
        n = base + i
        h.record("received", "r/%d" % (n % 3), _pl(n, size // 2))
        st["inflight"] = n
        oid = ob.put("o/%d" % n, _pl(n, size), 1 + n % 2)
        st["returned"].append(oid)
        if i % every == every - 1:
            p = ob.pending_ids()
            for x in (p[1], p[0]) if len(p) > 1 else p:  # out of order
                if ob.ack(x):
                    st["acked"].append(x)
        if i % 4 == 3:
            ob.store.sync()
            st["synced"] = len(st["acked"])


def _state():
    return {"returned": [], "acked": [], "synced": 0, "inflight": None}


def _check(h, ob, st, pending0, dropped0, what):
    p = ob.pending_ids()
    eq(p, sorted(set(p)), what + ": ascending, once each")
    msgs = ob.pending()
    eq([m.id for m in msgs], p, what + ": every pending record readable")
    known = set(pending0) | set(st["returned"])
    extra = [x for x in p if x not in known]
    assert len(extra) <= 1, (what, extra)
    for m in msgs:
        oid, topic, payload, qos = m.id, m.topic(), m.payload(), m.qos
        n = int(topic[2:])
        eq(payload, _pl(n, len(payload)), what)
        eq(qos, 1 + n % 2, what)
        if oid in extra:  # the put cut short made it to the medium: it is the in-flight one
            eq(n, st["inflight"], what)
    ids = known | set(extra)
    pset = set(p)
    synced = set(st["acked"][:st["synced"]])
    assert not synced & pset, (what, synced & pset)
    acked = set(st["acked"])
    accounted = len(pset) + len(acked - pset)
    dropped = ob.stats()["dropped"] - dropped0
    lost_acks = len(st["acked"]) - st["synced"]
    assert len(ids) <= accounted + dropped <= len(ids) + lost_acks, (what, len(ids), accounted, dropped, lost_acks)
    # The clear of r/0 made before the cycle still hides every older r/0 record.
    for e in h.read("r/0", limit=1000):
        assert int(e["payload"][:6]) >= 1000, (what, e)


def _cycle(be, cfg):
    size, m, every = cfg["size"], cfg["m"], cfg.get("every", 3)
    h, ob = _open(be, cfg)
    st = _state()
    _workload(h, ob, st, 0, cfg["prefill"], size, every)
    h.clear("r/0")
    assert ob.log.oldest_seq > 1, "the prefill must wrap the log"
    ob.store.close()
    be.shutdown()
    snap = be.snapshot()
    # Reference run: how many writes the cycle takes.
    h, ob = _open(be, cfg)
    ops0 = be.ops()
    d0 = ob.stats()["dropped"]
    _workload(h, ob, _state(), 1000, m, size, every)
    total = be.ops() - ops0
    ref_dropped = ob.stats()["dropped"] - d0
    ob.store.close()
    for k in range(1, total + 2):
        be.shutdown()
        be.restore(snap)
        h, ob = _open(be, cfg)
        pending0, dropped0 = ob.pending_ids(), ob.stats()["dropped"]
        st = _state()
        be.arm(k)
        cut = False
        try:
            _workload(h, ob, st, 1000, m, size, every)
        except PowerCut:
            cut = True
        _close(ob)
        eq(cut, k <= total, "cut at %d of %d" % (k, total))
        be.shutdown()
        what = "k=%d" % k
        h, ob = _open(be, cfg)  # must not raise
        _check(h, ob, st, pending0, dropped0, what)
        # Keeps working, and the repaired store reopens to the same state.
        oid = ob.put("o/%d" % 5000, _pl(5000, size), 1)
        before, dropped = ob.pending_ids(), ob.stats()["dropped"]
        assert oid in before and oid == before[-1], (what, oid, before)
        ob.store.close()
        be.shutdown()
        h, ob = _open(be, cfg)
        eq((ob.pending_ids(), ob.stats()["dropped"]), (before, dropped), what + " after repair")
        eq(ob.log.stats["corrupt_skipped"], 0, what)
        ob.store.close()
    return total, ref_dropped


def test_power_cut_ram_and_files():
    tight = {"seg": 1024, "nseg": 3, "size": 50, "prefill": 30, "m": 16, "every": 8}
    roomy = {"seg": 2048, "nseg": 3, "size": 50, "prefill": 50, "m": 16}
    drops = 0
    for partial in (True, False):
        for cfg in (tight, roomy):
            for be in (RamBackend(partial), FileBackend(partial)):
                try:
                    n, d = _cycle(be, cfg)
                    assert n >= 16 * 6, n
                    drops += d
                finally:
                    be.cleanup()
    assert drops, "a cycle must drop pending messages (drop-oldest)"


def test_power_cut_flash():
    cfg = {"seg": 4096, "nseg": 3, "size": 200, "prefill": 40, "m": 12}
    for frac in (1, 2):
        n, _ = _cycle(RawFlashBackend(4096, blocks=3, frac=frac), cfg)
        assert n >= 12 * 6, n
    try:
        import vfs

        lfs = hasattr(vfs, "VfsLfs2")
    except ImportError:
        lfs = False
    cfg = {"seg": 1024, "nseg": 3, "size": 50, "prefill": 30, "m": 8}
    for frac in (1, 2) if lfs else ():
        be = LfsBackend(blocks=24, frac=frac)
        try:
            n, _ = _cycle(be, cfg)
            assert n >= 8 * 2, n
        finally:
            be.cleanup()
