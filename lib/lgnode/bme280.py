# Bosch BME280 (temperature, pressure, humidity) over I2C, in forced mode.
#
# Uses only the machine.I2C methods readfrom_mem / readfrom_mem_into / writeto_mem, so
# any object with those works (the tests drive it against a register-level emulation,
# host_tests/portable/fake_i2c.py). The bus is passed in; nothing here imports machine.
#
# One measurement (datasheet section 3.3.3 and 5.4):
#   ctrl_hum (0xF2) osrs_h   -- written first: it takes effect only on the next
#                               ctrl_meas write (datasheet 5.4.3)
#   ctrl_meas (0xF4) osrs_t | osrs_p | mode=01 (forced)
#   wait the datasheet's maximum measurement time (appendix 9.1) with asyncio.sleep,
#   then poll status (0xF3) bit 3 "measuring" a few times, 1 ms apart
#   burst-read 0xF7..0xFE: press[19:0], temp[19:0], hum[15:0] (xlsb in bits 7:4);
#   the chip is back in sleep mode by itself.
#
# Compensation: the datasheet's integer code (section 4.2.3: BME280_compensate_T_int32,
# BME280_compensate_P_int64, bme280_compensate_H_int32), transcribed so that Python
# gives C's results bit for bit: every shift of a signed value in that code is an
# arithmetic shift, which Python's >> is for every int (on a 32-bit MicroPython the
# values above 2**30 become long ints, with the same semantics); the one division is
# C's truncating `/`, which is not Python's flooring `//` for negative operands, so it
# goes through _cdiv. The functions return the datasheet's fixed-point integers; the
# sensor layer (lgnode.sensors) turns them into floats only at the end.
import asyncio

from lgmqtt.compat import const
from lgmqtt.errors import ConnectorError
from lgnode import SENSOR_ERROR

CHIP_ID = const(0x60)
_REG_CALIB0 = const(0x88)  # 0x88..0xA1: dig_T1..dig_P9, 0xA0 unused, 0xA1 dig_H1
_REG_ID = const(0xD0)
_REG_RESET = const(0xE0)
_REG_CALIB1 = const(0xE1)  # 0xE1..0xE7: dig_H2..dig_H6
_REG_CTRL_HUM = const(0xF2)
_REG_STATUS = const(0xF3)
_REG_CTRL_MEAS = const(0xF4)
_REG_CONFIG = const(0xF5)
_REG_DATA = const(0xF7)  # 0xF7..0xFE
_RESET_WORD = const(0xB6)
_MEASURING = const(0x08)
_IM_UPDATE = const(0x01)
_FORCED = const(0x01)
SKIPPED_20 = const(0x80000)  # the data registers' value for a skipped T or P
SKIPPED_16 = const(0x8000)  # ... and for a skipped humidity
_POLLS = const(5)  # status polls after the computed wait, 1 ms apart


def _s16(lo, hi):
    v = lo | (hi << 8)
    return v - 0x10000 if v & 0x8000 else v


def _s8(b):
    return b - 0x100 if b & 0x80 else b


def parse_calibration(c0, c1):
    """c0: the 26 bytes at 0x88..0xA1, c1: the 7 bytes at 0xE1..0xE7 (datasheet table
    16) -> (T1, T2, T3, P1..P9, H1, H2, H3, H4, H5, H6). Words are little-endian;
    T1 and P1 are unsigned, H1 and H3 unsigned bytes, H6 a signed byte. dig_H4 and
    dig_H5 are 12-bit signed values split over three registers:
    H4 = 0xE4[7:0] << 4 | 0xE5[3:0],  H5 = 0xE6[7:0] << 4 | 0xE5[7:4],
    signed through their high byte, as Bosch's reference driver does ((int8_t)msb * 16)."""
    t1 = c0[0] | (c0[1] << 8)
    p1 = c0[6] | (c0[7] << 8)
    words = [_s16(c0[i], c0[i + 1]) for i in (2, 4, 8, 10, 12, 14, 16, 18, 20, 22)]
    h4 = _s8(c1[3]) * 16 | (c1[4] & 0x0F)
    h5 = _s8(c1[5]) * 16 | (c1[4] >> 4)
    return (t1, words[0], words[1], p1) + tuple(words[2:]) + (
        c0[25], _s16(c1[0], c1[1]), c1[2], h4, h5, _s8(c1[6]))


