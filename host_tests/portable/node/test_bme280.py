# The BME280 driver: the datasheet's compensation (its worked example and the C code's
# own results), and the driver against the register-level emulation on a fake bus,
# including the failures a real bus produces.
import asyncio

from bme280_vectors import CALS, VECTORS
from check import araises, eq
from fake_i2c import BME280Chip, FakeI2C, calibration_bytes
from lgmqtt.errors import ConnectorError
from lgnode import bme280

# The BMP280 datasheet's worked example (BST-BMP280-DS001, section 3.12, table
# "Compensation example"): the trimming values and raw readings below give
# t_fine = 128422, T = 25.08 degC and p = 100653.27 Pa. The BME280's temperature and
# pressure compensation is the same code (BME280 datasheet 4.2.3). The BMP280 has no
# humidity: dig_H1..H6 here are the real chip's from the bme280-rs vector below.
EXAMPLE_CAL = CALS[0][1:]
ADC_T, ADC_P = 519888, 415148

# A published BME280 vector with humidity: claudiomattera/bme280-rs, src/calibration.rs
# tests (a real chip's calibration dump, adc_T 0x84510 -> t_fine 0x22391,
# adc_P 0x4F570 -> 0x018B663F (Q24.8), adc_H 0x5EB4 -> 0x8399 (Q22.10, 32.9 %RH)).
RS_CAL = CALS[1][1:]


