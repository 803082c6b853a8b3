# Child for test_outbox_kill.py, run under MicroPython: opens the store in a directory
# (recovering whatever the last kill left), prints what is pending, acknowledges those
# (out of order: as if re-sent and acked after the reconnect), then puts and acks
# forever, printing each put id once put() returned ("p"), each ack once ack()
# returned ("a") and "s" once a sync() returned. Killed with -9.
import sys

from lgmqtt.store import open_store

path, tag = sys.argv[1], sys.argv[2]
_st = open_store({"path": path, "size": 16384, "segments": 4})
h, ob = _st.history, _st.outbox
w = sys.stdout.write
w("open %d %s\n" % (ob.stats()["dropped"], " ".join("%d" % x for x in ob.pending_ids())))
for x in reversed(ob.pending_ids()):
    ob.ack(x)
    w("a %d\n" % x)
ob.store.sync()
w("s\n")
i = 0
while True:
    h.record("received", "in/%d" % (i % 3), b"r" * 40)
    oid = ob.put("o/%s/%d" % (tag, i), b"%d" % i * 8, 1 + i % 2)
    w("p %d\n" % oid)
    p = ob.pending_ids()
    if len(p) >= 3:
        for x in (p[1], p[0]):
            ob.ack(x)
            w("a %d\n" % x)
    if i % 5 == 4:
        ob.store.sync()
        w("s\n")
    i += 1
