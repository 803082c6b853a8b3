# The state that message history (lgmqtt.store.history) and the persistent outbox
# (lgmqtt.store.outbox) share over ONE ring log: the record kinds, the appends with the
# outbox policy, the checkpoints, and the recovery scan. History and Outbox are views
# over it; lgmqtt.store.Store makes the one Journal of a log and owns its sync and close.
#
# Record kinds (the ring log's `kind` byte; each reader skips what is not its own):
#   K_RECEIVED  0x13  a received message, history only          body: lgmqtt.store.records
#   K_PUBLISHED 0x14  a published message, history only        body: lgmqtt.store.records
#   K_PENDING   0x15  a published message in the outbox: history reads it as
#                     "published"; pending until acknowledged  body: lgmqtt.store.records
#   0x10, 0x11, 0x12  the same three as lgmqtt 0.1 wrote them (records.OLD_KINDS): read,
#                     never written
#   K_ACK       0x20  outbox ids acknowledged                   body: n x u32 (LE)
#   K_DROP      0x21  outbox ids dropped by max_pending         body: n x u32
#   K_PARK      0x22  outbox ids parked: given up after the link died on them
#                     repeatedly; kept (listable, discardable) but not sent   body: n x u32
#   K_INFLIGHT  0x23  a QoS 2 outbox message's packet id and stage (0: PUBLISH sent,
#                     1: PUBREC received), for exactly-once across a reset
#                                                               body: u32 id, u16 pid, u8 stage
#   K_CLEAR     0x30  history tombstone: hides every record with a lower seq whose
#                     topic matches the filter (empty: all)     body: filter (UTF-8)
#   K_STATE     0x31  checkpoint of everything above that must outlive a reclaim
#                     (outbox watermark, out-of-order acks, drop count, live
#                     tombstones, parked ids, QoS 2 in-flight state)
#                                                               body: see _encode_state
#
# Why checkpoints: acks and tombstones are records, and a reclaim drops a whole
# segment. So after every append that starts a new segment the journal appends a
# K_STATE (flushed) summarising all state so far. When the active segment later fills,
# the reclaim drops the OLDEST segment, which is older than that checkpoint: the state
# is always "the newest K_STATE + the K_ACK/K_DROP/K_CLEAR/K_PENDING records after
# it". A power cut between a reclaim and its checkpoint leaves the previous checkpoint
# (one segment older, still there); opening writes the missing checkpoint. One K_STATE
# per segment (~30 bytes + 4 per out-of-order ack + each live tombstone), except in
# the log's first segment (nothing older to summarise: the next segment's covers it).
#
# Outbox state in RAM: `pending` (ascending outbox ids = K_PENDING seqs not yet
# acknowledged), `ooo` (ids acknowledged out of order, above pending[0]), `dropped`.
# A checkpoint stores the watermark W (every outbox id <= W is done) = pending[0] - 1
# (or the newest outbox id), plus whichever list is shorter: the acked ids above W, or
# the pending ids themselves; and the pending count, so that a reclaim cut short by a
# power cut is still counted in `dropped` at the next open (dropped is persisted in
# checkpoints and recomputed exactly for that window).
#
# Parked messages (`parked`, ascending) hold no watermark and block nothing: when a
# reclaim reaches one it goes (counted in `dropped`), under either policy -- the
# application was told when it was parked.
#
# Outbox policy when an append would reclaim a segment holding pending messages:
# "drop-oldest" lets it happen and counts them; "refuse-new" refuses the append:
# `append` returns 0 and the caller decides (a put raises OUTBOX_FULL, a history record
# is skipped and counted, acks wait in RAM for the next append that fits).
from struct import pack_into, unpack_from

from lgmqtt.compat import const
from lgmqtt.errors import PAYLOAD_TOO_LARGE, ConnectorError
from lgmqtt.store.logformat import HEADER_SIZE
from lgmqtt.mqtt.topic import compile_filter, match_levels

