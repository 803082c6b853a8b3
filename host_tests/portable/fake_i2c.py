# A fake I2C bus with a register-level BME280 on it, for tests (both interpreters).
#
# FakeI2C has machine.I2C's memory-transfer methods (readfrom_mem, readfrom_mem_into,
# writeto_mem, scan) and behaves like MicroPython's on a real bus where a driver can
# tell: an address nobody acknowledges raises OSError(19) (ENODEV, what machine.I2C
# raises on a NACK); `fail_after(k, errno)` makes the k-th transfer from now fail
# part-way (a read fills only part of its buffer) with OSError(errno), like a glitch
# or a sensor unplugged mid-transfer.
#
# BME280Chip follows the datasheet (BST-BME280-DS002) register by register:
# - 0xD0 id (0x60 unless told otherwise); 0xE0 reset: writing 0xB6 puts every control
#   and data register back to its reset value and sets status.im_update for 2 ms
#   (the NVM copy), any other value is ignored, and it reads 0x00;
# - calibration 0x88..0xA1 and 0xE1..0xE7 as given (calibration_bytes() lays values out
#   as table 16 says: little-endian words, two's complement where signed, dig_H4/H5
#   as 12-bit values split over 0xE4..0xE6);
# - writable: ctrl_hum 0xF2 (bits 2:0), ctrl_meas 0xF4, config 0xF5; writes to any
#   other register are ignored (read-only or reserved);
# - ctrl_hum takes effect only at the next ctrl_meas write (section 5.4.3);
# - a ctrl_meas write with mode 01 or 10 starts a forced measurement: status bit 3
#   (measuring) is set for `duration_ms` (default: the datasheet's typical time,
#   appendix 9.1), then the data registers take the new values and the mode bits
#   return to 00 (sleep). Normal mode (11) is stored but not emulated;
# - data 0xF7..0xFE: pressure and temperature 20-bit (msb, lsb, xlsb[7:4]), humidity
#   16-bit; a quantity with oversampling 0 reads 0x80000 / 0x8000 (skipped); reset
#   values are those skipped values (0x80 0x00 0x00 ...);
# - reads auto-increment across registers (one transfer is one consistent snapshot,
#   like the chip's shadow registers); in a multi-byte write, the bytes after the first
#   are (register, value) pairs: I2C writes on the BME280 do not auto-increment
#   (section 6.2.1).
# The raw values a measurement produces are `chip.adc = (adc_P, adc_T, adc_H)`.
from lgmqtt.compat import ticks_add, ticks_diff, ticks_ms

ENODEV = 19
EIO = 5


class FakeI2C:
    def __init__(self, devices=None):
        self.devices = dict(devices or {})
        self.transfers = 0
        self._fail_at = None
        self._fail_errno = EIO

    def scan(self):
        return sorted(self.devices)

    def fail_after(self, k, errno=EIO):
        """The k-th transfer from now (k >= 1) fails part-way with OSError(errno)."""
        self._fail_at = self.transfers + k
        self._fail_errno = errno

    def _device(self, addr, addrsize):
        if addrsize != 8:
            raise ValueError("this bus emulates 8-bit register addresses only")
        self.transfers += 1
        dev = self.devices.get(addr)
        if dev is None:
            raise OSError(ENODEV)
        failing = self._fail_at is not None and self.transfers == self._fail_at
        if failing:
            self._fail_at = None
        return dev, failing

    def readfrom_mem(self, addr, memaddr, nbytes, *, addrsize=8):
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf, addrsize=addrsize)
        return bytes(buf)

    def readfrom_mem_into(self, addr, memaddr, buf, *, addrsize=8):
        dev, failing = self._device(addr, addrsize)
        data = dev.read_block(memaddr, len(buf))
        n = len(buf) // 2 if failing else len(buf)
        for i in range(n):
            buf[i] = data[i]
        if failing:
            raise OSError(self._fail_errno)

    def writeto_mem(self, addr, memaddr, buf, *, addrsize=8):
        dev, failing = self._device(addr, addrsize)
        if failing:
            raise OSError(self._fail_errno)  # nothing reached the registers
        dev.write_block(memaddr, bytes(buf))


def _le16(v):
    v &= 0xFFFF
    return bytes((v & 0xFF, v >> 8))


