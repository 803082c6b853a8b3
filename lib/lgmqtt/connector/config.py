# config.json: loading, secrets, validation, defaults.
#
# The file keeps the seed's shape: {id, type: "mqtt", name, config{...},
# capabilities{enabled, disabled}, device{...}}. Every key is checked before use (but
# those of `device`, which the firmware that reads them checks); an
# unknown key, a wrong type or a value out of range raises CONFIG_ERROR naming the key
# path ("config.port") and what was expected. Secrets (passwords, TLS key, Wi-Fi
# password) come from a separate file merged at load and are never logged.
from lgmqtt.errors import ConnectorError, CONFIG_ERROR

CAPABILITIES = ("mqtt:publish", "mqtt:subscribe", "mqtt:connection", "mqtt:history", "mqtt:topics")
DEFAULT_DISABLED = ("mqtt:topics",)
SECRET_KEYS = ("password", "key", "passphrase")


def _err(path, expected, value):
    return ConnectorError(CONFIG_ERROR, "%s: expected %s, got %s" % (path, expected, _show(path, value)),
                          {"path": path, "expected": expected})


def _show(path, value):
    # never a secret; never a 64 KB value repeated in a message either
    if path.rsplit(".", 1)[-1] in SECRET_KEYS:
        return "***"
    r = repr(value)
    return r if len(r) <= 80 else r[:77] + "..."


def _mqtt_str(path, v):
    # A string that goes into CONNECT as an MQTT UTF-8 string (client id, user name, and
    # the password, sent as binary data but written in JSON as text): it must have a
    # UTF-8 form, fit in 65535 bytes and hold no U+0000 -- else it can never work, and
    # retrying it for ever as CONNECTION_FAILED helps nobody.
    from lgmqtt.mqtt.wire import utf8

    _str(path, v)
    try:
        n = len(utf8(v))
    except ValueError:
        raise _err(path, "text with a UTF-8 form (no lone surrogates)", v)
    if n > 65535:
        raise _err(path, "at most 65535 bytes in UTF-8 (it has %d)" % n, v)
    if "\x00" in v:
        raise _err(path, "no U+0000 (NUL) character", v)
    return v


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# Checkers: each returns the (possibly normalised) value or raises CONFIG_ERROR.
def _str(path, v, allow_empty=True):
    if not isinstance(v, str) or (not allow_empty and not v):
        raise _err(path, "a string" if allow_empty else "a non-empty string", v)
    return v


def _bool(path, v):
    if not isinstance(v, bool):
        raise _err(path, "true or false", v)
    return v


def _int_range(lo, hi):
    def check(path, v):
        if not _is_int(v) or v < lo or (hi is not None and v > hi):
            raise _err(path, "an integer %d..%s" % (lo, hi if hi is not None else "") if hi is not None
                       else "an integer >= %d" % lo, v)
        return v
    return check


def _choice(*options):
    def check(path, v):
        if v not in options:
            raise _err(path, "one of " + ", ".join(repr(o) for o in options), v)
        return v
    return check


def _qos(path, v):
    if not _is_int(v) or v not in (0, 1, 2):
        raise _err(path, "a QoS of 0, 1 or 2", v)
    return v


def _topic(kind):
    # kind "name" (no wildcards) or "filter": the topic module's rules, the config's path
    def check(path, v):
        from lgmqtt.mqtt import topic

        _str(path, v, False)
        try:
            (topic.validate_name if kind == "name" else topic.validate_filter)(v)
        except ConnectorError as e:
            raise _err(path, "a topic %s (%s)" % (kind, e.details.get("reason")), v)
        return v
    return check


_topic_name = _topic("name")
_topic_filter = _topic("filter")


def _list_of(check):
    def run(path, v):
        if not isinstance(v, list):
            raise _err(path, "a list", v)
        return [check("%s[%d]" % (path, i), x) for i, x in enumerate(v)]
    return run


def _dict(path, v):
    if not isinstance(v, dict):
        raise _err(path, "an object", v)
    return v


