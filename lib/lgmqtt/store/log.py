# A power-loss-safe, append-only record log over a few fixed-size segments.
#
#   from lgmqtt.store.log import RingLog
#   from lgmqtt.store.media import FileStorage          # or RamStorage, BlockStorage
#   log = RingLog(FileStorage("/history"), segment_size=65536, segments=4)  # opens, recovers
#   seq = log.append(kind, body)          # durable (flushed) when it returns
#   seq = log.append(kind, body, flush=False)  # lazy: durable at the next flush / sync()
#   for seq, t, kind, body in log.scan(from_seq=None, newest_first=False): ...
#   log.oldest_seq, log.newest_seq, log.next_seq, log.stats, log.would_drop(n)
#   log.active_first_seq, log.sync()
#   log.close()
#
# What the caller can rely on:
# - `append(kind, body, t=None)` writes one record and flushes it; when it returns the
#   record survives a power cut. kind is 0..255 and means nothing to the log (the history
#   and outbox layers give it meaning). body is bytes-like, or a tuple of bytes-like
#   parts written back to back (no copy: `append(K, message.parts())`). t is seconds
#   (u32, default compat.time_s()). The result is the record's sequence number.
# - `append(..., flush=False)` writes without flushing: the record is readable at once
#   but survives a power cut only once a later flushed append, `sync()`, or the reclaim
#   of the next segment (which flushes the full one before closing it) has returned. A
#   flush covers every write before it, so lazy records are never durable out of order
#   (a power cut keeps a prefix of them). On raw flash a write is a program: lazy costs
#   the same; on LittleFS the unflushed bytes wait in the file's cache (no program).
# - Sequence numbers start at 1 and grow by one per append, across reboots: opening
#   continues from the newest intact record + 1. A record lost to a power cut during
#   its append (its append never returned) may have its number reused.
# - When the next record does not fit in the active segment, the oldest segment is
#   reclaimed whole (recreated empty) and everything in it is dropped: afterwards
#   `oldest_seq` is higher. `would_drop(body_len)` says beforehand what an append would
#   drop (the newest seq it would drop, or 0), for a "refuse new" policy. Nothing else
#   ever removes or rewrites a record: to "clear" or "acknowledge", append a record.
# - `scan()` yields (seq, t, kind, body), oldest first or newest first, from `from_seq`
#   on (seqs >= from_seq). body is a memoryview into a buffer the scan reuses: it is
#   valid until the next step; `bytes(body)` keeps it. `scan(pace=N)` also yields None
#   after every N records walked, for callers that give the event loop a turn there;
#   appends may happen during such a pause: the scan then skips what a reclaim took
#   (it never raises or yields garbage for it); records appended since it began may
#   or may not be yielded.
#   A scan left before its end should be closed (`it = log.scan(); ...; it.close()`):
#   MicroPython does not run a dropped generator's cleanup, so the segment file it
#   holds open would stay open until the GC finalises it.
# - Opening never raises on corrupt data: a record that fails its CRC (or its header
#   checks) is skipped and counted in stats["corrupt_skipped"] (one count per run of
#   unreadable bytes: adjacent bad records count once); the scan resynchronises on the
#   next intact record. Garbage at the end of the active segment (a record torn
#   by a power cut) is counted in stats["torn_tail"] and overwritten with zeros, which
#   the log reads as padding; appends continue after it. Storage failures (OSError from
#   the medium) raise ConnectorError(STORAGE_ERROR).
#
# On-medium format (little-endian), one record:
#   magic u8 (0xA1) | kind u8 | body length u16 | seq u32 | time u32 | crc32 u32 | body
# crc32 covers the first 12 header bytes and the body. A segment holds records back to
# back, optionally zero padding (skipped), then its end: end of file, or 0xFF (erased
# flash) to the end of a raw segment. Segments are used in ring order; the one holding
# the highest first seq is the active one (the log keeps no other metadata on the medium).
# A record never spans two segments, so body length <= segment_size - 16. The format
# constants and the segment reader live in lgmqtt.store.logformat.
from binascii import crc32
from struct import pack_into

from lgmqtt.compat import const, time_s
from lgmqtt.errors import CONFIG_ERROR, PAYLOAD_TOO_LARGE, STORAGE_ERROR, ConnectorError
from lgmqtt.store.logformat import CHUNK as _CHUNK, FMT as _FMT, HEADER_SIZE, M32 as _M32, MAGIC, Walk as _Walk

_MAXLEN = const(0xFFFF)


def _storage_error(op, exc):
    return ConnectorError(STORAGE_ERROR, "ring log %s failed: %r" % (op, exc), {"op": op})


