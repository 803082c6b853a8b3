# Payloads and MQTT 5 properties between the connector's JSON-ish world and the wire.
#
# Out: dict/list -> JSON (contentType application/json), str -> UTF-8 text (text/plain),
# bytes -> as is (application/octet-stream). In: decoded by the 5.0 contentType when
# there is one, else JSON if it parses, else text if it is UTF-8, else bytes; the raw
# bytes are always kept too. Property names are the user-facing camelCase ones
# (contentType, messageExpiryInterval, userProperties, ...); user properties are a dict
# whose repeated keys hold lists.
import json

from lgmqtt import codec
from lgmqtt.errors import ConnectorError, PROTOCOL_ERROR

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
        return payload.encode(), TEXT
    if isinstance(payload, (dict, list, int, float, bool)):
        return json.dumps(payload).encode(), JSON
    raise ConnectorError(PROTOCOL_ERROR, "payload must be a dict, list, str or bytes, not %s" % type(payload).__name__,
                         {"type": type(payload).__name__})


def decode(raw, content_type=None):
    """Incoming payload bytes -> dict/list/str/bytes (raw kept by the caller)."""
    raw = bytes(raw)
    if content_type is not None:
        ct = content_type.split(";")[0].strip().lower()
        if ct == JSON or ct.endswith("+json"):
            try:
                return json.loads(raw)
            except ValueError:
                return _text_or_bytes(raw)
        if ct.startswith("text/"):
            return _text_or_bytes(raw)
        return raw
    if raw[:1] in (b"{", b"["):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return _text_or_bytes(raw)


def _text_or_bytes(raw):
    try:
        return raw.decode()
    except UnicodeError:
        return raw


def props_to_wire(props):
    """{"contentType": ..., "userProperties": {...}} -> {id: value}; unknown names -> PROTOCOL_ERROR."""
    if not props:
        return {}
    out = {}
    for name, v in props.items():
        try:
            pid = codec.property_id(name)
        except ValueError:
            raise ConnectorError(PROTOCOL_ERROR, "unknown MQTT 5 property %r" % name, {"property": name})
        if pid == codec.USER_PROPERTY:
            pairs = []
            items = v.items() if isinstance(v, dict) else v
            for k, val in items:
                for one in (val if isinstance(val, list) else [val]):
                    pairs.append((str(k), str(one)))
            v = pairs
        elif pid == codec.CORRELATION_DATA and isinstance(v, str):
            v = v.encode()
        out[pid] = v
    return out


def props_from_wire(props):
    """{id: value} -> user-facing names; correlation data as text when it is UTF-8."""
    out = {}
    for pid, v in props.items():
        name = codec.property_name(pid)
        if pid == codec.USER_PROPERTY:
            d = {}
            for k, val in v:
                if k in d:
                    d[k] = (d[k] if isinstance(d[k], list) else [d[k]]) + [val]
                else:
                    d[k] = val
            v = d
        out[name] = v
    return out