def calibration_bytes(cal):
    """(T1, T2, T3, P1..P9, H1, H2, H3, H4, H5, H6) -> (26 bytes for 0x88..0xA1,
    7 bytes for 0xE1..0xE7), laid out as the datasheet's table 16."""
    t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, h4, h5, h6 = cal
    c0 = b"".join(_le16(v) for v in (t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9))
    c0 += bytes((0, h1))  # 0xA0 is not used, 0xA1 is dig_H1
    h4 &= 0xFFF
    h5 &= 0xFFF
    c1 = _le16(h2) + bytes((h3, h4 >> 4, (h4 & 0x0F) | ((h5 & 0x0F) << 4), h5 >> 4, h6 & 0xFF))
    return c0, c1


def typical_time_ms(osrs_t, osrs_p, osrs_h):
    """Datasheet appendix 9.1, typical: 1 + 2*T + (2*P + 0.5) + (2*H + 0.5) ms."""
    t = 1000
    for code, extra in ((osrs_t, 0), (osrs_p, 500), (osrs_h, 500)):
        if code:
            t += 2000 * (1 << (min(code, 5) - 1)) + extra
    return (t + 999) // 1000


_WRITABLE = {0xF2: 0x07, 0xF4: 0xFF, 0xF5: 0xFD}  # register: bits that can be written


class BME280Chip:
    def __init__(self, cal0, cal1, chip_id=0x60, clock=ticks_ms):
        self.clock = clock
        self.regs = bytearray(256)
        self.regs[0x88:0xA2] = cal0
        self.regs[0xE1:0xE8] = cal1
        self.regs[0xD0] = chip_id
        self.adc = (0x80000, 0x80000, 0x8000)
        self.duration_ms = None  # None: typical_time_ms() of the measurement
        self.measurements = 0
        self.writes = []  # (register, value) in order, for tests of the driver's sequence
        self._reset()

    def _reset(self):
        for r in (0xF2, 0xF3, 0xF4, 0xF5):
            self.regs[r] = 0
        self.regs[0xF7:0xFF] = b"\x80\x00\x00\x80\x00\x00\x80\x00"
        self._osrs_h = 0  # the humidity oversampling in effect (latched by ctrl_meas)
        self._busy = None  # (started, duration, osrs) of a running measurement
        self._im_until = ticks_add(self.clock(), 2)

    def _tick(self):
        now = self.clock()
        if self._im_until is not None and ticks_diff(now, self._im_until) >= 0:
            self._im_until = None
        if self._busy is not None and ticks_diff(now, self._busy[0]) >= self._busy[1]:
            self._finish(self._busy[2])
        status = 0x08 if self._busy is not None else 0
        self.regs[0xF3] = status | (0x01 if self._im_until is not None else 0)

    def _finish(self, osrs):
        ot, op, oh = osrs
        adc_p, adc_t, adc_h = self.adc
        p = adc_p if op else 0x80000
        t = adc_t if ot else 0x80000
        h = adc_h if oh else 0x8000
        self.regs[0xF7:0xFF] = bytes((p >> 12, (p >> 4) & 0xFF, (p & 0x0F) << 4,
                                      t >> 12, (t >> 4) & 0xFF, (t & 0x0F) << 4, h >> 8, h & 0xFF))
        self.regs[0xF4] &= 0xFC  # forced mode ends in sleep mode
        self._busy = None
        self.measurements += 1

    def read_block(self, reg, n):
        self._tick()
        return bytes(self.regs[(reg + i) & 0xFF] for i in range(n))

    def write_block(self, reg, data):
        self._write(reg, data[0])
        for i in range(1, len(data) - 1, 2):  # (register, value) pairs after the first byte
            self._write(data[i], data[i + 1])

    def _write(self, reg, value):
        self._tick()
        self.writes.append((reg, value))
        if reg == 0xE0:
            if value == 0xB6:
                self._reset()
            return
        mask = _WRITABLE.get(reg)
        if mask is None:
            return  # read-only or reserved: the chip ignores it
        self.regs[reg] = value & mask
        if reg == 0xF4:
            self._osrs_h = self.regs[0xF2]  # section 5.4.3: ctrl_hum counts from here on
            mode = value & 0x03
            if mode in (1, 2) and self._busy is None:
                osrs = (value >> 5, (value >> 2) & 0x07, self._osrs_h)
                d = self.duration_ms if self.duration_ms is not None else typical_time_ms(*osrs)
                self._busy = (self.clock(), d, osrs)
                self._tick()


class ManualClock:
    """A millisecond clock that moves only when told (chip timing without waiting)."""

    def __init__(self, t=1000):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, ms):
        self.t += ms
