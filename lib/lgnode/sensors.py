# Sensors as plug-ins, configured by config.json's `device.sensors` list.
#
#   sensors = build(doc["device"]["sensors"], i2c=board.i2c,
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
# bus entry (called once per distinct bus), `internal_temperature()` returns degC.
# Reads are coroutines: the BME280 waits for its conversion with asyncio.sleep.
# A failing sensor gives None for its values and an error entry
# {"sensor": id, "error": code, "message": text}; the others are read as usual.
from lgmqtt.compat import const, ticks_diff, ticks_ms
from lgmqtt.errors import ConnectorError, CONFIG_ERROR
from lgnode import SENSOR_ERROR, valid_id
_MAX_SENSORS = const(8)

# quantity -> (unit, HA device_class, HA state_class, decimals). Units and classes are
# among those Home Assistant accepts for the device class (its sensor DEVICE_CLASS_UNITS
# and DEVICE_CLASS_STATE_CLASSES tables; checked in test_discovery).
QUANTITIES = {
    "temperature": ("°C", "temperature", "measurement", 2),
    "humidity": ("%", "humidity", "measurement", 1),
    "pressure": ("hPa", "atmospheric_pressure", "measurement", 2),
}

_COMMON = ("type", "id", "intervalMs", "names", "objectIds")
_EXTRA = {"internal": (), "sim": ("seed", "failEvery"), "bme280": ("bus", "address", "oversampling")}
_PROVIDES = {"internal": ("temperature",), "sim": ("temperature", "humidity"),
             "bme280": ("temperature", "humidity", "pressure")}
_OSRS = (0, 1, 2, 4, 8, 16)  # oversampling factor; its register code is its index


def _err(path, expected, value):
    return ConnectorError(CONFIG_ERROR, "%s: expected %s, got %r" % (path, expected, value),
                          {"path": path, "expected": expected})


def _int(path, v, lo, hi):
    if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
        raise _err(path, "an integer %d..%d" % (lo, hi), v)
    return v


def _id(path, v, maxlen):
    if not valid_id(v) or len(v) > maxlen:
        raise _err(path, "1..%d characters from [A-Za-z0-9_-]" % maxlen, v)
    return v


def _osrs(path, v):
    if v not in _OSRS or isinstance(v, bool):
        raise _err(path, "0, 1, 2, 4, 8 or 16", v)


def _keys(path, v, allowed):
    if not isinstance(v, dict):
        raise _err(path, "an object", v)
    for k in v:
        if k not in allowed:
            raise ConnectorError(CONFIG_ERROR, "%s.%s: unknown key (known: %s)" % (path, k, ", ".join(allowed)),
                                 {"path": "%s.%s" % (path, k), "expected": "one of " + ", ".join(allowed)})
    return v


def _per_quantity(path, v, quantities, check):
    _keys(path, v, quantities)
    for q, x in v.items():
        check("%s.%s" % (path, q), x)
    return v


def _name(path, v):
    if not isinstance(v, str) or not 0 < len(v) <= 64:
        raise _err(path, "a name of 1..64 characters", v)


def _bus(path, v):
    _keys(path, v, ("id", "scl", "sda", "freq"))
    for k in ("scl", "sda"):
        if k not in v:
            raise ConnectorError(CONFIG_ERROR, "%s.%s is required" % (path, k),
                                 {"path": "%s.%s" % (path, k), "expected": "a pin number"})
        _int("%s.%s" % (path, k), v[k], 0, 255)
    bid = v.get("id", 0)
    if bid != "soft":
        _int(path + ".id", bid, 0, 7)
    freq = _int(path + ".freq", v.get("freq", 100000), 1000, 3400000)
    return (bid, v["scl"], v["sda"], freq)


