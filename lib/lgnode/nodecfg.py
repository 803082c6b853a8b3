# Validation of config.json's `device` section, the node's settings (the connector
# checks only that it is an object). One-shot code, like lgnode.sensorcfg: prepare()
# unloads this module when it returns. Every error is CONFIG_ERROR naming the key,
# e.g. "device.power.reportEvery"; secrets (device.auth.key) are never shown.
#
#   dev = prepare(doc)   # before Connector(doc): it also sets config.will (availability)
#                        # and, for deep sleep, the session keys (clean, session expiry)
#
# -> a dict with every default filled in:
#   board, wifi, ledPin, watchdogMs      as given (board "unix" by default)
#   offlineRebootS  900: an always-on node that has had no broker connection for this
#                   long resets the board (0: never; otherwise 60 s .. 7 days)
#   clientId                             the connector's client id (config.clientId or id)
#   telemetry  {topic ("{clientId}" replaced), intervalMs 2000, qos 1}
#   sensors    the device.sensors list (lgnode.sensors.build checks its entries);
#              default one "internal" sensor whose value is "temperature"
#   availability  None, or (topic, online, offline)      (lgnode.availability)
#   homeassistant None, or {prefix, node {node_id, name, model, sw_version[, manufacturer]}}
#   auth       {key: bytes or None, unauthenticated: (calls...), windowMs 300000}
#   power      {mode "always-on" | "deep-sleep", samplePeriodMs 60000, reportEvery 10,
#               maxBacklog 0 (off), awakeMs 15000, listenMs 300}
from lgmqtt.compat import unload

from lgmqtt.errors import ConnectorError, CONFIG_ERROR
from lgnode import READ_ONLY, valid_id

_BOARDS = ("unix", "esp32", "pico", "picow")
_KEYS = ("board", "wifi", "telemetry", "ledPin", "watchdogMs", "offlineRebootS", "sensors", "availability",
         "homeassistant", "auth", "power")
DEFAULT_SENSORS = ({"type": "internal", "objectIds": {"temperature": "temperature"}},)


def _err(path, expected, value):
    return ConnectorError(CONFIG_ERROR, "%s: expected %s, got %r" % (path, expected, value),
                          {"path": path, "expected": expected})


def _keys(path, v, allowed):
    if not isinstance(v, dict):
        raise _err(path, "an object", v)
    for k in v:
        if k not in allowed:
            raise ConnectorError(CONFIG_ERROR, "%s.%s: unknown key (known: %s)" % (path, k, ", ".join(allowed)),
                                 {"path": "%s.%s" % (path, k), "expected": "one of " + ", ".join(allowed)})
    return v


def _int(path, v, lo, hi):
    if not isinstance(v, int) or isinstance(v, bool) or v < lo or v > hi:
        raise _err(path, "an integer %d..%d" % (lo, hi), v)
    return v


def _bool(path, v):
    if not isinstance(v, bool):
        raise _err(path, "true or false", v)
    return v


def _text(path, v):
    if not isinstance(v, str) or not 0 < len(v) <= 64:
        raise _err(path, "a string of 1..64 characters", v)
    return v


def _topic(path, v):
    if not isinstance(v, str) or not v or "+" in v or "#" in v or "\x00" in v:
        raise _err(path, "a topic name without wildcards", v)
    return v


def _telemetry(t, cid):
    _keys("device.telemetry", t, ("topic", "intervalMs", "qos"))
    topic = _topic("device.telemetry.topic", t.get("topic", "lg/{clientId}/telemetry")).replace("{clientId}", cid)
    return {"topic": topic, "intervalMs": _int("device.telemetry.intervalMs", t.get("intervalMs", 2000), 10, 86400000),
            "qos": _int("device.telemetry.qos", t.get("qos", 1), 0, 2)}


def _availability(a, cid):
    from lgnode.availability import availability

    _keys("device.availability", a, ("enabled", "topic", "online", "offline"))
    if not _bool("device.availability.enabled", a.get("enabled", True)):
        return None
    return availability(cid, {k: v for k, v in a.items() if k != "enabled"})


def _homeassistant(h, doc, cid, board):
    import lgnode

    _keys("device.homeassistant", h, ("enabled", "prefix", "nodeId", "name", "model", "manufacturer"))
    if not _bool("device.homeassistant.enabled", h.get("enabled", True)):
        return None
    node_id = h.get("nodeId", cid)
    if not valid_id(node_id):
        raise _err("device.homeassistant.nodeId", "1..64 characters from [a-zA-Z0-9_-] (Home Assistant's rule;"
                   " the default is config.clientId)", node_id)
    node = {"node_id": node_id, "sw_version": "lgnode " + lgnode.__version__}
    for k, default in (("name", doc.get("name") or cid), ("model", "lgmqtt node (%s)" % board),
                       ("manufacturer", None)):
        v = h.get(k, default)
        if v is not None:
            node[k] = _text("device.homeassistant." + k, v)
    return {"prefix": _topic("device.homeassistant.prefix", h.get("prefix", "homeassistant")), "node": node}


def _auth(a):
    _keys("device.auth", a, ("key", "unauthenticated", "windowMs"))
    key = None
    if "key" in a:
        from lgnode.auth import key_from_secrets

        key = key_from_secrets({"auth": {"key": a.pop("key")}})  # out of the document: only the verifier holds it
    free = a.get("unauthenticated", [])
    if not isinstance(free, list):
        raise _err("device.auth.unauthenticated", "a list of read-only calls", free)
    for i, c in enumerate(free):
        if c not in READ_ONLY:
            raise _err("device.auth.unauthenticated[%d]" % i, "a read-only call (one of %s)" % ", ".join(READ_ONLY), c)
    return {"key": key, "unauthenticated": tuple(free),
            "windowMs": _int("device.auth.windowMs", a.get("windowMs", 300000), 1000, 86400000)}


