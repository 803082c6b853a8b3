# The persistent outbox: messages accepted for sending survive a reboot until the broker
# acknowledges them, in the same ring log as the history (lgmqtt.store.journal has the record
# kinds, checkpoints and recovery).
#
#   ob = Store(log, policy="drop-oldest", max_pending=None).outbox   # (lgmqtt.store.Store)
#   oid = ob.put("sensors/t", b"21.5", qos=1, retain=False, props=None)   # durable
#   oid = ob.put_message(message)      # a records.Message: the PUBLISH as encoded once
#   for m in ob.pending(): m.id, m.topic(), m.payload(), m.qos, m.packet() ...
#   ob.ack(oid)              # on PUBACK / PUBCOMP (or after sending a queued QoS 0)
#   ob.park(oid)             # given up (the link died on it repeatedly): kept, not sent
#   ob.discard(oid)          # a pending or parked message removed by the application
#   ob.parked_ids(); ob.records(ids) -> [records.Message] (with .id and .t)
#   ob.set_inflight(oid, pid, stage); ob.inflight() -> {oid: (pid, stage)}  (QoS 2, durable)
#   (Store.sync() makes the acks so far durable)
#   ob.stats() -> {"pending", "dropped", "policy", "maxPending", "unsavedAcks"}
#
# - put(): the message is a K_PENDING record, flushed before put returns: it survives
#   a power cut from then on. The outbox id is its log seq (ascending: pending() order
#   is put order). The record is also the history record of the published message.
#   Which messages go here is the caller's choice (QoS 1/2; QoS 0 with queueQoSZero).
# - pending(after=0, limit=None): list of (id, topic, payload bytes, qos, retain,
#   props dict or None) not yet acknowledged, ids > after, oldest first. A list, read
#   in one scan, so the caller may put and ack while it sends them: page with
#   after=<last id> and a limit to bound RAM.
# - ack(id): True if it was pending. Acks may come in any order. An ack is held in RAM
#   and written (one small K_ACK record for many ids) lazily: before the next put (in
#   the same flush), at sync(), when ACK_BATCH of them wait (unflushed), or in the next
#   checkpoint. After a power cut, acks not yet flushed are lost: those messages are
#   pending again and re-sent (at-least-once allows it). For QoS 2, a message whose
#   PUBCOMP arrived but whose ack was lost is re-sent as a new PUBLISH after a reboot:
#   the broker de-duplicates QoS 2 only within the session that holds its packet id,
#   so with a clean session (or a lost session) the subscriber may get it twice. The
#   connector should sync() after a QoS 2 ack when exactly-once must hold across a
#   power cut (cost: one flush).
# - When full: with max_pending set, a put beyond it; and whenever an append would
#   reclaim a log segment holding pending messages. "refuse-new": put raises
#   ConnectorError(OUTBOX_FULL) and nothing pending is lost (history records of
#   received messages are then skipped too). "drop-oldest": the oldest pending messages
#   go and every one is counted in stats()["dropped"]. The count is persisted in each
#   checkpoint and in K_DROP records, and recomputed at open for a reclaim that a power
#   cut separated from its checkpoint: it survives reboots exactly.
from struct import pack_into

from lgmqtt.compat import const, time_s
from lgmqtt.errors import OUTBOX_FULL, PAYLOAD_TOO_LARGE, QOS_ERROR, ConnectorError
from lgmqtt.store.history import PACE, message, run
from lgmqtt.store.journal import (DROP_OLDEST, K_DROP, K_INFLIGHT, K_OLD_PENDING, K_PARK, K_PENDING, REFUSE_NEW,
                                  bisect, pack_ids)
from lgmqtt.store.records import Message
from lgmqtt.mqtt.topic import validate_name

ACK_BATCH = const(16)


