# A NOR-flash block device for tests, with MicroPython's block device protocol
# (readblocks/writeblocks/ioctl, simple and extended forms), so `vfs.VfsLfs2` mounts it
# under MicroPython and lgmqtt.store.block.BlockStorage uses it under both interpreters.
#
# It behaves like the flash on an ESP32 or a Pico W where it matters for power loss:
# - erase works on whole 4096-byte blocks and sets every bit to 1 (0xFF);
# - programming can only clear bits: writing a 1 where the flash holds a 0 raises
#   OSError (EIO) and changes nothing, as real NOR would silently corrupt;
# - `cut_after(k)` makes the k-th program or erase from now the last: a program writes
#   only a prefix of its bytes (the rest of the page stays as it was), an erase does
#   nothing, then PowerCut is raised; every later call is refused with -EIO (the block
#   device protocol's error return: raising there would make LittleFS's callback
#   wrapper print it each time the GC closes a file of the dead mount) until the test
#   "reboots" by building a new FlashSim over the same memory (`FlashSim(mem=...)`).
# It counts bytes programmed and blocks erased, the wear figures the bench reports.


class PowerCut(Exception):
    """The emulated supply failed; the device refuses everything afterwards."""


_EIO = 5


class FlashSim:
    def __init__(self, blocks=64, block_size=4096, mem=None, cut_fraction=2):
        self.block_size = block_size
        if mem is None:
            mem = bytearray(b"\xff" * (blocks * block_size))
        self.mem = mem
        self.blocks = len(mem) // block_size
        self.programmed = 0  # bytes programmed (those asked, cleared or not)
        self.erased = 0  # blocks erased
        self.ops = 0  # program + erase operations so far
        self._cut_at = None
        self._dead = False
        # At the cut, a program writes len * (cut_fraction - 1) // cut_fraction bytes.
        self._cut_fraction = cut_fraction

    # --- test controls -------------------------------------------------------------
    def cut_after(self, k):
        """Cut the power during the k-th program/erase from now (k >= 1); None disarms."""
        self._cut_at = None if k is None else self.ops + k

    @property
    def dead(self):
        return self._dead

    def reset_counters(self):
        self.programmed = 0
        self.erased = 0

    # --- block device protocol -----------------------------------------------------
    def _span(self, n, length, off):
        start = n * self.block_size + off
        if n < 0 or off < 0 or start + length > len(self.mem):
            raise OSError(_EIO)
        return start

    def readblocks(self, n, buf, off=0):
        if self._dead:
            return -_EIO
        start = self._span(n, len(buf), off)
        buf[:] = self.mem[start:start + len(buf)]
        return 0

    def writeblocks(self, n, buf, off=None):
        if self._dead:
            return -_EIO
        if off is None:
            # Simple interface: whole blocks, erased here first (as the MicroPython docs
            # ask of writeblocks without an offset).
            if len(buf) % self.block_size:
                raise OSError(_EIO)
            for i in range(len(buf) // self.block_size):
                self._erase(n + i)
            off = 0
        self._program(self._span(n, len(buf), off), buf)
        return 0

    def ioctl(self, op, arg):
        if self._dead:
            return -_EIO
        if op == 4:
            return self.blocks
        if op == 5:
            return self.block_size
        if op == 6:
            self._erase(arg)
            return 0
        if op in (1, 2, 3):
            return 0
        return None

    # --- internals -----------------------------------------------------------------
    def _tick(self):
        # Count one program/erase; True when this is the operation the power dies in.
        self.ops += 1
        return self._cut_at is not None and self.ops >= self._cut_at

    def _program(self, start, data):
        n = len(data)
        old = int.from_bytes(self.mem[start:start + n], "big")
        new = int.from_bytes(bytes(data), "big")
        if new & ~old:
            # NOR programming can only turn 1s into 0s: this needs an erase first.
            raise OSError(_EIO)
        if self._tick():
            k = n * (self._cut_fraction - 1) // self._cut_fraction
            self.mem[start:start + k] = bytes(data[:k])
            self.programmed += k
            self._die()
        self.mem[start:start + n] = data
        self.programmed += n

    def _erase(self, block):
        if block < 0 or block >= self.blocks:
            raise OSError(_EIO)
        if self._tick():
            self._die()
        bs = self.block_size
        self.mem[block * bs:(block + 1) * bs] = b"\xff" * bs
        self.erased += 1

    def _die(self):
        self._dead = True
        self._cut_at = None
        raise PowerCut("power cut at operation %d" % self.ops)


def lfs_boot(blocks, mount="/bench"):
    """A boot function for benches and tests: boot(old) -> (FileStorage on LittleFS
    mounted over a FlashSim, that FlashSim). old=None formats a fresh chip; old=the
    previous FlashSim reboots with its memory (MicroPython only: needs vfs.VfsLfs2)."""
    import vfs

    from lgmqtt.store.media import FileStorage

    def boot(old):
        if old is None:
            try:
                vfs.umount(mount)
            except OSError:
                pass
            bd = FlashSim(blocks=blocks)
            vfs.VfsLfs2.mkfs(bd)
        else:
            vfs.umount(mount)
            bd = FlashSim(mem=old.mem)
        vfs.mount(vfs.VfsLfs2(bd), mount)
        return FileStorage(mount + "/log"), bd

    return boot


def raw_boot(segment_size, segments):
    """boot(old) -> (BlockStorage over a FlashSim of segments x segment_size, the FlashSim)."""
    from lgmqtt.store.block import BlockStorage

    def boot(old):
        bd = FlashSim(blocks=segments * segment_size // 4096) if old is None else FlashSim(mem=old.mem)
        return BlockStorage(bd, segment_size), bd

    return boot