def raw_values(d):
    """The 8 data bytes at 0xF7..0xFE -> (adc_P, adc_T, adc_H)."""
    return ((d[0] << 12) | (d[1] << 4) | (d[2] >> 4),
            (d[3] << 12) | (d[4] << 4) | (d[5] >> 4),
            (d[6] << 8) | d[7])


def _cdiv(a, b):
    # C99 `/` on integers: the quotient truncated toward zero
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def compensate_t(cal, adc_t):
    """-> (temperature in 0.01 degC, t_fine). Datasheet BME280_compensate_T_int32."""
    t1, t2, t3 = cal[0], cal[1], cal[2]
    var1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    d = (adc_t >> 4) - t1
    var2 = (((d * d) >> 12) * t3) >> 14
    t_fine = var1 + var2
    return (t_fine * 5 + 128) >> 8, t_fine


def compensate_p(cal, adc_p, t_fine):
    """-> pressure in Pa as unsigned Q24.8 (value / 256 = Pa); 0 when the calibration
    would divide by zero, as the datasheet's BME280_compensate_P_int64 does."""
    p1, p2, p3, p4, p5, p6, p7, p8, p9 = cal[3:12]
    var1 = t_fine - 128000
    var2 = var1 * var1 * p6
    var2 = var2 + ((var1 * p5) << 17)
    var2 = var2 + (p4 << 35)
    var1 = ((var1 * var1 * p3) >> 8) + ((var1 * p2) << 12)
    var1 = (((1 << 47) + var1) * p1) >> 33
    if var1 == 0:
        return 0
    p = 1048576 - adc_p
    p = _cdiv(((p << 31) - var2) * 3125, var1)
    var1 = (p9 * (p >> 13) * (p >> 13)) >> 25
    var2 = (p8 * p) >> 19
    p = ((p + var1 + var2) >> 8) + (p7 << 4)
    return p & 0xFFFFFFFF  # the datasheet returns (BME280_U32_t)p


def compensate_h(cal, adc_h, t_fine):
    """-> relative humidity in %RH as unsigned Q22.10 (value / 1024 = %RH).
    Datasheet bme280_compensate_H_int32."""
    h1, h2, h3, h4, h5, h6 = cal[12:18]
    v = t_fine - 76800
    v = ((((adc_h << 14) - (h4 << 20) - (h5 * v)) + 16384) >> 15) * (
        ((((((v * h6) >> 10) * (((v * h3) >> 11) + 32768)) >> 10) + 2097152) * h2 + 8192) >> 14)
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4)
    if v < 0:
        v = 0
    if v > 419430400:
        v = 419430400
    return v >> 12


def measure_time_us(osrs_t, osrs_p, osrs_h):
    """The datasheet's maximum measurement time (appendix 9.1) for oversampling codes
    0..5 (0 = skipped, n = 2**(n-1) samples), in microseconds."""
    t = 1250
    for code, extra in ((osrs_t, 0), (osrs_p, 575), (osrs_h, 575)):
        if code:
            t += 2300 * (1 << (min(code, 5) - 1)) + extra
    return t


def _errname(e):
    code = e.args[0] if e.args else None
    return {19: "ENODEV", 5: "EIO", 110: "ETIMEDOUT", 116: "ETIMEDOUT"}.get(code, "errno %s" % code)


