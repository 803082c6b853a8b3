# The fake bus and the BME280 emulation behave as the datasheet says, register by
# register (what the driver's tests rely on). The chip runs on a manual clock here, so
# "measuring for a while" is exact without waiting.
from check import eq, raises
from fake_i2c import BME280Chip, FakeI2C, ManualClock, calibration_bytes, typical_time_ms
from lgnode.bme280 import parse_calibration

CAL = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
       75, 375, 0, 288, 50, 30)
NEG = (27000, 26000, -2500, 38000, -11000, 3100, -3000, -250, -9, 12000, -16000, 5000,
       120, 340, 200, -120, -35, -40)


def _bus(cal=CAL, chip_id=0x60):
    clock = ManualClock()
    chip = BME280Chip(*calibration_bytes(cal), chip_id=chip_id, clock=clock)
    clock.advance(5)  # past the power-on NVM copy
    return FakeI2C({0x76: chip}), chip, clock


def test_calibration_layout_is_the_datasheets():
    # table 16: little-endian words; dig_T1 0x88/0x89, dig_P9 0x9E/0x9F, dig_H1 0xA1,
    # dig_H2 0xE1/0xE2, dig_H4 = 0xE4 << 4 | 0xE5[3:0], dig_H5 = 0xE6 << 4 | 0xE5[7:4]
    c0, c1 = calibration_bytes(NEG)
    eq(len(c0), 26)
    eq(len(c1), 7)
    eq(c0[0:2], bytes((27000 & 0xFF, 27000 >> 8)), "dig_T1")
    eq(c0[4:6], bytes(((-2500) & 0xFF, ((-2500) & 0xFFFF) >> 8)), "dig_T3, two's complement")
    eq(c0[25], 120, "dig_H1 at 0xA1")
    eq((c1[3], c1[4], c1[5]), (0xF8, 0xD8, 0xFD), "dig_H4=-120 (0xF88), dig_H5=-35 (0xFDD), split")
    eq(c1[6], 0xD8, "dig_H6=-40")
    eq(parse_calibration(c0, c1), NEG)
    eq(parse_calibration(*calibration_bytes(CAL)), CAL)


def test_published_dump_parses_to_the_published_values():
    # a real chip's 0x88..0xA1 + 0xE1..0xE7, with the values its authors decoded
    # (claudiomattera/bme280-rs, src/calibration.rs, test_parse_calibration_data)
    raw = bytes((0xB1, 0x6F, 0x2E, 0x6A, 0x32, 0x00, 0xE2, 0x8F, 0x0A, 0xD7, 0xD0, 0x0B, 0x75, 0x1F,
                 0xC5, 0xFF, 0xF9, 0xFF, 0xAC, 0x26, 0x0A, 0xD8, 0xBD, 0x10, 0x00, 0x4B, 0x77, 0x01,
                 0x00, 0x12, 0x20, 0x03, 0x1E))
    eq(parse_calibration(raw[:26], raw[26:]),
       (0x6FB1, 0x6A2E, 0x32, 0x8FE2, -10486, 0x0BD0, 0x1F75, -59, -7, 0x26AC, -10230, 0x10BD,
        0x4B, 0x0177, 0x00, 0x0120, 0x0032, 0x1E))


def test_missing_address_is_enodev_and_scan_lists_the_chip():
    bus, chip, _ = _bus()
    eq(bus.scan(), [0x76])
    eq(raises(OSError, bus.readfrom_mem, 0x77, 0xD0, 1).args[0], 19)
    eq(raises(OSError, bus.writeto_mem, 0x77, 0xF4, b"\x01").args[0], 19)
    eq(bus.readfrom_mem(0x76, 0xD0, 1), b"\x60")


def test_reads_auto_increment_and_writes_to_read_only_registers_are_ignored():
    bus, chip, _ = _bus()
    c0, c1 = calibration_bytes(CAL)
    eq(bus.readfrom_mem(0x76, 0x88, 26), c0)
    buf = bytearray(7)
    bus.readfrom_mem_into(0x76, 0xE1, buf)
    eq(bytes(buf), c1)
    for reg in (0xD0, 0x88, 0xA1, 0xE4, 0xF3, 0xF7, 0xFE):
        before = bus.readfrom_mem(0x76, reg, 1)
        bus.writeto_mem(0x76, reg, b"\x55")
        eq(bus.readfrom_mem(0x76, reg, 1), before, "register 0x%02x is read-only" % reg)
    # a multi-byte write is (register, value) pairs after the first byte, no auto-increment
    bus.writeto_mem(0x76, 0xF2, bytes((0x03, 0xF5, 0x10)))
    eq(bus.readfrom_mem(0x76, 0xF2, 1), b"\x03")
    eq(bus.readfrom_mem(0x76, 0xF5, 1), b"\x10")
    eq(bus.readfrom_mem(0x76, 0xF3, 1), b"\x00", "0xF3 untouched by the pair write")


