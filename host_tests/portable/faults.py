# Test helpers for the ring log (both interpreters): temporary directories, a storage
# wrapper that cuts the power at its k-th write, and deterministic record bodies.
import os

from flashsim import PowerCut


def tmpdir(tag="t"):
    """A fresh empty directory under /tmp (MicroPython has no tempfile)."""
    name = "/tmp/lgmqtt-%s-%s" % (tag, "".join("%02x" % b for b in os.urandom(6)))
    os.mkdir(name)
    return name


def rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.remove(p)
        except OSError:
            rmtree(p)
    os.rmdir(path)


def body_for(seq, salt=0):
    """Deterministic body of varying length (20..99 bytes) for record `seq`."""
    n = 20 + (seq * 37 + salt) % 80
    return bytes(((seq * 7 + i + salt) & 0xFF) for i in range(n))


class FaultySegment:
    def __init__(self, owner, inner):
        self._o = owner
        self._s = inner

    def size(self):
        self._o.check()
        return self._s.size()

    def read_into(self, pos, buf):
        self._o.check()
        return self._s.read_into(pos, buf)

    def write(self, pos, data):
        o = self._o
        if o.tick():
            if o.partial:
                k = len(data) // 2
                if k:
                    self._s.write(pos, memoryview(data)[:k])
            # What was written before the cut reached the medium (a file's buffer is
            # pushed out now, not later when a stale handle is collected).
            self._s.flush()
            o.die()
        self._s.write(pos, data)

    def flush(self):
        self._o.check()
        self._s.flush()

    def close(self):
        self._s.close()


class FaultyStorage:
    """Wraps a storage; the k-th write or reset after cut_after(k) is cut: a write
    leaves half its bytes (partial=True) or none, a reset happens (partial=True) or
    not, then PowerCut is raised and everything afterwards raises PowerCut."""

    def __init__(self, inner, partial=True):
        self.inner = inner
        self.partial = partial
        self.ops = 0
        self._cut_at = None
        self.dead = False

    def cut_after(self, k):
        self._cut_at = None if k is None else self.ops + k

    def check(self):
        if self.dead:
            raise PowerCut("power is off")

    def tick(self):
        self.check()
        self.ops += 1
        return self._cut_at is not None and self.ops >= self._cut_at

    def die(self):
        self.dead = True
        raise PowerCut("power cut at write %d" % self.ops)

    def open(self, i, create=False):
        self.check()
        s = self.inner.open(i, create)
        return None if s is None else FaultySegment(self, s)

    def reset(self, i):
        if self.tick():
            if self.partial:
                self.inner.reset(i).close()
            self.die()
        return FaultySegment(self, self.inner.reset(i))

    def remove(self, i):
        self.check()
        self.inner.remove(i)
