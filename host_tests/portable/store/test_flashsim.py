# The flash emulator itself: NOR rules (erase to 0xFF, programming only clears bits),
# the block device protocol MicroPython's VfsLfs2 uses, wear counters, and the power cut.
from check import eq, raises
from flashsim import FlashSim, PowerCut


def test_geometry_and_ioctl():
    bd = FlashSim(blocks=8)
    eq(bd.ioctl(4, 0), 8)
    eq(bd.ioctl(5, 0), 4096)
    eq(bd.ioctl(1, 0), 0)
    eq(bd.ioctl(3, 0), 0)
    eq(bd.ioctl(2, 0), 0)
    buf = bytearray(10)
    bd.readblocks(7, buf, 4086)
    eq(bytes(buf), b"\xff" * 10)
    raises(OSError, bd.readblocks, 7, buf, 4090)  # past the end of the device


def test_program_only_clears_bits():
    bd = FlashSim(blocks=4)
    bd.writeblocks(1, b"\xf0\x0f", 100)
    bd.writeblocks(1, b"\x30\x01", 100)  # clears more bits: allowed
    buf = bytearray(2)
    bd.readblocks(1, buf, 100)
    eq(bytes(buf), b"\x30\x01")
    e = raises(OSError, bd.writeblocks, 1, b"\x31", 100)  # 0 -> 1 needs an erase
    eq(e.args[0], 5)
    bd.readblocks(1, buf, 100)
    eq(bytes(buf), b"\x30\x01")  # refused writes change nothing
    eq(bd.programmed, 4)
    eq(bd.ioctl(6, 1), 0)
    eq(bd.erased, 1)
    bd.readblocks(1, buf, 100)
    eq(bytes(buf), b"\xff\xff")
    bd.writeblocks(1, b"\x31", 100)
    # Writes may cross a block boundary (extended interface, like esp32.Partition).
    bd.writeblocks(1, b"abcd", 4094)
    buf = bytearray(4)
    bd.readblocks(2, buf, 0)
    eq(bytes(buf[:2]), b"cd")


def test_simple_interface_erases_whole_blocks():
    bd = FlashSim(blocks=4)
    bd.writeblocks(2, b"\x00" * 10, 0)
    bd.writeblocks(2, b"\x55" * 4096)  # no offset: erase then program
    eq(bd.erased, 1)
    buf = bytearray(4096)
    bd.readblocks(2, buf)
    eq(bytes(buf), b"\x55" * 4096)
    raises(OSError, bd.writeblocks, 2, b"\x55" * 100)  # not whole blocks


def test_power_cut_writes_a_prefix_then_refuses_everything():
    bd = FlashSim(blocks=4)
    bd.cut_after(2)
    bd.writeblocks(0, b"first", 0)
    raises(PowerCut, bd.writeblocks, 0, b"ABCDEFGH", 10)
    assert bd.dead
    eq(bd.readblocks(0, bytearray(4), 0), -5)  # refused: EIO, the protocol's error return
    eq(bd.ioctl(4, 0), -5)
    eq(bd.writeblocks(1, b"x", 0), -5)
    eq(bd.ioctl(6, 1), -5)
    eq(bd.ops, 2)
    # Reboot: a new device over the same cells sees what reached them.
    bd2 = FlashSim(mem=bd.mem)
    buf = bytearray(20)
    bd2.readblocks(0, buf, 0)
    eq(bytes(buf), b"first\xff\xff\xff\xff\xffABCD\xff\xff\xff\xff\xff\xff")
    # A cut erase leaves the block as it was.
    bd2.cut_after(1)
    raises(PowerCut, bd2.ioctl, 6, 0)
    bd3 = FlashSim(mem=bd.mem)
    bd3.readblocks(0, buf, 0)
    eq(bytes(buf[:5]), b"first")
    eq(bd3.ops, 0)


def test_counters_under_a_filesystem_or_raw_log():
    # Under MicroPython: LittleFS (vfs.VfsLfs2) formats and mounts the emulator, and a
    # file survives a remount. Both interpreters: the ring log on the raw device.
    from lgmqtt.store.log import RingLog
    from lgmqtt.store.block import BlockStorage

    bd = FlashSim(blocks=16)
    log = RingLog(BlockStorage(bd, 4096), segment_size=4096, segments=4)
    bd.reset_counters()
    for i in range(100):
        log.append(1, bytes(84))
    # 100 records of 100 bytes: each programmed once, one erase per reclaimed segment.
    eq(bd.programmed, 100 * 100)
    eq(bd.erased, 2)
    try:
        import vfs
    except ImportError:
        vfs = None
    if vfs is not None and hasattr(vfs, "VfsLfs2"):
        bd = FlashSim(blocks=16)
        vfs.VfsLfs2.mkfs(bd)
        vfs.mount(vfs.VfsLfs2(bd), "/fsim")
        try:
            with open("/fsim/f", "wb") as f:
                f.write(b"kept")
        finally:
            vfs.umount("/fsim")
        assert bd.programmed > 0 and bd.erased > 0
        vfs.mount(vfs.VfsLfs2(FlashSim(mem=bd.mem)), "/fsim")
        try:
            with open("/fsim/f", "rb") as f:
                eq(f.read(), b"kept")
        finally:
            vfs.umount("/fsim")