def test_forced_measurement_sets_measuring_then_sleeps_with_new_data():
    bus, chip, clock = _bus()
    chip.adc = (415148, 519888, 0x5EB4)
    eq(bus.readfrom_mem(0x76, 0xF7, 8), b"\x80\x00\x00\x80\x00\x00\x80\x00", "reset values: skipped")
    bus.writeto_mem(0x76, 0xF2, b"\x01")
    bus.writeto_mem(0x76, 0xF4, bytes((0x20 | 0x04 | 0x01,)))  # T x1, P x1, forced
    d = typical_time_ms(1, 1, 1)
    eq(d, 8)
    eq(bus.readfrom_mem(0x76, 0xF3, 1)[0] & 0x08, 0x08, "measuring")
    eq(bus.readfrom_mem(0x76, 0xF4, 1)[0] & 0x03, 0x01, "forced while measuring")
    eq(bus.readfrom_mem(0x76, 0xF7, 8), b"\x80\x00\x00\x80\x00\x00\x80\x00", "old data until done")
    clock.advance(d - 1)
    eq(bus.readfrom_mem(0x76, 0xF3, 1)[0] & 0x08, 0x08, "still measuring 1 ms before the end")
    clock.advance(1)
    eq(bus.readfrom_mem(0x76, 0xF3, 1)[0], 0, "done")
    eq(bus.readfrom_mem(0x76, 0xF4, 1)[0] & 0x03, 0, "back to sleep mode")
    # 415148 = 0x655AC -> 0x65 0x5A 0xC0; 519888 = 0x7EED0 -> 0x7E 0xED 0x00; 0x5EB4
    eq(bus.readfrom_mem(0x76, 0xF7, 8), bytes((0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x5E, 0xB4)))
    eq(chip.measurements, 1)


def test_ctrl_hum_counts_only_after_a_ctrl_meas_write_and_skipped_values():
    bus, chip, clock = _bus()
    chip.adc = (415148, 519888, 0x5EB4)
    # ctrl_meas first, ctrl_hum after: this measurement runs with the old osrs_h (0)
    bus.writeto_mem(0x76, 0xF4, bytes((0x20 | 0x01,)))  # T x1, P skipped, forced
    bus.writeto_mem(0x76, 0xF2, b"\x01")
    clock.advance(50)
    eq(bus.readfrom_mem(0x76, 0xF7, 8), bytes((0x80, 0x00, 0x00, 0x7E, 0xED, 0x00, 0x80, 0x00)),
       "pressure and humidity skipped")
    eq(bus.readfrom_mem(0x76, 0xF2, 1), b"\x01", "ctrl_hum reads back what was written")
    bus.writeto_mem(0x76, 0xF4, bytes((0x20 | 0x01,)))  # now ctrl_hum = 1 takes effect
    clock.advance(50)
    eq(bus.readfrom_mem(0x76, 0xFD, 2), b"\x5e\xb4")


def test_soft_reset_restores_reset_values_and_copies_the_nvm():
    bus, chip, clock = _bus()
    bus.writeto_mem(0x76, 0xF2, b"\x05")
    bus.writeto_mem(0x76, 0xF5, b"\x10")
    bus.writeto_mem(0x76, 0xE0, b"\x42")  # not the reset word: ignored
    eq(bus.readfrom_mem(0x76, 0xF2, 1), b"\x05")
    bus.writeto_mem(0x76, 0xE0, b"\xb6")
    eq(bus.readfrom_mem(0x76, 0xE0, 1), b"\x00", "reset register reads 0")
    eq(bus.readfrom_mem(0x76, 0xF2, 4), b"\x00\x01\x00\x00", "controls cleared, im_update set")
    clock.advance(2)
    eq(bus.readfrom_mem(0x76, 0xF3, 1), b"\x00", "NVM copy done after 2 ms")
    eq(bus.readfrom_mem(0x76, 0x88, 26), calibration_bytes(CAL)[0], "calibration survives reset")


def test_injected_fault_fails_part_way_once():
    bus, chip, _ = _bus()
    bus.fail_after(2)
    eq(bus.readfrom_mem(0x76, 0xD0, 1), b"\x60")
    buf = bytearray(b"\xee" * 8)
    eq(raises(OSError, bus.readfrom_mem_into, 0x76, 0x88, buf).args[0], 5)
    eq(bytes(buf[:4]), calibration_bytes(CAL)[0][:4], "the first half arrived")
    eq(bytes(buf[4:]), b"\xee" * 4, "the rest did not")
    eq(bus.readfrom_mem(0x76, 0xD0, 1), b"\x60", "the bus works again")