def _section(schema, required=()):
    def run(path, v):
        _dict(path, v)
        out = {}
        for k, x in v.items():
            sub = "%s.%s" % (path, k) if path else k
            check = schema.get(k)
            if check is None:
                known = ", ".join(sorted(schema))
                raise ConnectorError(CONFIG_ERROR, "%s: unknown key (known: %s)" % (sub, known),
                                     {"path": sub, "expected": "one of " + known})
            out[k] = check(sub, x)
        for k in required:
            if k not in out:
                sub = "%s.%s" % (path, k) if path else k
                raise ConnectorError(CONFIG_ERROR, "%s is required" % sub, {"path": sub, "expected": "a value"})
        return out
    return run


def _pem_or_path(path, v):
    _str(path, v, False)
    return v


def _any(path, v):
    return v


def _props(ptype_name):
    # MQTT 5 properties by their user-facing names, checked by encoding them for the
    # packet they go in (CONNECT or the will): names, types and ranges in one place.
    def check(path, v):
        from lgmqtt.connector import payloads
        from lgmqtt.mqtt.encode import encode_connect
        from lgmqtt.mqtt.wire import Will

        _dict(path, v)
        try:
            wire = payloads.props_to_wire(v)
            if ptype_name == "will":
                encode_connect(5, "x", 0, True, None, None, Will("t", b"", 0, False, wire))
            else:
                encode_connect(5, "x", 0, True, None, None, None, wire)
        except ConnectorError as e:
            raise _err(path, "MQTT 5 %s properties (%s)" % (ptype_name, e.message), list(v))
        except (ValueError, TypeError) as e:
            raise _err(path, "MQTT 5 %s properties (%s)" % (ptype_name, e), list(v))
        return v
    return check


_PORT = _int_range(1, 65535)
_MS = _int_range(0, 86400000)

_BROKER = _section({"host": lambda p, v: _str(p, v, False), "port": _PORT, "weight": _int_range(0, 1000),
                    "protocol": _choice("mqtt", "mqtts"), "servername": _str}, required=("host",))
_TLS = _section({"ca": _pem_or_path, "cert": _pem_or_path, "key": _pem_or_path,
                 "rejectUnauthorized": _bool, "servername": _str})
_WILL = _section({"topic": _topic_name, "payload": _any, "qos": _qos, "retain": _bool, "properties": _props("will")},
                 required=("topic",))


def _HISTORY(path, v):
    # one definition of the history keys: lgmqtt.store validates them (and names the path)
    from lgmqtt.store import check_config

    _dict(path, v)
    check_config(v)
    return v


_REMOTE = _section({"enabled": _bool, "topic": _topic_name, "allow": _list_of(lambda p, v: _str(p, v, False)),
                    "replyPrefix": _str})

_TOPIC_DECL = _section({"name": _topic_name, "description": _str, "maxQos": _qos, "retained": _bool},
                       required=("name",))

_CONFIG = _section({
    "host": lambda p, v: _str(p, v, False), "port": _PORT, "protocol": _choice("mqtt", "mqtts"),
    "protocolVersion": _choice(4, 5), "clientId": _mqtt_str, "keepalive": _int_range(0, 65535), "clean": _bool,
    "username": _mqtt_str, "password": _mqtt_str, "connectTimeout": _int_range(1, 600000), "reconnectPeriod": _MS,
    "maxReconnectPeriod": _MS, "maxReconnectAttempts": _int_range(0, None), "authRetryPeriod": _MS,
    "queueQoSZero": _bool, "brokers": _list_of(_BROKER), "failover": _bool,
    "loadBalancing": _choice("round-robin", "weighted"), "tls": _TLS, "rejectUnauthorized": _bool,
    "properties": _props("CONNECT"), "will": _WILL, "history": _HISTORY, "remote": _REMOTE,
    "topics": _list_of(_TOPIC_DECL), "maxInflight": _int_range(1, 65535), "maxPacketSize": _int_range(64, 268435455),
    "ackTimeout": _MS, "defaultQos": _qos, "batchSize": _int_range(1, 1000), "batchDelay": _MS,
})

