# Validation of config.json's device.sensors and construction of the sensors
# (lgnode.sensors.build calls this). Loaded only to build them: sensors.build drops it
# from sys.modules afterwards (about 6 KB of heap on a 32-bit board, 9 KB on 64-bit).
# Every error is CONFIG_ERROR naming the key, e.g. "device.sensors[1].address".
from lgmqtt.compat import const
from lgmqtt.errors import ConnectorError, CONFIG_ERROR
from lgnode import valid_id
# the same checks as the device section's (one-shot code too: sensors.build lets both go)
from lgnode.nodecfg import _err, _int, _keys  # noqa: F401
from lgnode.sensors import Sensor, _BME280, _Internal, _Sim

_MAX_SENSORS = const(8)
_COMMON = ("type", "id", "intervalMs", "names", "objectIds")
_EXTRA = {"internal": (), "sim": ("seed", "failEvery"), "bme280": ("bus", "address", "oversampling")}
_PROVIDES = {"internal": ("temperature",), "sim": ("temperature", "humidity"),
             "bme280": ("temperature", "humidity", "pressure")}
_OSRS = (0, 1, 2, 4, 8, 16)  # oversampling factor; its register code is its index


def _id(path, v, maxlen):
    if not valid_id(v) or len(v) > maxlen:
        raise _err(path, "1..%d characters from [A-Za-z0-9_-]" % maxlen, v)
    return v


def _osrs(path, v):
    if v not in _OSRS or isinstance(v, bool):
        raise _err(path, "0, 1, 2, 4, 8 or 16", v)


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


def build(entries, i2c=None, internal_temperature=None):
    """device.sensors -> a tuple of Sensor. Validates every entry first (CONFIG_ERROR
    naming the key); i2c({id, scl, sda, freq}) is called once per bus."""
    if not isinstance(entries, list) or len(entries) > _MAX_SENSORS:
        raise _err("device.sensors", "a list of at most %d sensors" % _MAX_SENSORS, entries)
    checked = [check_entry("device.sensors[%d]" % i, e) for i, e in enumerate(entries)]
    seen_ids, seen_oids, buses, chips = {}, {}, {}, {}
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
            addr = e.get("address", 0x76)
            if (bus[0], addr) in chips:
                raise _err(path + ".address", "an address no other sensor on bus %r uses (device.sensors[%d])"
                           % (bus[0], chips[(bus[0], addr)]), addr)
            chips[(bus[0], addr)] = i
            if prev is None:
                # the board gets the bus with the defaults filled in
                prev = buses[bus[0]] = (bus, i2c({"id": bus[0], "scl": bus[1], "sda": bus[2], "freq": bus[3]}))
            osrs = e.get("oversampling", {})
            reader = _BME280(prev[1], addr,
                             tuple(_OSRS.index(osrs.get(q, 1)) for q in ("temperature", "pressure", "humidity")))
        out.append(Sensor(c[1], c[2], c[3], c[4], c[5], reader))
    return tuple(out)
