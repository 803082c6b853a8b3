# Storage backends for the ring log (lgmqtt.store.log). One small interface, three media:
#
#   FileStorage(path)        segment files seg0.log .. segN.log in a directory: CPython
#                            files, or a board's LittleFS/FAT through MicroPython's open()
#   RamStorage(segment_size) bytearrays in RAM, bounded: "history without a path"
#   BlockStorage(bdev, segment_size)
#                            a raw flash partition through MicroPython's block device
#                            protocol (esp32.Partition, rp2.Flash, or the tests'
#                            FlashSim): no filesystem, so one program per write and one
#                            erase per 4 KB block when a segment is reclaimed
#
# The interface (duck-typed; the ring log uses nothing else):
#
#   storage.open(i, create)  -> segment i, or None when it does not exist and not create
#   storage.reset(i)         -> segment i, emptied (file recreated / blocks erased)
#   storage.remove(i)        forget segment i (no error when missing)
#   seg.size()               bytes the log may scan: a file's length, a raw segment's
#                            capacity (its unwritten tail reads 0xFF)
#   seg.read_into(pos, buf)  fill buf from offset pos; returns the count (short at the end)
#   seg.write(pos, data)     write bytes-like data at offset pos (the log only ever writes
#                            at or after its append position, and zeros over a torn tail)
#   seg.flush()              make what was written durable (fsync / LittleFS commit)
#   seg.close()
#
# Errors are OSError from the medium; the ring log turns them into STORAGE_ERROR.
import os

from lgmqtt.compat import const

_ENOENT = const(2)
_EEXIST = const(17)
_ENOSPC = const(28)
_EINVAL = const(22)


# --- files --------------------------------------------------------------------------
class FileSegment:
    def __init__(self, f, fsync):
        self._f = f
        self._fsync = fsync

    def size(self):
        self._f.seek(0, 2)
        return self._f.tell()

    def read_into(self, pos, buf):
        f = self._f
        f.seek(pos)
        n = f.readinto(buf)
        return n or 0

    def write(self, pos, data):
        f = self._f
        f.seek(pos)
        f.write(data)

    def flush(self):
        self._f.flush()
        if self._fsync:
            # CPython: flush() only reaches the OS; fsync reaches the disk. MicroPython's
            # flush() on LittleFS already commits (lfs_file_sync).
            os.fsync(self._f.fileno())

    def close(self):
        self._f.close()


class FileStorage:
    """Segment files `seg<i>.log` in directory `path` (created if missing).

    fsync: call os.fsync after each flush (default: where os has fsync, i.e. CPython).
    """

    def __init__(self, path, fsync=None):
        self.path = path.rstrip("/") or "/"
        self._fsync = hasattr(os, "fsync") if fsync is None else fsync
        try:
            os.mkdir(self.path)
        except OSError as e:
            if e.args[0] != _EEXIST:
                raise

    def name(self, i):
        return "%s/seg%d.log" % (self.path, i)

    def open(self, i, create=False):
        try:
            f = open(self.name(i), "r+b")
        except OSError as e:
            if e.args[0] != _ENOENT or not create:
                if e.args[0] == _ENOENT:
                    return None
                raise
            f = open(self.name(i), "w+b")
        return FileSegment(f, self._fsync)

    def reset(self, i):
        # "w+b" truncates in one step: on LittleFS a single metadata commit, so a power
        # cut leaves either the old segment or an empty one.
        return FileSegment(open(self.name(i), "w+b"), self._fsync)

    def remove(self, i):
        try:
            os.remove(self.name(i))
        except OSError as e:
            if e.args[0] != _ENOENT:
                raise


# --- RAM ----------------------------------------------------------------------------
class RamSegment:
    def __init__(self, cap):
        self.data = bytearray(cap) if cap else bytearray()
        self.cap = cap
        self.length = 0

    def size(self):
        return self.length

    def read_into(self, pos, buf):
        n = min(len(buf), self.length - pos)
        if n <= 0:
            return 0
        buf[:n] = memoryview(self.data)[pos:pos + n]
        return n

    def write(self, pos, data):
        end = pos + len(data)
        if self.cap:
            if end > self.cap:
                raise OSError(_ENOSPC)
        elif end > len(self.data):
            self.data.extend(bytes(end - len(self.data)))
        self.data[pos:end] = data
        if end > self.length:
            self.length = end

    def flush(self):
        pass

    def close(self):
        pass


class RamStorage:
    """Segments in RAM; they survive a RingLog being closed and reopened on the same
    RamStorage, not a reboot. With segment_size each segment is one bytearray of that
    size, allocated when first written (no growth, no fragmentation)."""

    def __init__(self, segment_size=None):
        self._cap = segment_size
        self._segs = {}

    def open(self, i, create=False):
        s = self._segs.get(i)
        if s is None and create:
            s = self._segs[i] = RamSegment(self._cap)
        return s

    def reset(self, i):
        s = self._segs.get(i)
        if s is None:
            s = self._segs[i] = RamSegment(self._cap)
        s.length = 0
        return s

    def remove(self, i):
        self._segs.pop(i, None)


# --- raw flash ----------------------------------------------------------------------
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
