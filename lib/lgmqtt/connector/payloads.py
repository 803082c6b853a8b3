# Payloads and MQTT 5 properties between the connector's JSON-ish world and the wire.
#
# Out: dict/list -> JSON (contentType application/json), str -> UTF-8 text (text/plain),
# bytes -> as is (application/octet-stream). In: decoded by the 5.0 contentType when
# there is one, else JSON if it parses, else text if it is UTF-8, else bytes; the raw
# bytes are always kept too. Property names are the user-facing camelCase ones
# (contentType, messageExpiryInterval, userProperties, ...); user properties are a dict
# whose repeated keys hold lists.
import json

from lgmqtt.compat import const
from lgmqtt.errors import ConnectorError, INVALID_PARAMS
from lgmqtt.mqtt.wire import utf8

_USER_PROPERTY = const(0x26)
_RESPONSE_TOPIC = const(0x08)
_CORRELATION_DATA = const(0x09)

# Properties a client must not set on PUBLISH itself: the session owns topic aliases,
# and subscription identifiers travel only from broker to subscriber.
_FORBIDDEN = ("topicAlias", "subscriptionIdentifier")

JSON = "application/json"
TEXT = "text/plain"
BINARY = "application/octet-stream"


def encode(payload):
    """-> (bytes, content_type)"""
    if payload is None:
        return b"", None
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload), BINARY
    if isinstance(payload, str):
        try:
            return utf8(payload), TEXT
        except ValueError:
            raise ConnectorError(INVALID_PARAMS, "payload text is not valid Unicode (lone surrogate)",
                                 {"param": "payload", "expected": "text encodable as UTF-8"})
    if isinstance(payload, (dict, list, int, float, bool)):
        # MicroPython's json.dumps writes anything (b'x' as "x", a set as {1, 2}): check
        # the value ourselves so both interpreters refuse the same payloads.
        if not _jsonable(payload, 0):
            raise ConnectorError(INVALID_PARAMS, "payload is not JSON: only dict (str keys), list, str, int, "
                                 "finite float, bool and None inside", {"param": "payload", "expected": "JSON values"})
        return json.dumps(payload).encode(), JSON
    raise ConnectorError(INVALID_PARAMS, "payload must be a dict, list, str or bytes, not %s" % type(payload).__name__,
                         {"param": "payload", "expected": "dict, list, str or bytes"})


def _jsonable(v, depth):
    if depth > 32:
        return False
    if v is None or isinstance(v, (str, bool, int)):
        return True
    if isinstance(v, float):
        return v == v and v not in (float("inf"), float("-inf"))
    if isinstance(v, list):
        return all(_jsonable(x, depth + 1) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _jsonable(x, depth + 1) for k, x in v.items())
    return False


def decode(raw, content_type=None):
    """Incoming payload bytes -> dict/list/str/bytes (raw kept by the caller)."""
    return decode_checked(raw, content_type)[0]


def decode_checked(raw, content_type=None):
    """-> (value, error): error is None, or why a payload that says (or looks) JSON
    could not be decoded -- then value is its text (or bytes). Never raises: a payload
    nested too deep for the parser (RecursionError) or too big for RAM is a payload
    error, not an exception in the application's callback."""
    raw = bytes(raw)
    if content_type is not None:
        ct = content_type.split(";")[0].strip().lower()
        if ct == JSON or ct.endswith("+json"):
            return _json_or_text(raw, True)
        if ct.startswith("text/"):
            return _text_or_bytes(raw), None
        return raw, None
    if raw[:1] in (b"{", b"["):
        return _json_or_text(raw, False)
    return _text_or_bytes(raw), None


_MAX_DEPTH = 32  # JSON nesting: CPython's parser recurses (RecursionError), MicroPython's does not


def _too_deep(raw):
    # Only a payload with that many brackets can be that deep: count them in C first.
    if raw.count(b"[") + raw.count(b"{") <= _MAX_DEPTH:
        return False
    depth = 0
    in_str = esc = False
    for c in raw:
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:  # backslash
                esc = True
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c == 0x5B or c == 0x7B:
            depth += 1
            if depth > _MAX_DEPTH:
                return True
        elif c == 0x5D or c == 0x7D:
            depth -= 1
    return False


def _json_or_text(raw, declared):
    if _too_deep(raw):  # the same answer on both interpreters
        return _text_or_bytes(raw), "JSON payload nested deeper than %d levels: not decoded" % _MAX_DEPTH
    try:
        return json.loads(raw), None
    except ValueError as e:  # not JSON after all
        return _text_or_bytes(raw), "not valid JSON: %s" % e if declared else None
    except (RuntimeError, MemoryError) as e:  # RecursionError (CPython), recursion depth (MicroPython)
        return _text_or_bytes(raw), "JSON payload not decoded: %s" % type(e).__name__


def _text_or_bytes(raw):
    try:
        return raw.decode()
    except UnicodeError:
        return raw


def props_to_wire(props):
    """{"contentType": ..., "userProperties": {...}} -> {id: value}; bad names or shapes -> INVALID_PARAMS."""
    if not props:
        return {}
    if not isinstance(props, dict):
        raise _bad("properties", "an object of MQTT 5 properties")
    from lgmqtt.mqtt.names import property_id  # only a message with properties loads the names

    out = {}
    for name, v in props.items():
        try:
            pid = property_id(name)
        except (ValueError, TypeError):
            raise _bad("properties." + str(name), "a known MQTT 5 property name")
        if name in _FORBIDDEN:
            raise _bad("properties." + name, "not set by the client (the session manages it)")
        if pid == _USER_PROPERTY:
            pairs = []
            if isinstance(v, dict):
                items = v.items()
            elif isinstance(v, list) and all(isinstance(x, (list, tuple)) and len(x) == 2 for x in v):
                items = v
            else:
                raise _bad("properties.userProperties", "an object of string values (or lists of them)")
            for k, val in items:
                for one in (val if isinstance(val, list) else [val]):
                    # a number is written as text; a nested object or list is not a value
                    if not isinstance(k, str) or isinstance(one, bool) or not isinstance(one, (str, int, float)):
                        raise _bad("properties.userProperties.%s" % k, "string (or number) values")
                    pairs.append((k, one if isinstance(one, str) else str(one)))
            v = pairs
        elif pid == _RESPONSE_TOPIC:
            from lgmqtt.mqtt.topic import validate_name

            try:
                validate_name(v)
            except ConnectorError as e:
                raise _bad("properties.responseTopic", "a topic name without wildcards (%s)" % e.details["reason"])
        elif pid == _CORRELATION_DATA and isinstance(v, str):
            try:
                v = v.encode()
            except UnicodeError:
                raise _bad("properties.correlationData", "bytes or UTF-8 text")
        out[pid] = v
    return out


def _bad(path, expected):
    return ConnectorError(INVALID_PARAMS, "%s: expected %s" % (path, expected), {"param": path, "expected": expected})


def props_from_wire(props):
    """{id: value} -> user-facing names; correlation data as text when it is UTF-8."""
    out = {}
    if not props:
        return out
    from lgmqtt.mqtt.names import property_name

    for pid, v in props.items():
        name = property_name(pid)
        if pid == _USER_PROPERTY:
            d = {}
            for k, val in v:
                if k in d:
                    d[k] = (d[k] if isinstance(d[k], list) else [d[k]]) + [val]
                else:
                    d[k] = val
            v = d
        out[name] = v
    return out