K_RECEIVED = const(0x13)
K_PUBLISHED = const(0x14)
K_PENDING = const(0x15)
K_OLD_PENDING = const(0x12)  # lgmqtt 0.1's outbox record: still pending when read back
K_ACK = const(0x20)
K_DROP = const(0x21)
K_PARK = const(0x22)
K_INFLIGHT = const(0x23)
K_CLEAR = const(0x30)
K_STATE = const(0x31)

DROP_OLDEST = "drop-oldest"
REFUSE_NEW = "refuse-new"
MAX_TOMBSTONES = const(32)

_STATE_FMT = "<BBIIIHIB"  # version, flags, W, dropped, pending count, n ids, clear_all, n tombstones
_STATE_HEAD = const(21)
# version 2 adds, after the tombstones: u16 n parked, n x u32; u16 n in flight, n x (u32 id, u16 pid, u8 stage)
_STATE_VERSION = const(2)
_LIST_IS_PENDING = const(1)


def bisect(a, x):
    """Index of the first element of ascending list a that is >= x."""
    lo, hi = 0, len(a)
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


def pack_ids(ids):
    b = bytearray(4 * len(ids))
    for i in range(len(ids)):  # (a range loop: no iterator on the frame, which stays on the C stack)
        pack_into("<I", b, 4 * i, ids[i])
    return b