class Outbox:
    def __init__(self, store, capacity_policy=DROP_OLDEST, max_pending=None, clock=None):
        if capacity_policy not in (DROP_OLDEST, REFUSE_NEW):
            raise ValueError("capacity_policy must be 'drop-oldest' or 'refuse-new'")
        self.store = store
        self.log = store.log
        self.journal = j = store.journal
        j.policy = capacity_policy
        self.policy = capacity_policy
        self.max_pending = max_pending
        self.clock = clock or time_s

    def __len__(self):
        return len(self.journal.pending)

    def _full(self, why):
        return ConnectorError(OUTBOX_FULL, "outbox full (%s): message refused" % why,
                              {"pending": len(self.journal.pending), "maxPending": self.max_pending,
                               "policy": self.policy})

    def put(self, topic, payload, qos=1, retain=False, props=None, t=None):
        validate_name(topic)
        if qos not in (0, 1, 2):
            raise ConnectorError(QOS_ERROR, "qos must be 0, 1 or 2", {"qos": qos, "supportedQos": [0, 1, 2]})
        return self.put_message(message(topic, payload, qos, retain, props), t)

    def put_message(self, msg, t=None):
        """Keep a records.Message durably (flushed before this returns); its outbox id.
        The message was checked when it was made: only what the outbox decides is
        checked here (it fits a segment, the capacity policy)."""
        # (the rare cases live in _make_room: this frame stays within MicroPython's
        # 11 slots on the C stack, a larger one is a heap allocation per write)
        j = self.journal
        if msg.size() > self.log.max_body or self.max_pending is not None:
            self._make_room(msg)
        if j.unsaved:
            j.save_acks(False)  # flushed with the put below
        if t is None:
            t = int(self.clock())
        seq = j.append(K_PENDING, msg.parts(), True, t)
        if not seq:
            raise self._full("the log holds only unacknowledged messages")
        return seq

    def _make_room(self, msg):
        # put_message's checks: the message fits a segment; maxPending's policy
        j = self.journal
        n = msg.size()
        if n > self.log.max_body:
            raise ConnectorError(PAYLOAD_TOO_LARGE, "message of %d bytes does not fit the outbox: a message must fit in "
                                 "one log segment of %d bytes (config.history.size / config.history.segments, minus "
                                 "16): raise config.history.size or lower config.history.segments"
                                 % (n, self.log.max_body), {"size": n, "limit": self.log.max_body})
        if len(j.pending) >= self.max_pending:
            if self.policy == REFUSE_NEW:
                raise self._full("maxPending")
            n = len(j.pending) - self.max_pending + 1
            ids = j.pending[:n]
            j.dropped += n
            j.remove_at(0, n)
            j.append(K_DROP, (pack_ids(ids),), False)

    def ack(self, oid):
        j = self.journal
        p = j.pending
        i = bisect(p, oid)
        if i >= len(p) or p[i] != oid:
            return False
        j.remove_at(i)
        j.unsaved.append(oid)
        if len(j.unsaved) >= ACK_BATCH:
            j.save_acks(False)
        return True

    def park(self, oid):
        """Stop sending a pending message but keep it (durable at once). False if it
        was not pending."""
        j = self.journal
        if not j.park(oid):
            return False
        j.append(K_PARK, (pack_ids([oid]),), True)
        return True

    def discard(self, oid):
        """Remove a pending or parked message for good (its ack record, durable)."""
        j = self.journal
        if not j.remove(oid):
            return False
        j.unsaved.append(oid)
        j.save_acks(True)
        return True

    def parked_ids(self):
        return list(self.journal.parked)

    def set_inflight(self, oid, pid, stage):
        """Durably note that QoS 2 message oid went out as packet id pid (stage 0) or
        that the broker PUBREC'd it (stage 1): after a reset the flow resumes there
        instead of publishing it again."""
        j = self.journal
        if j.inflight.get(oid) == (pid, stage):
            return
        j.inflight[oid] = (pid, stage)
        b = bytearray(7)
        pack_into("<IHB", b, 0, oid, pid, stage)
        j.append(K_INFLIGHT, (b,), True)

    def inflight(self):
        return dict(self.journal.inflight)

    def is_pending(self, oid):
        p = self.journal.pending
        i = bisect(p, oid)
        return i < len(p) and p[i] == oid

    def pending_ids(self):
        return list(self.journal.pending)

    def pending_page(self, after, n):
        """Up to n pending ids > after, ascending (a page: no copy of the whole list)."""
        p = self.journal.pending
        i = bisect(p, after + 1)
        return p[i:i + n]

    def pending(self, after=0, limit=None):
        """The pending messages with ids > after (records.Message, oldest first)."""
        p = self.journal.pending
        i = bisect(p, after + 1)
        return self.records(p[i:] if limit is None else p[i:i + limit])

    def records(self, want, max_bytes=0):
        """[records.Message] of the ascending ids `want` (pending or parked) whose
        records are in the log: one scan. max_bytes > 0: stop after the record that
        brings the record bodies read to that many bytes."""
        return run(self.records_steps(want, max_bytes))

    def records_steps(self, want, max_bytes=0):
        """records() as a paced generator (None at each pause, see history.run)."""
        out = []
        got = 0
        if not want:
            return out
        k = 0
        it = self.log.scan(from_seq=want[0], pace=PACE)
        try:
            for rec in it:
                if rec is None:
                    yield None
                    continue
                seq, t, kind, body = rec
                while k < len(want) and want[k] < seq:
                    k += 1  # its record is gone (should not happen): skip it
                if k >= len(want):
                    break
                if seq == want[k] and (kind == K_PENDING or kind == K_OLD_PENDING):
                    m = Message.of_record(kind, body, seq, t)
                    out.append(m)
                    k += 1
                    got += m.size()
                    if max_bytes and got >= max_bytes:
                        break
        finally:
            it.close()
        return out

    def stats(self):
        j = self.journal
        return {"pending": len(j.pending), "parked": len(j.parked), "dropped": j.dropped, "policy": self.policy,
                "maxPending": self.max_pending, "unsavedAcks": len(j.unsaved)}