class BME280:
    """One chip at `address` (0x76 when SDO is low, 0x77 when high) on `i2c`.
    osrs: oversampling codes (temperature, pressure, humidity), 0..5."""

    def __init__(self, i2c, address=0x76, osrs=(1, 1, 1)):
        self.i2c = i2c
        self.address = address
        self.osrs = osrs
        self.cal = None  # set by begin()
        self._buf = bytearray(8)
        self._wait_ms = (measure_time_us(*osrs) + 999) // 1000

    def _fail(self, what, e=None):
        msg = "bme280 at 0x%02x: %s" % (self.address, what)
        if e is not None:
            name = _errname(e)
            msg += " (%s)" % (name + ": nothing answers at this address; check wiring and address"
                              if name == "ENODEV" else name)
        return ConnectorError(SENSOR_ERROR, msg, {"address": self.address})

    def _read(self, reg, n, what):
        try:
            return self.i2c.readfrom_mem(self.address, reg, n)
        except OSError as e:
            raise self._fail("I2C error reading " + what, e)

    def _write(self, reg, value, what):
        try:
            self.i2c.writeto_mem(self.address, reg, bytes((value,)))
        except OSError as e:
            raise self._fail("I2C error writing " + what, e)

    async def begin(self):
        """Check the chip id, soft-reset, wait for the NVM copy, read the calibration."""
        self.cal = None
        cid = self._read(_REG_ID, 1, "chip id")[0]
        if cid != CHIP_ID:
            raise self._fail("chip id 0x%02x, not a BME280 (0x60)%s" % (
                cid, "; 0x58 is a BMP280, which has no humidity" if cid == 0x58 else ""))
        self._write(_REG_RESET, _RESET_WORD, "reset")
        for _ in range(_POLLS):  # start-up takes up to 2 ms (datasheet table 1)
            await asyncio.sleep(0.002)
            if not self._read(_REG_STATUS, 1, "status")[0] & _IM_UPDATE:
                break
        else:
            raise self._fail("calibration copy (im_update) did not finish after reset")
        self._write(_REG_CONFIG, 0, "config")  # filter off: forced mode reads one sample
        self.cal = parse_calibration(self._read(_REG_CALIB0, 26, "calibration"),
                                     self._read(_REG_CALIB1, 7, "calibration"))

    async def read_raw(self):
        """One forced measurement -> (adc_P, adc_T, adc_H); begin() first."""
        ot, op, oh = self.osrs
        self._write(_REG_CTRL_HUM, oh, "ctrl_hum")  # before ctrl_meas, see the header
        self._write(_REG_CTRL_MEAS, (ot << 5) | (op << 2) | _FORCED, "ctrl_meas")
        await asyncio.sleep(self._wait_ms / 1000)
        polls = _POLLS
        while self._read(_REG_STATUS, 1, "status")[0] & _MEASURING:
            polls -= 1
            if not polls:
                raise self._fail("measurement still running %d ms after it started" % (self._wait_ms + _POLLS - 1))
            await asyncio.sleep(0.001)
        try:
            self.i2c.readfrom_mem_into(self.address, _REG_DATA, self._buf)
        except OSError as e:
            raise self._fail("I2C error reading data", e)
        return raw_values(self._buf)

    async def read(self):
        """One measurement -> (t 0.01 degC, p Q24.8 Pa or None, h Q22.10 %RH or None).
        None for a quantity whose oversampling is 0 (the chip reports it skipped)."""
        try:
            if self.cal is None:
                await self.begin()
            adc_p, adc_t, adc_h = await self.read_raw()
        except ConnectorError:
            self.cal = None  # start over next time: the chip may have been unplugged or reset
            raise
        if adc_t == SKIPPED_20:
            # temperature feeds the other two: without it nothing can be compensated
            self.cal = None
            raise self._fail("temperature measurement skipped (oversampling 0, or the chip was reset)")
        t, t_fine = compensate_t(self.cal, adc_t)
        p = None if adc_p == SKIPPED_20 else compensate_p(self.cal, adc_p, t_fine)
        h = None if adc_h == SKIPPED_16 else compensate_h(self.cal, adc_h, t_fine)
        return t, p, h