class RingLog:
    def __init__(self, storage, segment_size=65536, segments=4):
        if segments < 2 or segment_size < HEADER_SIZE + 16:
            raise ConnectorError(
                CONFIG_ERROR, "ring log needs >= 2 segments of >= 32 bytes",
                {"segments": segments, "segment_size": segment_size})
        self.storage = storage
        self.segment_size = segment_size
        self.segments = segments
        self.max_body = min(segment_size - HEADER_SIZE, _MAXLEN)
        self._hdr = bytearray(HEADER_SIZE)
        self._buf = bytearray(_CHUNK)  # recovery
        self._sbuf = bytearray(_CHUNK)  # scans (one at a time reuses it)
        self._zeros = None
        self._seg = None
        self._dirty = False
        self._reclaimed = 0
        self._gen = 0
        self._recover()

    # --- open and recover ---------------------------------------------------------
    def _recover(self):
        n = self.segments
        self._first = [0] * n  # first seq in segment i (0: no record)
        self._last = [0] * n
        self._count = [0] * n
        self._end = [0] * n  # where the next record in segment i goes
        self._corrupt = 0
        self._torn = 0
        self._broken = False
        if self._seg is not None:
            self._close_active()
        garbage = [None] * n
        try:
            for i in range(n):
                seg = self.storage.open(i, False)
                if seg is None:
                    continue
                try:
                    w = _Walk(seg, seg.size(), self._buf)
                    while w.next():
                        if not self._count[i]:
                            self._first[i] = w.seq
                        self._last[i] = w.seq
                        self._count[i] += 1
                    self._end[i] = w.end
                    self._corrupt += w.corrupt
                    garbage[i] = w.garbage
                finally:
                    seg.close()
            a = 0
            for i in range(n):
                if self._first[i] > self._first[a]:
                    a = i
            self._active = a
            for i in range(n):
                g = garbage[i]
                if g is None:
                    continue
                if i == a or (not self._count[i] and i == (a + 1) % n):
                    # Where the last append was torn by a power cut.
                    self._torn += 1
                else:
                    self._corrupt += 1
            self._seg = self.storage.open(a, True)
            self._dirty = False
            g = garbage[a]
            if g is not None:
                self._pad(g[0], g[1])
                self._end[a] = g[1]
        except OSError as e:
            raise _storage_error("open", e)
        self.next_seq = max(self._last) + 1

    def _pad(self, start, end):
        # Zeros over a torn tail: programmable on flash (clears bits only), read back as
        # padding, so nothing of the torn record can ever pass as a record.
        z = self._zeros or bytes(_CHUNK)
        self._zeros = z
        p = start
        while p < end:
            k = end - p if end - p < _CHUNK else _CHUNK
            self._seg.write(p, z if k == _CHUNK else memoryview(z)[:k])
            p += k
        self._seg.flush()

    def _close_active(self):
        seg, self._seg = self._seg, None
        try:
            seg.close()
        except OSError:
            pass

    # --- append -------------------------------------------------------------------
    def append(self, kind, body, t=None, flush=True):
        parts = body if isinstance(body, (tuple, list)) else (body,)
        blen = 0
        for part in parts:
            blen += len(part)
        if blen > self.max_body:
            raise ConnectorError(
                PAYLOAD_TOO_LARGE, "record body of %d bytes exceeds %d" % (blen, self.max_body),
                {"size": blen, "max": self.max_body})
        if not 0 <= kind <= 255:
            raise ConnectorError(STORAGE_ERROR, "record kind must be 0..255", {"kind": kind})
        if t is None:
            t = int(time_s())
        t &= _M32
        try:
            if self._broken:
                self._recover()
            # Until the flush returns, the active segment's end is unknown: a failure
            # below makes the next append re-walk the log first.
            self._broken = True
            a = self._active
            if self._end[a] + HEADER_SIZE + blen > self.segment_size:
                a = self._advance()
            seq = self.next_seq
            h = self._hdr
            pack_into(_FMT, h, 0, MAGIC, kind, blen, seq, t, 0)
            c = crc32(memoryview(h)[:12])
            for part in parts:
                c = crc32(part, c)
            pack_into("<I", h, 12, c & _M32)
            pos = self._end[a]
            seg = self._seg
            seg.write(pos, h)
            pos += HEADER_SIZE
            for part in parts:
                seg.write(pos, part)
                pos += len(part)
            if flush:
                seg.flush()
            self._dirty = not flush
            self._broken = False
        except OSError as e:
            raise _storage_error("append", e)
        self._end[a] = pos
        if not self._count[a]:
            self._first[a] = seq
        self._last[a] = seq
        self._count[a] += 1
        self.next_seq = seq + 1
        return seq

    def _advance(self):
        # Reclaim the segment after the active one, whole, and make it active.
        n = self._active
        nxt = (n + 1) % self.segments
        if self._dirty:
            # Lazy records in the full segment become durable before any reclaim.
            self._seg.flush()
            self._dirty = False
        self._close_active()
        if self._count[nxt]:
            self._reclaimed += 1
        self._first[nxt] = self._last[nxt] = self._count[nxt] = self._end[nxt] = 0
        self._active = nxt
        self._gen += 1  # a paused scan (scan(pace=...)) re-checks its segment
        self._seg = self.storage.reset(nxt)
        return nxt

    def sync(self):
        """Make every lazy (flush=False) append durable."""
        if self._dirty:
            try:
                self._seg.flush()
            except OSError as e:
                raise _storage_error("sync", e)
            self._dirty = False

    def would_drop(self, body_len):
        """Newest seq that appending a body of body_len bytes would drop, or 0."""
        if self._end[self._active] + HEADER_SIZE + body_len <= self.segment_size:
            return 0
        return self._last[(self._active + 1) % self.segments]

    # --- read ---------------------------------------------------------------------
    def _order(self):
        # Segments holding records, oldest first.
        idx = [i for i in range(self.segments) if self._count[i]]
        idx.sort(key=lambda i: self._first[i])
        return idx

    def scan(self, from_seq=None, newest_first=False, pace=0):
        """Records (seq, t, kind, body) from from_seq on. pace > 0: a None is yielded
        after every `pace` records walked, so that a caller in an event loop can let
        other tasks run; appends may then happen between steps (see _still)."""
        lo = from_seq or 0
        order = self._order()
        if newest_first:
            order.reverse()
        firsts = list(self._first)
        buf = self._sbuf or bytearray(_CHUNK)
        self._sbuf = None
        walked = 0
        for i in order:
            if self._first[i] != firsts[i]:
                continue  # reclaimed since the scan began: its records are gone
            if self._last[i] < lo:
                if newest_first:
                    break
                continue
            if i == self._active:
                seg, own = self._seg, False
            else:
                try:
                    seg, own = self.storage.open(i, False), True
                except OSError as e:
                    raise _storage_error("read", e)
                if seg is None:
                    continue
            cur = [seg, own, self._gen]
            try:
                w = _Walk(seg, self._end[i], buf)
                offs = None
                if newest_first:
                    # offsets of this segment's records (2 or 4 bytes each), then walk them backwards
                    from array import array

                    offs = array("H" if self.segment_size <= 0x10000 else "I")
                live = True
                while live and w.next():
                    if w.seq >= lo:
                        if offs is not None:
                            offs.append(w.rec)
                        else:
                            yield (w.seq, w.t, w.kind, self._body(w))
                    walked += 1
                    if pace and walked >= pace:
                        walked = 0
                        yield None
                        live = self._still(i, firsts, w, cur)
                if offs is not None:
                    k = len(offs) - 1
                    while live and k >= 0:
                        w.prev = 0
                        if w.check(offs[k]):
                            yield (w.seq, w.t, w.kind, self._body(w))
                        k -= 1
                        walked += 1
                        if pace and walked >= pace:
                            walked = 0
                            yield None
                            live = self._still(i, firsts, w, cur)
            except OSError as e:
                raise _storage_error("read", e)
            finally:
                if cur[1]:
                    cur[0].close()
        self._sbuf = buf

    def _still(self, i, firsts, w, cur):
        # A paused scan resumes. False when segment i was reclaimed meanwhile (what was
        # left of it is gone). When it was the active segment and appends moved on to
        # the next one, its shared handle was closed: read on through a handle of our own.
        if self._gen == cur[2]:
            return True
        cur[2] = self._gen
        if self._first[i] != firsts[i]:
            return False
        if not cur[1] and i != self._active:
            try:
                seg = self.storage.open(i, False)
            except OSError as e:
                raise _storage_error("read", e)
            if seg is None:
                return False
            cur[0], cur[1] = seg, True
            w.seg = seg
            w.bvalid = 0
        return True

    def _body(self, w):
        if w.body_at >= 0:
            return w.mv[w.body_at:w.body_at + w.blen]
        b = bytearray(w.blen)
        w.seg.read_into(w.rec + HEADER_SIZE, b)
        return memoryview(b)

    # --- state --------------------------------------------------------------------
    @property
    def oldest_seq(self):
        """Seq of the oldest record still held (0 when empty): everything below it was
        dropped by a reclaim."""
        o = self._order()
        return self._first[o[0]] if o else 0

    @property
    def active_first_seq(self):
        """Seq of the first record in the segment appends go to (0: none yet). An append
        whose result equals it started a new segment (and may have reclaimed one)."""
        return self._first[self._active]

    @property
    def newest_seq(self):
        return max(self._last)

    @property
    def stats(self):
        return {
            "records": sum(self._count),
            "bytes_used": sum(self._end),
            "capacity": self.segments * self.segment_size,
            "corrupt_skipped": self._corrupt,
            "torn_tail": self._torn,
            "oldest_seq": self.oldest_seq,
            "newest_seq": self.newest_seq,
            "reclaimed_segments": self._reclaimed,
        }

    def close(self):
        if self._seg is not None:
            if self._dirty:
                self.sync()
            self._close_active()