def test_datasheet_worked_example():
    t, t_fine = bme280.compensate_t(EXAMPLE_CAL, ADC_T)
    eq(t_fine, 128422, "t_fine")
    eq(t, 2508, "T in 0.01 degC: 25.08")
    p = bme280.compensate_p(EXAMPLE_CAL, ADC_P, t_fine)
    # The table's 100653.27 Pa comes from the floating-point formula; the 64-bit integer
    # code gives 25767233 / 256 = 100653.254 Pa (the datasheet's C code compiled with gcc
    # gives the same: host_tests/ref/bme280_ref.c). Both agree to 0.02 Pa. Compared in
    # integer hundredths of a Pa: a 32-bit board's floats cannot hold 100653.27.
    eq(p, 25767233, "Q24.8")
    assert abs(p * 100 // 256 - 10065327) <= 2, p * 100 // 256


def test_published_humidity_vector():
    t, t_fine = bme280.compensate_t(RS_CAL, 0x84510)
    eq(t_fine, 0x22391)
    eq(bme280.compensate_p(RS_CAL, 0x4F570, t_fine), 0x018B663F)
    eq(bme280.compensate_h(RS_CAL, 0x5EB4, t_fine), 0x8399)


def test_humidity_derived_by_hand_for_the_worked_example():
    # No published vector combines the worked example's t_fine with humidity, so this
    # one is worked through from bme280_compensate_H_int32 step by step
    # (dig_H1..6 = 75, 375, 0, 288, 50, 30; adc_H = 0x5EB4 = 24244; t_fine = 128422):
    #   v = t_fine - 76800                                   = 51622
    #   a = ((24244 << 14) - (288 << 20) - 50 * 51622 + 16384) >> 15
    #     = (397213696 - 301989888 - 2581100 + 16384) >> 15  = 2827
    #   b = ((((51622 * 30) >> 10) * (((51622 * 0) >> 11) + 32768)) >> 10) + 2097152
    #     = ((1512 * 32768) >> 10) + 2097152                 = 2145536
    #   c = (b * 375 + 8192) >> 14 = 804584192 >> 14        = 49107
    #   v = a * c                                            = 138825489
    #   v = v - (((((v >> 15) * (v >> 15)) >> 7) * 75) >> 4)
    #     = 138825489 - ((((4236 * 4236) >> 7) * 75) >> 4)   = 138168372
    #   h = v >> 12                                          = 33732 -> 32.94 %RH
    _, t_fine = bme280.compensate_t(EXAMPLE_CAL, ADC_T)
    eq(bme280.compensate_h(EXAMPLE_CAL, 0x5EB4, t_fine), 33732)


def test_matches_the_datasheet_c_code_bit_for_bit():
    # 145 vectors computed by the datasheet's C code (gcc, fixed-width int32/int64
    # types, UBSan): negative temperatures and calibration words, humidity clamped at
    # both ends, and pressures where C's truncating division differs from Python's //
    for ci, adc_t, adc_p, adc_h, t_ref, tf_ref, p_ref, h_ref in VECTORS:
        cal = CALS[ci][1:]
        t, t_fine = bme280.compensate_t(cal, adc_t)
        got = (t, t_fine, bme280.compensate_p(cal, adc_p, t_fine), bme280.compensate_h(cal, adc_h, t_fine))
        eq(got, (t_ref, tf_ref, p_ref, h_ref), "%s adc=%r" % (CALS[ci][0], (adc_t, adc_p, adc_h)))


def test_measurement_time_is_the_datasheets_maximum():
    # appendix 9.1: 1.25 + 2.3 * T + (2.3 * P + 0.575) + (2.3 * H + 0.575) ms
    eq(bme280.measure_time_us(1, 1, 1), 9300)
    eq(bme280.measure_time_us(5, 5, 5), 1250 + 36800 + 37375 + 37375)  # x16 each: 112.8 ms
    eq(bme280.measure_time_us(1, 0, 0), 3550)


def _chip(cal=EXAMPLE_CAL, chip_id=0x60, address=0x76):
    chip = BME280Chip(*calibration_bytes(cal), chip_id=chip_id)
    return FakeI2C({address: chip}), chip


async def test_driver_reads_the_worked_example_from_the_emulated_chip():
    bus, chip = _chip()
    chip.adc = (ADC_P, ADC_T, 0x5EB4)
    dev = bme280.BME280(bus, 0x76)
    eq(await dev.read(), (2508, 25767233, 33732))
    regs = [r for r, _ in chip.writes]
    eq(regs[0], 0xE0, "soft reset first")
    # every measurement: ctrl_hum, then ctrl_meas (ctrl_hum counts only from there)
    eq(regs[-2:], [0xF2, 0xF4])
    eq(chip.writes[-1][1], 0x25, "T x1, P x1, forced")
    eq(chip.regs[0xF4] & 0x03, 0, "the chip went back to sleep")
    chip.adc = (0x4F570, 0x84510, 0x5EB4)  # a second measurement converts the new raw values
    t, p, h = await dev.read()
    eq(t, bme280.compensate_t(EXAMPLE_CAL, 0x84510)[0])
    eq(chip.measurements, 2)


async def test_driver_reads_the_published_vector_from_a_real_chips_dump():
    bus, chip = _chip(RS_CAL, address=0x77)
    chip.adc = (0x4F570, 0x84510, 0x5EB4)
    dev = bme280.BME280(bus, 0x77, (5, 5, 5))  # x16: the longest wait, 113 ms
    t, p, h = await dev.read()
    eq((p, h), (0x018B663F, 0x8399))
    eq(t, (0x22391 * 5 + 128) >> 8)
    eq(chip.writes[-1][1], (5 << 5) | (5 << 2) | 1)


async def test_the_wait_is_asynchronous():
    # the loop keeps running while the chip converts (about 9 ms at x1)
    bus, chip = _chip()
    chip.adc = (ADC_P, ADC_T, 0x5EB4)
    dev = bme280.BME280(bus)
    await dev.begin()
    ticks = [0]
    done = [False]

    async def other():
        while not done[0]:
            ticks[0] += 1
            await asyncio.sleep(0.001)

    task = asyncio.create_task(other())
    await asyncio.sleep(0)
    await dev.read()
    done[0] = True
    await task
    assert ticks[0] >= 2, "another task ran only %d times during a measurement" % ticks[0]


async def test_skipped_quantities_read_as_none():
    bus, chip = _chip()
    chip.adc = (ADC_P, ADC_T, 0x5EB4)
    dev = bme280.BME280(bus, 0x76, (1, 0, 0))
    eq(await dev.read(), (2508, None, None))


async def test_wrong_chip_id_is_a_clear_error():
    bus, chip = _chip(chip_id=0x58)
    e = await araises(ConnectorError, bme280.BME280(bus).read())
    eq(e.error, "SENSOR_ERROR")
    assert "0x58" in e.message and "BMP280" in e.message and "0x76" in e.message, e.message


async def test_missing_device_is_a_clear_error():
    bus, _ = _chip(address=0x77)
    e = await araises(ConnectorError, bme280.BME280(bus, 0x76).read())
    eq(e.error, "SENSOR_ERROR")
    assert "ENODEV" in e.message and "0x76" in e.message and "wiring" in e.message, e.message


async def test_bus_error_mid_read_is_reported_and_the_next_read_recovers():
    bus, chip = _chip()
    chip.adc = (ADC_P, ADC_T, 0x5EB4)
    dev = bme280.BME280(bus)
    eq(await dev.read(), (2508, 25767233, 33732))
    # the next transfers: ctrl_hum write, ctrl_meas write, status read, data read
    bus.fail_after(4)
    e = await araises(ConnectorError, dev.read())
    assert "EIO" in e.message and "data" in e.message, e.message
    eq(await dev.read(), (2508, 25767233, 33732))
    # failing inside begin(): the calibration read
    bus2, chip2 = _chip()
    chip2.adc = (ADC_P, ADC_T, 0x5EB4)
    dev2 = bme280.BME280(bus2)
    bus2.fail_after(5)  # id, reset, status (NVM copy), config, then the calibration read
    e = await araises(ConnectorError, dev2.read())
    assert "calibration" in e.message, e.message
    eq(await dev2.read(), (2508, 25767233, 33732))


async def test_a_measurement_that_never_ends_is_an_error_not_a_hang():
    bus, chip = _chip()
    chip.duration_ms = 10000
    e = await araises(ConnectorError, bme280.BME280(bus).read())
    assert "still running" in e.message, e.message