# `device` is the firmware's section (board, sensors, power...): the connector only
# checks that it is an object; the firmware validates its keys (lgnode.nodecfg).
_DEVICE = _dict
_CAPS = _section({"enabled": _list_of(_choice(*CAPABILITIES)), "disabled": _list_of(_choice(*CAPABILITIES))})
_TOP = _section({"id": _str, "type": _choice("mqtt"), "name": _str, "description": _str, "config": _CONFIG,
                 "capabilities": _CAPS, "device": _DEVICE}, required=("config",))

DEFAULTS = {
    "protocol": "mqtt", "protocolVersion": 4, "keepalive": 60, "clean": True, "connectTimeout": 10000,
    "reconnectPeriod": 1000, "maxReconnectPeriod": 60000, "maxReconnectAttempts": 0, "authRetryPeriod": 5000,
    "queueQoSZero": False, "failover": True, "loadBalancing": "round-robin", "rejectUnauthorized": True,
    "maxInflight": 20, "maxPacketSize": 65536, "ackTimeout": 30000, "defaultQos": 0, "batchSize": 10, "batchDelay": 0,
}


def validate(doc):
    """Check a parsed config.json; return a new dict with defaults filled in."""
    top = _TOP("", doc) if isinstance(doc, dict) else _dict("(config file)", doc)
    cfg = dict(DEFAULTS)
    cfg.update(top["config"])
    if "host" not in cfg and not cfg.get("brokers"):
        raise ConnectorError(CONFIG_ERROR, "config.host is required (or config.brokers)",
                             {"path": "config.host", "expected": "a host name or IP address"})
    if "port" not in cfg:
        cfg["port"] = 8883 if cfg["protocol"] == "mqtts" else 1883
    if cfg.get("tls") and cfg["protocol"] != "mqtts" and not any(
            b.get("protocol") == "mqtts" for b in cfg.get("brokers", [])):
        # a CA or client key with plain TCP would send credentials in the clear
        raise ConnectorError(CONFIG_ERROR, "config.tls is set but config.protocol is 'mqtt': use 'mqtts'",
                             {"path": "config.protocol", "expected": "'mqtts' when config.tls is set"})
    if "clientId" not in cfg or not cfg["clientId"]:
        cfg["clientId"] = _mqtt_str("id", top.get("id") or "lgmqtt-device")
    if "password" in cfg and "username" not in cfg and cfg["protocolVersion"] == 4:
        raise ConnectorError(CONFIG_ERROR, "config.password needs config.username on MQTT 3.1.1",
                             {"path": "config.password", "expected": "a config.username too (or protocolVersion 5)"})
    rtopic = (cfg.get("remote") or {}).get("topic", "lg/{clientId}/rpc")
    if (cfg.get("remote") or {}).get("enabled", True):
        _topic_name("config.remote.topic (with config.clientId %r)" % cfg["clientId"],
                    rtopic.replace("{clientId}", cfg["clientId"]))
    caps = top.get("capabilities", {})
    enabled = caps.get("enabled", [c for c in CAPABILITIES if c not in DEFAULT_DISABLED])
    disabled = caps.get("disabled", list(DEFAULT_DISABLED) if "enabled" not in caps else [])
    top["capabilities"] = {"enabled": enabled, "disabled": disabled}
    top["config"] = cfg
    return top


def load(path="config.json", secrets_path="secrets.json"):
    """Read, merge secrets, validate. Raises CONFIG_ERROR naming the file and key."""
    from lgmqtt.connector.configfile import read

    return validate(read(path, secrets_path))


def redact(obj):
    """A copy safe to show: secret values replaced by '***'."""
    if isinstance(obj, dict):
        return {k: ("***" if k in SECRET_KEYS and v is not None else redact(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [redact(x) for x in obj]
    return obj
