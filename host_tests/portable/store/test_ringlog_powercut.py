# Power cuts at every write of several appends (reclaims included), on every backend:
# after the "reboot" the log opens without an exception, every record whose append had
# returned is intact, at most the record being written is lost, nothing appears twice,
# nothing beyond what the interrupted append's reclaim drops is lost, and seq continues.
#
# Backends: RAM and files behind FaultyStorage (cuts a write in half or before it), raw
# flash (lgmqtt.store.block.BlockStorage on the NOR emulator, cut at its k-th program or
# erase, both interpreters) and, under MicroPython, LittleFS (vfs.VfsLfs2) on the same
# emulator, the boards' filesystem.
import os

from check import eq
from faults import FaultyStorage, body_for, rmtree, tmpdir
from flashsim import FlashSim, PowerCut
from lgmqtt.store.log import RingLog
from lgmqtt.store.block import BlockStorage
from lgmqtt.store.media import FileStorage, RamStorage

HEAP = "2m"
TIMEOUT = 200


class RamBackend:
    def __init__(self, partial):
        self.partial = partial
        self.inner = RamStorage()
        self.fs = None

    def boot(self):
        self.fs = FaultyStorage(self.inner, self.partial)
        return self.fs

    def arm(self, k):
        self.fs.cut_after(k)

    def ops(self):
        return self.fs.ops

    def shutdown(self):
        pass

    def snapshot(self):
        return dict((i, bytes(s.data[:s.length])) for i, s in self.inner._segs.items())

    def restore(self, snap):
        self.inner = RamStorage()
        for i, data in snap.items():
            self.inner.open(i, True).write(0, data)

    def cleanup(self):
        pass


class FileBackend(RamBackend):
    def __init__(self, partial):
        self.partial = partial
        self.dir = tmpdir("pc")
        self.fs = None

    def boot(self):
        self.fs = FaultyStorage(FileStorage(self.dir, fsync=False), self.partial)
        return self.fs

    def snapshot(self):
        snap = {}
        for n in os.listdir(self.dir):
            with open(self.dir + "/" + n, "rb") as f:
                snap[n] = f.read()
        return snap

    def restore(self, snap):
        for n in os.listdir(self.dir):
            os.remove(self.dir + "/" + n)
        for n, data in snap.items():
            with open(self.dir + "/" + n, "wb") as f:
                f.write(data)

    def cleanup(self):
        rmtree(self.dir)


class RawFlashBackend:
    # frac: a cut program writes (frac - 1) / frac of its bytes (1: none, 2: half).
    def __init__(self, seg_size, blocks, frac):
        self.seg_size = seg_size
        self.frac = frac
        self.mem = FlashSim(blocks=blocks).mem
        self.bd = None

    def boot(self):
        self.bd = FlashSim(mem=self.mem, cut_fraction=self.frac)
        return BlockStorage(self.bd, self.seg_size)

    def arm(self, k):
        self.bd.cut_after(k)

    def ops(self):
        return self.bd.ops

    def shutdown(self):
        pass

    def snapshot(self):
        return bytes(self.mem)

    def restore(self, snap):
        self.mem[:] = snap

    def cleanup(self):
        pass


class LfsBackend(RawFlashBackend):
    MOUNT = "/pcut"

    def __init__(self, blocks, frac):
        import vfs

        self.vfs = vfs
        self.frac = frac
        self.mem = FlashSim(blocks=blocks).mem
        vfs.VfsLfs2.mkfs(FlashSim(mem=self.mem))
        self.bd = None
        self.mounted = False

    def boot(self):
        self.shutdown()
        self.bd = FlashSim(mem=self.mem, cut_fraction=self.frac)
        self.vfs.mount(self.vfs.VfsLfs2(self.bd), self.MOUNT)
        self.mounted = True
        return FileStorage(self.MOUNT + "/log")

    def shutdown(self):
        if self.mounted:
            self.mounted = False
            try:
                self.vfs.umount(self.MOUNT)
            except Exception:  # a dead device refuses the unmount's sync: fine
                pass

    def cleanup(self):
        self.shutdown()


def _body(seq, mult):
    return body_for(seq) * mult


def _close(log):
    try:
        log.close()
    except Exception:  # the power is off: nothing to close cleanly
        pass


