# Sensors as plug-ins, configured by config.json's `device.sensors` list.
#
#   sensors = build(doc["device"]["sensors"], i2c=board.i2c,      # i2c({id, scl, sda, freq})
#                   internal_temperature=board.internal_temperature)
#   sampler = Sampler(sensors)
#   values, errors = await sampler.sample()   # {object_id: value or None}, [error dicts]
#
# Entry keys (CONFIG_ERROR names the key, e.g. "device.sensors[1].address"):
#   type        "internal" | "sim" | "bme280" (required)
#   id          [A-Za-z0-9_-]{1,32}, unique; default: the type
#   intervalMs  read at most this often (0, the default: at every sample)
#   names       {quantity: display name}, e.g. {"temperature": "Greenhouse"}
#   objectIds   {quantity: object id}; default "<id>_<quantity>" ("bme280_humidity")
#   bme280:     bus {id: int or "soft", scl: pin, sda: pin, freq: Hz (100000)},
#               address 0x76 (default) or 0x77,
#               oversampling {temperature, pressure, humidity}: 0 (off), 1, 2, 4, 8, 16
#   sim:        seed (int), failEvery (every Nth read fails; 0, the default: never)
#
# A value's object id is its key in the telemetry payload and its Home Assistant object
# id (lgnode.discovery): HA's character class [a-zA-Z0-9_-]. Each value carries the
# metadata discovery announces: unit, HA device_class and state_class.
#
# The board supplies the hardware: `i2c(bus)` returns a machine.I2C-like object for a
# bus {id, scl, sda, freq} (defaults filled in; called once per bus id),
# `internal_temperature()` returns degC.
# Reads are coroutines: the BME280 waits for its conversion with asyncio.sleep.
# A failing sensor gives None for its values and an error entry
# {"sensor": id, "error": code, "message": text}; the others are read as usual.
from lgmqtt.compat import ticks_diff, ticks_ms, unload
from lgmqtt.errors import ConnectorError
from lgnode import SENSOR_ERROR

# quantity -> (unit, HA device_class, HA state_class, decimals). Units and classes are
# among those Home Assistant accepts for the device class (its sensor DEVICE_CLASS_UNITS
# and DEVICE_CLASS_STATE_CLASSES tables; checked in test_discovery).
QUANTITIES = {
    "temperature": ("°C", "temperature", "measurement", 2),
    "humidity": ("%", "humidity", "measurement", 1),
    "pressure": ("hPa", "atmospheric_pressure", "measurement", 2),
}


def build(entries, i2c=None, internal_temperature=None):
    """device.sensors -> a tuple of Sensor. Validates every entry first (CONFIG_ERROR
    naming the key); i2c(bus) is called once per distinct bus entry. The validator
    lives in lgnode.sensorcfg, loaded only for this call."""
    from lgnode import sensorcfg

    try:
        return sensorcfg.build(entries, i2c, internal_temperature)
    finally:
        unload("lgnode.sensorcfg")  # one-shot code: about 6 KB of heap on a 32-bit board
        unload("lgnode.nodecfg")  # the checks it shares


class Sensor:
    """What the sampler and discovery see: `id`, `interval_ms`, `values` (one
    descriptor per value: (object_id, name, unit, device_class, state_class)) and
    `async read()` -> a tuple of numbers aligned with `values`."""

    def __init__(self, sid, interval_ms, quantities, oids, names, reader):
        self.id = sid
        self.interval_ms = interval_ms
        self.values = tuple((oids[i], names[i]) + QUANTITIES[q][:3] for i, q in enumerate(quantities))
        self._digits = tuple(QUANTITIES[q][3] for q in quantities)
        self._quantities = quantities
        self._reader = reader

    async def read(self):
        raw = await self._reader.read()  # {quantity: float}
        return tuple(None if raw.get(q) is None else round(raw[q], self._digits[i])
                     for i, q in enumerate(self._quantities))


class _Internal:
    def __init__(self, fn):
        self._fn = fn

    async def read(self):
        return {"temperature": self._fn()}


class _Sim:
    # A deterministic random walk (xorshift32: no `random` module on some ports), so
    # runs on the unix board are comparable; failEvery makes every Nth read fail.
    def __init__(self, seed, fail_every):
        self._x = seed
        self._t = 21.0
        self._h = 45.0
        self._n = 0
        self._fail = fail_every

    def _rand(self):
        x = self._x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._x = x
        return x / 0xFFFFFFFF

    async def read(self):
        self._n += 1
        if self._fail and self._n % self._fail == 0:
            raise ConnectorError(SENSOR_ERROR, "sim: simulated read failure (failEvery)", {})
        self._t += (self._rand() - 0.5) * 0.2
        self._h = min(100.0, max(0.0, self._h + (self._rand() - 0.5) * 0.5))
        return {"temperature": self._t, "humidity": self._h}


class _BME280:
    def __init__(self, i2c, address, osrs):
        from lgnode.bme280 import BME280  # loaded only when a BME280 is configured

        self._dev = BME280(i2c, address, osrs)

    async def read(self):
        t, p, h = await self._dev.read()
        return {"temperature": t / 100, "pressure": None if p is None else p / 25600,
                "humidity": None if h is None else h / 1024}


class Sampler:
    """Reads the sensors that are due and returns every value: a sensor not due yet
    repeats its last values (one telemetry message always has all keys, so a Home
    Assistant template never meets a missing key); a failed one gives None (JSON null,
    which HA's templates render as "None", its "unknown" state)."""

    def __init__(self, sensors, clock=ticks_ms):
        self.sensors = sensors
        self._clock = clock
        self._last = [None] * len(sensors)  # ticks of the last read
        self._cache = [(None,) * len(s.values) for s in sensors]

    def descriptors(self):
        return tuple(v for s in self.sensors for v in s.values)

    async def sample(self, force=False):
        """-> ({object_id: value or None}, [{"sensor", "error", "message"}, ...])."""
        values, errors = {}, []
        now = self._clock()
        for i, s in enumerate(self.sensors):
            last = self._last[i]
            if force or last is None or not s.interval_ms or ticks_diff(now, last) >= s.interval_ms:
                self._last[i] = now
                try:
                    self._cache[i] = await s.read()
                except MemoryError:
                    raise  # not a sensor fault: let the firmware's supervision see it
                except Exception as e:  # a plug-in's fault must not stop the other sensors
                    self._cache[i] = (None,) * len(s.values)
                    if isinstance(e, ConnectorError):
                        code, msg = e.error, e.message
                    else:
                        code, msg = SENSOR_ERROR, "%s: %r" % (s.id, e)
                    errors.append({"sensor": s.id, "error": code, "message": msg})
            for d, v in zip(s.values, self._cache[i]):
                values[d[0]] = v
        return values, errors
