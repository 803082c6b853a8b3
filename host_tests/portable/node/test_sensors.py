# Sensor plug-ins from device.sensors: validation names the key, each type reads its
# values with their metadata, a failing sensor reports an error while the others go on,
# and intervals are honoured.
from check import eq, raises
from fake_i2c import BME280Chip, FakeI2C, ManualClock, calibration_bytes
from lgmqtt.errors import ConnectorError
from lgnode import sensors as S

EXAMPLE_CAL = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000,
               75, 375, 0, 288, 50, 30)
BUS = {"id": 0, "scl": 22, "sda": 21}


class Board:
    """What a board profile passes in: an I2C factory and the internal temperature."""

    def __init__(self, devices=None, temp=41.5):
        self.bus = FakeI2C(devices or {})
        self.opened = []
        self.temp = temp

    def i2c(self, bus):
        self.opened.append(bus)
        return self.bus

    def internal_temperature(self):
        if isinstance(self.temp, Exception):
            raise self.temp
        return self.temp


def _build(entries, board=None):
    board = board or Board()
    return S.build(entries, i2c=board.i2c, internal_temperature=board.internal_temperature)


INVALID = [
    # (entries, error path, words in "expected")
    ("sim", "device.sensors", "list"),
    ([{"type": "dht22"}], "device.sensors[0].type", "'bme280'"),
    ([{}], "device.sensors[0].type", "'internal'"),
    (["sim"], "device.sensors[0]", "object"),
    ([{"type": "sim", "colour": 1}], "device.sensors[0].colour", "one of"),
    ([{"type": "internal", "seed": 1}], "device.sensors[0].seed", "one of"),
    ([{"type": "sim", "id": "a b"}], "device.sensors[0].id", "[A-Za-z0-9_-]"),
    ([{"type": "sim", "id": "x" * 33}], "device.sensors[0].id", "1..32"),
    ([{"type": "sim", "intervalMs": -1}], "device.sensors[0].intervalMs", "integer"),
    ([{"type": "sim", "intervalMs": True}], "device.sensors[0].intervalMs", "integer"),
    ([{"type": "sim", "names": {"pressure": "P"}}], "device.sensors[0].names.pressure", "one of"),
    ([{"type": "sim", "names": {"temperature": ""}}], "device.sensors[0].names.temperature", "name"),
    ([{"type": "sim", "objectIds": {"humidity": "h/1"}}], "device.sensors[0].objectIds.humidity", "[A-Za-z0-9_-]"),
    ([{"type": "sim", "failEvery": -2}], "device.sensors[0].failEvery", "integer"),
    ([{"type": "sim"}, {"type": "bme280"}], "device.sensors[1].bus", "{id, scl"),
    ([{"type": "sim"}, {"type": "bme280", "bus": BUS, "address": 0x40}], "device.sensors[1].address", "0x76"),
    ([{"type": "sim"}, {"type": "bme280", "bus": BUS, "address": True}], "device.sensors[1].address", "0x76"),
    ([{"type": "bme280", "bus": {"scl": 22}}], "device.sensors[0].bus.sda", "pin"),
    ([{"type": "bme280", "bus": {"scl": 22, "sda": 21, "freq": 10}}], "device.sensors[0].bus.freq", "1000.."),
    ([{"type": "bme280", "bus": {"scl": 22, "sda": 21, "id": "hw"}}], "device.sensors[0].bus.id", "integer"),
    ([{"type": "bme280", "bus": BUS, "oversampling": {"pressure": 3}}],
     "device.sensors[0].oversampling.pressure", "16"),
    ([{"type": "bme280", "bus": BUS, "oversampling": {"temperature": 0}}],
     "device.sensors[0].oversampling.temperature", "1..16"),
    ([{"type": "sim"}, {"type": "sim"}], "device.sensors[1].id", "no other sensor"),
    ([{"type": "sim", "id": "a", "objectIds": {"temperature": "t"}},
      {"type": "sim", "id": "b", "objectIds": {"humidity": "t"}}], "device.sensors[1].objectIds", "taken"),
    ([{"type": "bme280", "bus": BUS}, {"type": "bme280", "id": "b", "address": 0x77,
                                        "bus": {"id": 0, "scl": 4, "sda": 5}}], "device.sensors[1].bus", "same pins"),
    ([{"type": "bme280", "bus": BUS}, {"type": "bme280", "id": "b", "bus": BUS}], "device.sensors[1].address",
     "no other sensor"),
    ([{"type": "sim", "id": "s%d" % i} for i in range(9)], "device.sensors", "at most 8"),
]


def test_every_invalid_entry_names_its_key():
    for entries, path, words in INVALID:
        e = raises(ConnectorError, _build, entries)
        eq(e.error, "CONFIG_ERROR", path)
        eq(e.details["path"], path, repr(entries)[:60])
        assert words in e.details["expected"], (path, e.details)
        assert path in e.message, e.message


def test_the_validator_is_unloaded_after_building():
    import sys

    import lgnode

    _build([{"type": "sim"}])
    assert "lgnode.sensorcfg" not in sys.modules
    assert "sensorcfg" not in lgnode.__dict__
    raises(ConnectorError, _build, [{"type": "sim", "colour": 1}])
    assert "lgnode.sensorcfg" not in sys.modules, "also after a refused config"


