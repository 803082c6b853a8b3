# The ring log's storage on a raw flash partition (the interface: lgmqtt.store.media):
# segments back to back on a block device (esp32.Partition, rp2.Flash, the tests'
# FlashSim), no filesystem: one program per write, one erase per block when a segment is
# reclaimed. Apart from media so that boards that keep the log in files never load it.
from lgmqtt.compat import const

_ENOSPC = const(28)
_EINVAL = const(22)


def _ok(ret):
    # Block devices return None (or 0) on success; a Python one may return -errno.
    if ret:
        raise OSError(-ret if ret < 0 else ret)


class BlockSegment:
    def __init__(self, bdev, first_block, bs, size):
        self._bdev = bdev
        self._first = first_block
        self._bs = bs
        self._size = size

    def size(self):
        return self._size

    def read_into(self, pos, buf):
        n = min(len(buf), self._size - pos)
        if n <= 0:
            return 0
        if n < len(buf):
            buf = memoryview(buf)[:n]
        # Extended protocol: an offset inside the block; reads may cross blocks.
        _ok(self._bdev.readblocks(self._first + pos // self._bs, buf, pos % self._bs))
        return n

    def write(self, pos, data):
        if pos < 0 or pos + len(data) > self._size:
            raise OSError(_ENOSPC)
        # Program only (offset form never erases); the log writes erased space only.
        _ok(self._bdev.writeblocks(self._first + pos // self._bs, data, pos % self._bs))

    def flush(self):
        _ok(self._bdev.ioctl(3, 0))

    def close(self):
        pass


class BlockStorage:
    """Segments laid out back to back on a block device: segment i is blocks
    [first + i*k, first + (i+1)*k) with k = segment_size / block size."""

    def __init__(self, bdev, segment_size, first_block=0):
        bs = bdev.ioctl(5, 0) or 512
        if segment_size % bs:
            raise OSError(_EINVAL)
        self._bdev = bdev
        self._bs = bs
        self._k = segment_size // bs
        self._first = first_block
        self._count = bdev.ioctl(4, 0)
        self.segment_size = segment_size

    def _base(self, i):
        b = self._first + i * self._k
        if b + self._k > self._count:
            raise OSError(_ENOSPC)
        return b

    def open(self, i, create=False):
        return BlockSegment(self._bdev, self._base(i), self._bs, self.segment_size)

    def reset(self, i):
        b = self._base(i)
        for j in range(self._k):
            _ok(self._bdev.ioctl(6, b + j))
        return BlockSegment(self._bdev, b, self._bs, self.segment_size)

    def remove(self, i):
        self.reset(i)

    def format(self, segments):
        """Erase the first `segments` segments: do it once before a partition's first
        use (old data there would read as corrupt records until reclaimed)."""
        for i in range(segments):
            self.reset(i)
