"""Kill -9 of a MicroPython process while it puts to and acks the outbox (file store),
several times in a row: after each restart, every put whose put() had returned is
pending or was acknowledged (nothing lost), nothing is pending twice, and no ack
covered by a returned sync() comes back (an ack not yet synced may: the message is
re-sent, as at-least-once allows). CPython reads the store MicroPython wrote, and the
next child sees the same pending list."""
import os
import random

from lghost.mpy import FAKES, PORTABLE, kill9_after
from lgmqtt.store import open_store

HERE = os.path.dirname(os.path.abspath(__file__))
CFG = {"size": 16384, "segments": 4}


def _run_until_killed(path, tag, delay):
    lines = kill9_after(os.path.join(HERE, "outbox_child.py"), [path, tag], delay, path=[PORTABLE, FAKES])
    head = lines[0].split()
    assert head[0] == "open", lines[:3]
    return int(head[1]), [int(x) for x in head[2:]], [ln.split() for ln in lines[1:]]


def test_kill_9_while_putting_and_acking(tmp_path):
    rng = random.Random(9)
    path = str(tmp_path / "store")
    expect_pending = []
    puts_total = acks_total = resent = 0
    for round_ in range(10):
        dropped, pending0, events = _run_until_killed(path, "r%d" % round_, rng.uniform(0.2, 0.6))
        # The child recovered exactly what CPython read after the previous kill.
        assert pending0 == expect_pending, (round_, pending0, expect_pending)
        assert dropped == 0
        puts, acked, synced = [], set(), set()
        for ev in events:
            if ev[0] == "p":
                puts.append(int(ev[1]))
            elif ev[0] == "a":
                acked.add(int(ev[1]))
            elif ev[0] == "s":
                synced |= acked
        assert puts, "the child put nothing before the kill"
        puts_total += len(puts)
        acks_total += len(acked)
        _st = open_store(dict(CFG, path=path))
        h, ob = _st.history, _st.outbox
        p = ob.pending_ids()
        assert p == sorted(set(p)), p
        pset = set(p)
        lost = [x for x in puts + pending0 if x not in pset and x not in acked]
        assert not lost, (round_, lost)
        back = synced & pset
        assert not back, (round_, back)
        extra = pset - set(puts) - set(pending0)
        assert len(extra) <= 1, extra  # only the put in flight at the kill
        msgs = ob.pending()
        assert [m.id for m in msgs] == p
        for m in msgs:
            oid, topic, payload, qos = m.id, m.topic(), m.payload(), m.qos
            i = int(topic.rsplit("/", 1)[1])
            assert payload == b"%d" % i * 8 and qos == 1 + i % 2, (oid, topic)
        resent += len(pset & acked)  # acked but not synced: will be re-sent
        assert ob.stats()["dropped"] == 0
        ob.store.close()
        expect_pending = p
    assert puts_total > 100 and acks_total > 100, (puts_total, acks_total)
    print("puts %d, acks %d, acked-unsynced re-sent after kills: %d" % (puts_total, acks_total, resent))