def test_internal_needs_a_board_that_has_one():
    e = raises(ConnectorError, S.build, [{"type": "internal"}])
    eq(e.details["path"], "device.sensors[0].type")
    e = raises(ConnectorError, S.build, [{"type": "bme280", "bus": BUS}])
    eq(e.details["path"], "device.sensors[0].bus")


def test_descriptors_carry_ids_names_and_ha_metadata():
    board = Board()
    sensors = _build([{"type": "internal", "names": {"temperature": "Chip"}},
                      {"type": "sim", "id": "room", "objectIds": {"humidity": "rh"}},
                      {"type": "bme280", "id": "out", "bus": BUS, "oversampling": {"humidity": 0}}], board)
    eq(S.Sampler(sensors).descriptors(), (
        ("internal_temperature", "Chip", "°C", "temperature", "measurement"),
        ("room_temperature", "Temperature", "°C", "temperature", "measurement"),
        ("rh", "Humidity", "%", "humidity", "measurement"),
        ("out_temperature", "Temperature", "°C", "temperature", "measurement"),
        ("out_pressure", "Pressure", "hPa", "atmospheric_pressure", "measurement"),
    ))
    eq(board.opened, [dict(BUS, freq=100000)], "one I2C bus opened, defaults filled in")


async def test_bme280_sensor_reads_the_worked_example_in_units():
    chip = BME280Chip(*calibration_bytes(EXAMPLE_CAL))
    chip.adc = (415148, 519888, 0x5EB4)
    board = Board({0x77: chip})
    sensors = _build([{"type": "bme280", "bus": BUS, "address": 0x77}], board)
    values, errors = await S.Sampler(sensors).sample()
    eq(errors, [])
    # 25.08 degC; 25767233 / 25600 = 1006.532... hPa; 33732 / 1024 = 32.94 %RH
    eq(values, {"bme280_temperature": 25.08, "bme280_humidity": 32.9, "bme280_pressure": 1006.53})


async def test_a_failing_sensor_reports_and_the_others_go_on():
    chip = BME280Chip(*calibration_bytes(EXAMPLE_CAL))
    chip.adc = (415148, 519888, 0x5EB4)
    board = Board({0x76: chip}, temp=OSError(110))
    sensors = _build([{"type": "internal"}, {"type": "bme280", "bus": BUS},
                      {"type": "bme280", "id": "missing", "bus": BUS, "address": 0x77},
                      {"type": "sim", "failEvery": 2}], board)
    sampler = S.Sampler(sensors)
    values, errors = await sampler.sample()
    eq(values["internal_temperature"], None)
    eq(values["bme280_temperature"], 25.08)
    eq(values["missing_pressure"], None)
    assert values["sim_temperature"] is not None
    eq([e["sensor"] for e in errors], ["internal", "missing"])
    eq([e["error"] for e in errors], ["SENSOR_ERROR", "SENSOR_ERROR"])
    assert "ENODEV" in errors[1]["message"] and "0x77" in errors[1]["message"], errors[1]
    values, errors = await sampler.sample()
    eq([e["sensor"] for e in errors], ["internal", "missing", "sim"])
    eq((values["sim_temperature"], values["sim_humidity"]), (None, None))
    eq(values["bme280_humidity"], 32.9)
    # the missing chip is plugged in: the next read finds it
    board.bus.devices[0x77] = BME280Chip(*calibration_bytes(EXAMPLE_CAL))
    board.bus.devices[0x77].adc = (415148, 519888, 0x5EB4)
    board.temp = 39.0
    values, errors = await sampler.sample()
    eq(errors, [])
    eq((values["missing_temperature"], values["internal_temperature"]), (25.08, 39.0))


async def test_interval_reads_only_when_due_and_repeats_the_last_values():
    clock = ManualClock()
    calls = [0]

    def temp():
        calls[0] += 1
        return 20.0 + calls[0]

    sensors = S.build([{"type": "internal", "intervalMs": 5000}, {"type": "sim"}], internal_temperature=temp)
    sampler = S.Sampler(sensors, clock=clock)
    v1, _ = await sampler.sample()
    clock.advance(4999)
    v2, _ = await sampler.sample()
    eq((calls[0], v2["internal_temperature"]), (1, 21.0), "not due: the last value again")
    assert v2["sim_temperature"] != v1["sim_temperature"] or v2["sim_humidity"] != v1["sim_humidity"]
    clock.advance(1)
    v3, _ = await sampler.sample()
    eq((calls[0], v3["internal_temperature"]), (2, 22.0))
    await sampler.sample(force=True)
    eq(calls[0], 3)


async def test_sim_is_deterministic_per_seed():
    async def run(seed):
        s = S.Sampler(S.build([{"type": "sim", "seed": seed}]))
        out = []
        for _ in range(5):  # (MicroPython has no await inside a comprehension)
            out.append((await s.sample())[0])
        return out

    a, b, c = await run(7), await run(7), await run(8)
    eq(a, b)
    assert a != c
    for v in a:
        assert 0 <= v["sim_humidity"] <= 100 and 15 < v["sim_temperature"] < 27, v
