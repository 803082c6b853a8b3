# The ring log's record format and its reader (used by lgmqtt.store.log; see its header
# for the format and the recovery rules). Split out to keep each module small.
from binascii import crc32
from struct import unpack_from

from lgmqtt.compat import const

HEADER_SIZE = const(16)
MAGIC = const(0xA1)
FMT = "<BBHIII"
CHUNK = const(512)
M32 = const(0xFFFFFFFF)
_FFS = b"\xff" * CHUNK
_ZEROS = bytes(CHUNK)
_MAGIC_B = b"\xa1"


class Walk:
    """Reads one segment front to back through a buffer. next() -> True with the
    record's fields in .pos .kind .blen .seq .t, and .body_at (offset of the body in
    buf, or -1 when the body was larger than buf); False at the end, with .end (where an
    append may go) and .garbage ((start, end) of bytes that hold no intact record after
    the last one, or None)."""

    def __init__(self, seg, size, buf, prev_seq=0):
        self.seg = seg
        self.size = size
        self.buf = buf
        self.mv = memoryview(buf)
        self.bstart = 0
        self.bvalid = 0
        self.pos = 0
        self.end = 0
        self.garbage = None
        self.corrupt = 0
        self.prev = prev_seq
        self.kind = self.blen = self.seq = self.t = self.rec = 0
        self.body_at = -1

    def _load(self, p, n):
        # Offset in buf where segment bytes [p, p+n) sit (n <= len(buf)), or -1.
        if self.bstart <= p and p + n <= self.bstart + self.bvalid:
            return p - self.bstart
        self.bvalid = 0
        got = self.seg.read_into(p, self.buf)
        self.bstart = p
        self.bvalid = got
        return 0 if got >= n else -1

    def check(self, p):
        """Is there an intact record at p (with seq above the previous one)?"""
        if p + HEADER_SIZE > self.size:
            return False
        o = self._load(p, HEADER_SIZE)
        if o < 0:
            return False
        magic, kind, blen, seq, t, crc = unpack_from(FMT, self.buf, o)
        if magic != MAGIC or seq <= self.prev or p + HEADER_SIZE + blen > self.size:
            return False
        mv = self.mv
        if HEADER_SIZE + blen <= len(self.buf):
            o = self._load(p, HEADER_SIZE + blen)
            if o < 0:
                return False
            c = crc32(mv[o + HEADER_SIZE:o + HEADER_SIZE + blen], crc32(mv[o:o + 12]))
            at = o + HEADER_SIZE
        else:
            # Larger than the buffer: CRC in pieces (the header fields are unpacked).
            c = crc32(mv[o:o + 12])
            q, left = p + HEADER_SIZE, blen
            self.bvalid = 0
            while left:
                n = left if left < len(self.buf) else len(self.buf)
                if self.seg.read_into(q, mv[:n]) != n:
                    return False
                c = crc32(mv[:n], c)
                q += n
                left -= n
            at = -1
        if (c & M32) != crc:
            return False
        self.kind, self.blen, self.seq, self.t, self.body_at = kind, blen, seq, t, at
        self.rec = p
        return True

    def next(self):
        while True:
            p = self.pos
            if p >= self.size:
                self.end = self.size
                return False
            o = self._load(p, 1)
            if o < 0:
                self.end = p
                return False
            b = self.buf[o]
            if b == MAGIC and self.check(p):
                self.prev = self.seq
                self.pos = p + HEADER_SIZE + self.blen
                return True
            if b == 0:
                # Padding written over a torn tail: skip it.
                self.pos = self._skip(p, 0, _ZEROS)
                continue
            if b == 0xFF and self._skip(p, 0xFF, _FFS) >= self.size:
                self.end = p  # erased flash: nothing written past here
                return False
            q = self._resync(p + 1)
            if q < 0:
                self.end = p
                self.garbage = (p, self._last_not_ff(p) + 1)
                return False
            self.corrupt += 1
            self.pos = q

    def _skip(self, p, v, ref):
        # First offset >= p whose byte is not v (or size).
        size, buf = self.size, self.buf
        while p < size:
            self.bvalid = 0
            n = self.seg.read_into(p, buf)
            if n <= 0:
                return size
            if n > size - p:
                n = size - p
            if n == len(buf) and buf == ref:
                p += n
                continue
            for i in range(n):
                if buf[i] != v:
                    return p + i
            p += n
        return size

    def _resync(self, p):
        # Offset of the next intact record at or after p, or -1.
        size = self.size
        while p + HEADER_SIZE <= size:
            self.bvalid = 0
            o = self._load(p, 1)
            if o < 0:
                return -1
            i = self.buf.find(_MAGIC_B, 0, self.bvalid)
            if i < 0:
                p = self.bstart + self.bvalid
                continue
            q = self.bstart + i
            if self.check(q):
                return q
            p = q + 1
        return -1

    def _last_not_ff(self, p):
        size, buf, last = self.size, self.buf, p
        while p < size:
            self.bvalid = 0
            n = self.seg.read_into(p, buf)
            if n <= 0:
                break
            if n > size - p:
                n = size - p
            if not (n == len(buf) and buf == _FFS):
                for i in range(n):
                    if buf[i] != 0xFF:
                        last = p + i
            p += n
        return last