def _ids(body):
    return [unpack_from("<I", body, 4 * i)[0] for i in range(len(body) // 4)]


class Journal:
    def __init__(self, log):
        self.log = log
        self.policy = DROP_OLDEST
        self.pending = []
        self.ooo = []
        self.last_put = 0
        self.dropped = 0
        self.unsaved = []  # acked ids not yet in the log
        self.clear_all = 0  # records with seq < clear_all are cleared
        self.parked = []  # outbox ids given up on, still in the log (ascending)
        self.inflight = {}  # outbox id -> (packet id, stage) of a QoS 2 message under way
        self.tombs = []  # [filter, compiled levels, cutoff seq]
        self.checkpoints = 0
        self._recover()

    # --- appends ------------------------------------------------------------------
    def append(self, kind, parts, flush, t=None):
        """Append a record under the outbox policy; seq, or 0 when refused."""
        log = self.log
        blen = 0
        for p in parts:
            blen += len(p)
        if blen > log.max_body:
            raise ConnectorError(PAYLOAD_TOO_LARGE, "record of %d bytes exceeds %d" % (blen, log.max_body),
                                 {"size": blen, "max": log.max_body})
        x = log.would_drop(blen)
        if x:
            p = self.pending
            if p and p[0] <= x:
                if self.policy == REFUSE_NEW:
                    return 0
                n = bisect(p, x + 1)
                self.dropped += n
                self.remove_at(0, n)
            n = bisect(self.parked, x + 1)
            if n:
                self.dropped += n
                for i in self.parked[:n]:
                    self.inflight.pop(i, None)
                del self.parked[:n]
        seq = log.append(kind, parts, t, flush)
        if kind == K_PENDING or kind == K_OLD_PENDING:
            self.pending.append(seq)
            self.last_put = seq
        elif kind == K_CLEAR:
            self._add_tomb(str(bytes(parts[0]), "utf-8"), seq)
        elif kind == K_ACK:
            self.unsaved = []
        if seq == log.active_first_seq and seq != log.oldest_seq and kind != K_STATE:
            self.checkpoint()  # a new segment (not the first): see the header
        return seq

    def checkpoint(self):
        """Append a K_STATE (flushed): persists unsaved acks, survives the next reclaim."""
        seq = self.append(K_STATE, (self._encode_state(),), True)
        if seq:
            self.unsaved = []
            self.checkpoints += 1
        return seq

    def save_acks(self, flush):
        """Write the acks held in RAM as one K_ACK record (or flush the log)."""
        if self.unsaved:
            if self.append(K_ACK, (pack_ids(self.unsaved),), flush):
                return
        if flush:
            self.log.sync()

    def close(self):
        """Persist what waits in RAM (acks), then close the log."""
        self.save_acks(True)
        self.log.close()

    # --- outbox bookkeeping ---------------------------------------------------------
    def remove_at(self, i, n=1):
        """Remove pending[i:i+n] (acked, dropped or parked)."""
        if i or self.inflight or self.ooo:
            self._remove_at(i, n)
        else:  # the oldest, in order (every ack of a serial writer): a frame on the C stack
            del self.pending[:n]

    def _remove_at(self, i, n):
        p = self.pending
        if self.inflight:
            for x in p[i:i + n]:
                self.inflight.pop(x, None)
        if i:
            self.ooo.extend(p[i:i + n])
        del p[i:i + n]
        if not i:
            if p:
                lo = p[0]
                self.ooo = [a for a in self.ooo if a > lo]
            else:
                self.ooo = []

    def remove(self, oid):
        """Take oid out of the pending or the parked list; False if it is in neither."""
        i = bisect(self.pending, oid)
        if i < len(self.pending) and self.pending[i] == oid:
            self.remove_at(i)
            return True
        i = bisect(self.parked, oid)
        if i < len(self.parked) and self.parked[i] == oid:
            del self.parked[i]
            self.inflight.pop(oid, None)
            return True
        return False

    def park(self, oid):
        i = bisect(self.pending, oid)
        if i >= len(self.pending) or self.pending[i] != oid:
            return False
        self.remove_at(i)
        self.parked.insert(bisect(self.parked, oid), oid)
        return True

    def watermark(self):
        p = self.pending
        return p[0] - 1 if p else self.last_put

    # --- tombstones -------------------------------------------------------------------
    def _add_tomb(self, filt, cutoff):
        if not filt:
            self.clear_all = cutoff
            self.tombs = []
            return
        for t in self.tombs:
            if t[0] == filt:
                t[2] = cutoff
                return
        self.tombs.append([filt, compile_filter(filt), cutoff])

    def hidden(self, seq, topic):
        """Is record seq (with this topic) cleared from history?"""
        if seq < self.clear_all:
            return True
        for t in self.tombs:
            if seq < t[2] and match_levels(t[1], topic):
                return True
        return False

    def live_tombs(self):
        lo = self.log.oldest_seq
        self.tombs = [t for t in self.tombs if t[2] > lo and t[2] > self.clear_all]
        return self.tombs

    # --- checkpoint format --------------------------------------------------------------
    def _encode_state(self):
        w = self.watermark()
        acked = self.ooo
        flags = 0
        ids = acked
        if len(self.pending) < len(acked):
            flags, ids = _LIST_IS_PENDING, self.pending
        tombs = self.live_tombs()
        n = _STATE_HEAD + 4 * len(ids) + 4 + 4 * len(self.parked) + 7 * len(self.inflight)
        enc = []
        for t in tombs:
            f = t[0].encode()
            enc.append(f)
            n += 6 + len(f)
        b = bytearray(n)
        pack_into(_STATE_FMT, b, 0, _STATE_VERSION, flags, w, self.dropped, len(self.pending), len(ids),
                  self.clear_all, len(tombs))
        p = _STATE_HEAD
        for x in ids:
            pack_into("<I", b, p, x)
            p += 4
        for t, f in zip(tombs, enc):
            pack_into("<IH", b, p, t[2], len(f))
            b[p + 6:p + 6 + len(f)] = f
            p += 6 + len(f)
        pack_into("<H", b, p, len(self.parked))
        p += 2
        for x in self.parked:
            pack_into("<I", b, p, x)
            p += 4
        pack_into("<H", b, p, len(self.inflight))
        p += 2
        for x, (pid, stage) in self.inflight.items():
            pack_into("<IHB", b, p, x, pid, stage)
            p += 7
        return b

    def _apply_state(self, body):
        ver, flags, w, dropped, pc, n, clear_all, nt = unpack_from(_STATE_FMT, body, 0)
        p = _STATE_HEAD
        ids = set(unpack_from("<I", body, p + 4 * i)[0] for i in range(n))
        p += 4 * n
        is_pending = flags & _LIST_IS_PENDING
        tombs = []
        for _ in range(nt):
            cut, ln = unpack_from("<IH", body, p)
            tombs.append((str(bytes(body[p + 6:p + 6 + ln]), "utf-8"), cut))
            p += 6 + ln
        parked, inflight = set(), {}
        if ver >= 2:
            (k,) = unpack_from("<H", body, p)
            parked = set(unpack_from("<I", body, p + 2 + 4 * i)[0] for i in range(k))
            p += 2 + 4 * k
            (k,) = unpack_from("<H", body, p)
            for i in range(k):
                x, pid, stage = unpack_from("<IHB", body, p + 2 + 7 * i)
                inflight[x] = (pid, stage)
        # parked ids whose record is still in the log (seen so far in this scan)
        seen = set(self.pending)
        seen.update(self.parked)
        self.parked = sorted(x for x in parked if x in seen)
        keep = []
        for x in self.pending:
            if x > w and x not in parked and ((x in ids) if is_pending else (x not in ids)):
                keep.append(x)
        if keep:
            # Everything done above the new pending[0] stays known: the next checkpoint
            # may store acked ids rather than pending ones.
            lo, kept = keep[0], set(keep)
            done = set(x for x in self.ooo if x > lo)
            done.update(x for x in self.pending if x > lo and x not in kept)
            if not is_pending:
                done.update(x for x in ids if x > lo)
            self.ooo = sorted(done)
        else:
            self.ooo = []
        self.pending = keep
        self.dropped = dropped
        self.last_put = max(self.last_put, w)
        self.clear_all = clear_all
        self.tombs = []
        for f, cut in tombs:
            self._add_tomb(f, cut)
        kept = set(keep)
        kept.update(self.parked)
        self.inflight = dict((x, v) for x, v in inflight.items() if x in kept)
        return w, is_pending, ids, pc - len(keep)

    # --- open ---------------------------------------------------------------------------
    def _recover(self):
        # One pass, oldest first. A checkpoint replaces what came before it; the records
        # after it apply on top.
        log = self.log
        ck = None  # (seq, W, is_pending, ids) of the newest checkpoint
        vanished = 0
        ck_in_active = False
        active = log.active_first_seq
        it = log.scan()
        for seq, t, kind, body in it:
            if kind == K_PENDING or kind == K_OLD_PENDING:
                self.pending.append(seq)
                self.last_put = seq
            elif kind == K_ACK or kind == K_DROP:
                for x in _ids(body):
                    i = bisect(self.pending, x)
                    if i < len(self.pending) and self.pending[i] == x:
                        self.remove_at(i)
                        if kind == K_DROP:
                            self.dropped += 1
                    elif self.remove(x):
                        pass  # a parked message discarded
                    elif ck is not None and x < ck[0]:
                        # Its record vanished after this ack: not a reclaim drop.
                        vanished -= 1
            elif kind == K_PARK:
                for x in _ids(body):
                    self.park(x)
            elif kind == K_INFLIGHT and len(body) >= 7:
                x, pid, stage = unpack_from("<IHB", body, 0)
                if x in self.pending:
                    self.inflight[x] = (pid, stage)
            elif kind == K_CLEAR:
                try:
                    self._add_tomb(str(bytes(body), "utf-8"), seq)
                except Exception:  # not UTF-8 / not a filter: written by something else
                    pass
            elif kind == K_STATE and len(body) >= _STATE_HEAD and 1 <= body[0] <= _STATE_VERSION:
                w, is_p, ids, vanished = self._apply_state(body)
                ck = (seq, w, is_p, ids)
                ck_in_active = seq >= active
        it.close()
        if vanished > 0:
            # A reclaim whose checkpoint a power cut prevented: count what it dropped.
            self.dropped += vanished
        if active != log.oldest_seq and not ck_in_active:
            self.checkpoint()