def _check_log(log, mult, what):
    st = log.stats
    seqs = []
    for s, t, k, b in log.scan():
        eq(bytes(b), _body(s, mult), "%s: body of %d" % (what, s))
        eq(t, s, what)
        seqs.append(s)
    lo = log.oldest_seq
    eq(seqs, list(range(lo, lo + len(seqs))), what + ": seqs contiguous, once each")
    eq(st["corrupt_skipped"], 0, what + ": corrupt")
    assert st["torn_tail"] <= 1, (what, st)
    return seqs


def _cycle(be, seg_size, nseg, prefill, m, mult):
    """Run every cut position over m appends that start from a prefilled, wrapped log."""

    def append_one(log):
        seq = log.next_seq
        return log.append(1, _body(seq, mult), t=seq)

    log = RingLog(be.boot(), segment_size=seg_size, segments=nseg)
    for _ in range(prefill):
        append_one(log)
    assert log.stats["reclaimed_segments"] >= 1
    log.close()
    be.shutdown()
    snap = be.snapshot()
    # Reference run: the ops count of the cycle, and oldest_seq after each append.
    log = RingLog(be.boot(), segment_size=seg_size, segments=nseg)
    ops0 = be.ops()
    ref_oldest = [log.oldest_seq]
    reclaims0 = log.stats["reclaimed_segments"]
    for _ in range(m):
        append_one(log)
        ref_oldest.append(log.oldest_seq)
    total = be.ops() - ops0
    assert log.stats["reclaimed_segments"] - reclaims0 >= 1, "the cycle must include a reclaim"
    log.close()
    cuts = 0
    for k in range(1, total + 2):
        be.shutdown()
        be.restore(snap)
        log = RingLog(be.boot(), segment_size=seg_size, segments=nseg)
        base = log.newest_seq
        be.arm(k)
        returned = []
        cut = False
        try:
            for _ in range(m):
                returned.append(append_one(log))
        except PowerCut:
            cut = True
        _close(log)
        eq(cut, k <= total, "cut at %d of %d" % (k, total))
        cuts += cut
        be.shutdown()
        what = "k=%d" % k
        log = RingLog(be.boot(), segment_size=seg_size, segments=nseg)  # must not raise
        seqs = _check_log(log, mult, what)
        j = len(returned)
        last_ok = returned[-1] if returned else base
        eq(returned, list(range(base + 1, last_ok + 1)), what)
        newest = log.newest_seq
        if cut:
            assert newest in (last_ok, last_ok + 1), (what, newest, last_ok)
            # Nothing older is lost than what the interrupted append's reclaim drops.
            assert ref_oldest[j] <= log.oldest_seq <= ref_oldest[j + 1], (what, log.oldest_seq, ref_oldest)
        else:
            eq(newest, last_ok, what)
            eq(log.oldest_seq, ref_oldest[j], what)
        for s in returned:
            assert s in seqs or s < log.oldest_seq, (what, s)
        # Seq continues, and the repaired log reopens clean.
        eq(append_one(log), newest + 1, what)
        log.close()
        be.shutdown()
        log = RingLog(be.boot(), segment_size=seg_size, segments=nseg)
        seqs = _check_log(log, mult, what + " after repair")
        eq(log.stats["torn_tail"], 0, what)
        eq(seqs[-1], newest + 1, what)
        log.close()
    eq(cuts, total)
    return total


def test_power_cut_ram_and_files():
    for partial in (True, False):
        for be in (RamBackend(partial), FileBackend(partial)):
            try:
                n = _cycle(be, seg_size=512, nseg=3, prefill=24, m=20, mult=1)
                assert n >= 20, n  # header + body per append, and the reclaims
            finally:
                be.cleanup()


def test_power_cut_flash():
    # Raw NOR flash under both interpreters: the log must also never program a bit
    # from 0 to 1 (the emulator raises OSError, which would fail the run).
    for frac in (1, 2):
        be = RawFlashBackend(4096, blocks=3, frac=frac)
        n = _cycle(be, seg_size=4096, nseg=3, prefill=40, m=24, mult=6)
        assert n >= 48, n  # header and body programs, and the erases
    try:
        import vfs

        lfs = hasattr(vfs, "VfsLfs2")
    except ImportError:
        lfs = False
    for frac in (1, 2) if lfs else ():
        be = LfsBackend(blocks=24, frac=frac)
        try:
            n = _cycle(be, seg_size=1024, nseg=3, prefill=26, m=16, mult=2)
            assert n >= 32, n
        finally:
            be.cleanup()