def check_entry(path, e):
    """Validate one device.sensors entry; returns (type, id, interval_ms, quantities,
    object ids, names). Raises CONFIG_ERROR naming the key."""
    if not isinstance(e, dict):
        raise _err(path, "an object", e)
    kind = e.get("type")
    if kind not in _EXTRA:
        raise _err(path + ".type", "one of " + ", ".join(repr(k) for k in _EXTRA), kind)
    _keys(path, e, _COMMON + _EXTRA[kind])
    sid = _id(path + ".id", e.get("id", kind), 32)
    interval = _int(path + ".intervalMs", e.get("intervalMs", 0), 0, 86400000)
    quantities = _PROVIDES[kind]
    if kind == "bme280":
        if "bus" not in e:
            raise ConnectorError(CONFIG_ERROR, path + ".bus is required",
                                 {"path": path + ".bus", "expected": "{id, scl, sda, freq}"})
        _bus(path + ".bus", e["bus"])
        addr = e.get("address", 0x76)
        if addr not in (0x76, 0x77) or isinstance(addr, bool):
            raise _err(path + ".address", "118 (0x76, SDO low) or 119 (0x77, SDO high)", addr)
        osrs = _per_quantity(path + ".oversampling", e.get("oversampling", {}), quantities, _osrs)
        if osrs.get("temperature", 1) == 0:
            raise _err(path + ".oversampling.temperature", "1..16 (pressure and humidity need it)", 0)
        quantities = tuple(q for q in quantities if osrs.get(q, 1))
    elif kind == "sim":
        _int(path + ".seed", e.get("seed", 12345), 1, 0xFFFFFFFF)
        _int(path + ".failEvery", e.get("failEvery", 0), 0, 1000000)
    names = _per_quantity(path + ".names", e.get("names", {}), quantities, _name)
    oids = _per_quantity(path + ".objectIds", e.get("objectIds", {}), quantities,
                         lambda p, x: _id(p, x, 64))
    return (kind, sid, interval, quantities,
            tuple(oids.get(q, sid + "_" + q) for q in quantities),
            tuple(names.get(q, q[0].upper() + q[1:]) for q in quantities))


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


def build(entries, i2c=None, internal_temperature=None):
    """device.sensors -> a tuple of Sensor. Validates every entry first (CONFIG_ERROR
    naming the key); i2c(bus) is called once per distinct bus entry."""
    if not isinstance(entries, list) or len(entries) > _MAX_SENSORS:
        raise _err("device.sensors", "a list of at most %d sensors" % _MAX_SENSORS, entries)
    checked = [check_entry("device.sensors[%d]" % i, e) for i, e in enumerate(entries)]
    seen_ids, seen_oids, buses = {}, {}, {}
    for i, c in enumerate(checked):
        path = "device.sensors[%d]" % i
        if c[1] in seen_ids:
            raise _err(path + ".id", "an id no other sensor has (device.sensors[%d] is %r)"
                       % (seen_ids[c[1]], c[1]), c[1])
        seen_ids[c[1]] = i
        for oid in c[4]:
            if oid in seen_oids:
                raise _err(path + ".objectIds", "object ids no other value has (%r is taken)" % oid, oid)
            seen_oids[oid] = i
    out = []
    for i, (e, c) in enumerate(zip(entries, checked)):
        kind, path = c[0], "device.sensors[%d]" % i
        if kind == "internal":
            if internal_temperature is None:
                raise _err(path + ".type", "a sensor this board has (no internal temperature)", kind)
            reader = _Internal(internal_temperature)
        elif kind == "sim":
            reader = _Sim(e.get("seed", 12345), e.get("failEvery", 0))
        else:
            if i2c is None:
                raise _err(path + ".bus", "a board with I2C", e["bus"])
            bus = _bus(path + ".bus", e["bus"])
            prev = buses.get(bus[0])
            if prev is not None and prev[0] != bus:
                raise _err(path + ".bus", "the same pins and frequency as the other sensors on bus %r"
                           % (bus[0],), e["bus"])
            if prev is None:
                prev = buses[bus[0]] = (bus, i2c(e["bus"]))
            osrs = e.get("oversampling", {})
            reader = _BME280(prev[1], e.get("address", 0x76),
                             tuple(_OSRS.index(osrs.get(q, 1)) for q in ("temperature", "pressure", "humidity")))
        out.append(Sensor(c[1], c[2], c[3], c[4], c[5], reader))
    return tuple(out)


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