def _offline_reboot(v):
    # under a minute a node would reset before a slow Wi-Fi join and TLS handshake end
    if v != 0 and (not isinstance(v, int) or isinstance(v, bool) or not 60 <= v <= 604800):
        raise _err("device.offlineRebootS", "0 (never) or an integer 60..604800 (seconds)", v)
    return v


def _power(p):
    _keys("device.power", p, ("mode", "samplePeriodMs", "reportEvery", "maxBacklog", "awakeMs", "listenMs"))
    mode = p.get("mode", "always-on")
    if mode not in ("always-on", "deep-sleep"):
        raise _err("device.power.mode", "'always-on' or 'deep-sleep'", mode)
    out = {"mode": mode}
    for k, lo, hi, d in (("samplePeriodMs", 100, 86400000, 60000), ("reportEvery", 1, 1000, 10),
                         ("maxBacklog", 0, 100000, 0), ("awakeMs", 500, 600000, 15000), ("listenMs", 0, 60000, 300)):
        out[k] = _int("device.power." + k, p.get(k, d), lo, hi)
    if out["listenMs"] >= out["awakeMs"]:
        raise _err("device.power.listenMs", "less than device.power.awakeMs (%d)" % out["awakeMs"], out["listenMs"])
    return out


def _deep_sleep(doc, dev):
    # The duty cycle keeps readings in the outbox in flash and flushes them in one
    # session: without a flash outbox (history.path) or with QoS 0 they would be lost.
    cfg = doc["config"]
    hist = cfg.get("history")
    if not isinstance(hist, dict) or not hist.get("path"):
        raise _err("config.history.path", "a folder in flash (device.power.mode 'deep-sleep' keeps the readings"
                   " there while the node sleeps)", hist.get("path") if isinstance(hist, dict) else None)
    if dev["telemetry"]["qos"] == 0:
        raise _err("device.telemetry.qos", "1 or 2 with device.power.mode 'deep-sleep' (QoS 0 is not kept)", 0)
    # One broker session across wake-ups: no resubscribe, and requests sent while the
    # node slept wait for it there. On 5.0 the session must outlive the sleep.
    cfg.setdefault("clean", False)
    if cfg.get("protocolVersion") == 5 and not cfg["clean"]:
        props = cfg.setdefault("properties", {})
        if isinstance(props, dict):
            p = dev["power"]
            props.setdefault("sessionExpiryInterval", max(3600, 4 * p["samplePeriodMs"] * p["reportEvery"] // 1000))


def _kept_in_history(doc, topic):
    # The telemetry sequence number is recovered from the newest telemetry record at
    # boot (lgnode.telemetry): the history must keep that topic.
    hist = doc["config"].get("history")
    record = hist.get("record") if isinstance(hist, dict) else None
    if not isinstance(record, list):
        return
    from lgmqtt.mqtt.topic import match

    for f in record:
        try:
            if isinstance(f, str) and match(f, topic):
                return
        except ConnectorError:
            pass  # the connector's validator names a bad filter
    raise _err("config.history.record", "a filter that keeps %r (the telemetry sequence number is recovered from"
               " it after a reset)" % topic, record)


def check(doc):
    """The device section of a parsed config.json (secrets merged) -> the node's
    settings; sets config.will from device.availability. Raises CONFIG_ERROR."""
    if not isinstance(doc, dict) or not isinstance(doc.get("config", {}), dict):
        raise _err("config", "an object", None)
    doc.setdefault("config", {})
    d = doc.get("device", {})
    _keys("device", d, _KEYS)
    cfg = doc["config"]
    cid = cfg.get("clientId") or doc.get("id") or "lgmqtt-device"
    if not isinstance(cid, str):
        cid = ""  # the connector's validator names it
    board = d.get("board", "unix")
    if board not in _BOARDS:
        raise _err("device.board", "one of " + ", ".join(repr(b) for b in _BOARDS), board)
    wifi = _keys("device.wifi", d.get("wifi", {}), ("ssid", "password"))
    sensors = d.get("sensors", list(DEFAULT_SENSORS))
    if not isinstance(sensors, list):
        raise _err("device.sensors", "a list", sensors)
    led = d.get("ledPin")
    if (led is not None and not isinstance(led, (int, str))) or isinstance(led, bool):
        raise _err("device.ledPin", "a pin number or name, or null", led)
    dev = {"board": board, "wifi": wifi, "ledPin": led, "clientId": cid,
           "watchdogMs": _int("device.watchdogMs", d.get("watchdogMs", 0), 0, 3600000),
           "offlineRebootS": _offline_reboot(d.get("offlineRebootS", 900)),
           "telemetry": _telemetry(d.get("telemetry", {}), cid), "sensors": sensors,
           "availability": _availability(d.get("availability", {}), cid),
           "homeassistant": _homeassistant(d["homeassistant"], doc, cid, board) if "homeassistant" in d else None,
           "auth": _auth(d.get("auth", {})), "power": _power(d.get("power", {}))}
    av = dev["availability"]
    if av is not None:
        if cfg.get("will") is not None:
            raise _err("config.will", "no will when device.availability is on (the node's will is its 'offline';"
                       " set device.availability.enabled to false to use your own)", "(a will)")
        from lgnode.availability import will

        cfg["will"] = will(av)
    if dev["power"]["mode"] == "deep-sleep":
        _deep_sleep(doc, dev)
    _kept_in_history(doc, dev["telemetry"]["topic"])
    return dev


def prepare(doc):
    """check(), then this module leaves the heap."""
    try:
        return check(doc)
    finally:
        unload("lgnode.nodecfg")
