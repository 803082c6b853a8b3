# MQTT 5 properties: ids, wire types, which packets may carry each, camelCase names,
# and their encoding and decoding. Decoded properties are a dict {id: value}; user
# properties are a list of (key, value) str pairs in wire order; a PUBLISH's
# subscription identifiers are a list of ints (the property may repeat there).
from lgmqtt.errors import INVALID_PARAMS
from lgmqtt.compat import const
from lgmqtt.mqtt.wire import (
    CodecError, packet_name,
    MAX_VARINT, malformed, protocol_error, read_varint, read_u16, read_u32, read_str, read_bin, write_varint, varint_size,
    str_bytes, bin_bytes, check_int,
)

# The property ids (MQTT 5.0 section 2.2.2.2); their camelCase names are in
# lgmqtt.mqtt.names (loaded only when a name is needed).
PAYLOAD_FORMAT_INDICATOR = const(0x01)
MESSAGE_EXPIRY_INTERVAL = const(0x02)
CONTENT_TYPE = const(0x03)
RESPONSE_TOPIC = const(0x08)
CORRELATION_DATA = const(0x09)
SUBSCRIPTION_IDENTIFIER = const(0x0B)
SESSION_EXPIRY_INTERVAL = const(0x11)
ASSIGNED_CLIENT_IDENTIFIER = const(0x12)
SERVER_KEEP_ALIVE = const(0x13)
AUTHENTICATION_METHOD = const(0x15)
AUTHENTICATION_DATA = const(0x16)
REQUEST_PROBLEM_INFORMATION = const(0x17)
WILL_DELAY_INTERVAL = const(0x18)
REQUEST_RESPONSE_INFORMATION = const(0x19)
RESPONSE_INFORMATION = const(0x1A)
SERVER_REFERENCE = const(0x1C)
REASON_STRING = const(0x1F)
RECEIVE_MAXIMUM = const(0x21)
TOPIC_ALIAS_MAXIMUM = const(0x22)
TOPIC_ALIAS = const(0x23)
MAXIMUM_QOS = const(0x24)
RETAIN_AVAILABLE = const(0x25)
USER_PROPERTY = const(0x26)
MAXIMUM_PACKET_SIZE = const(0x27)
WILDCARD_SUBSCRIPTION_AVAILABLE = const(0x28)
SUBSCRIPTION_IDENTIFIER_AVAILABLE = const(0x29)
SHARED_SUBSCRIPTION_AVAILABLE = const(0x2A)


_PUBLISH = const(3)
_SUBSCRIPTION_IDENTIFIER = const(0x0B)
_USER_PROPERTY = const(0x26)

# Wire types (stored +1 in _TYPES, so that 0 means "no such property").
_BYTE = const(1)
_U16 = const(2)
_U32 = const(3)
_VARINT = const(4)
_STR = const(5)
_PAIR = const(6)
_BIN = const(7)

# Indexed by property id (0x00..0x2A): the wire type (0: unknown id), and where the
# property may appear, two bytes big-endian per id, bit (1 << packet type) set for each
# packet that may carry it (bit 0 for the will properties). Bytes, not a dict of
# tuples: a dict costs ~3 KB of heap, these 129 bytes almost nothing.
# (MQTT 5.0 section 2.2.2.2; host_tests/portable/test_codec_props.py checks every cell.)
_TYPES = (b"\x00\x01\x03\x05\x00\x00\x00\x00\x05\x07\x00\x04\x00\x00\x00\x00"
          b"\x00\x03\x05\x02\x00\x05\x07\x01\x03\x01\x05\x00\x05\x00\x00\x05"
          b"\x00\x02\x02\x02\x01\x01\x06\x03\x01\x01\x01")
_MASKS = (b"\x00\x00\x00\x09\x00\x09\x00\x09\x00\x00\x00\x00\x00\x00\x00\x00"
          b"\x00\x09\x00\x09\x00\x00\x01\x08\x00\x00\x00\x00\x00\x00\x00\x00"
          b"\x00\x00\x40\x06\x00\x04\x00\x04\x00\x00\x80\x06\x80\x06\x00\x02"
          b"\x00\x01\x00\x02\x00\x04\x00\x00\x40\x04\x00\x00\x00\x00\xca\xf4"
          b"\x00\x00\x00\x06\x00\x06\x00\x08\x00\x04\x00\x04\xcf\xff\x00\x06"
          b"\x00\x04\x00\x04\x00\x04")
# Properties whose only defined values are 0 and 1; properties for which 0 is a
# protocol error.
_BOOLEAN = b"\x01\x17\x19\x24\x25\x28\x29\x2a"
_NONZERO = b"\x0b\x21\x23\x27"
def _entry(pid):
    """(wire type, mask) of a property id; wire type 0 for an unknown one."""
    if type(pid) is not int or pid < 0 or pid > 0x2A:
        return 0, 0
    return _TYPES[pid], (_MASKS[2 * pid] << 8) | _MASKS[2 * pid + 1]


def _name(pid):
    # Only error messages need a property's name: the name table loads then.
    from lgmqtt.mqtt.names import property_name

    return property_name(pid)


def read_props(buf, pos, end, ptype):
    """The property block at buf[pos:end] of a packet of type ptype (0: will
    properties) -> (dict, new pos). ProtocolError when it breaks the rules."""
    n, pos = read_varint(buf, pos, end)
    e = pos + n
    if e > end:
        raise malformed("property length runs past the end of the packet")
    props = {}
    if n == 0:
        return props, e
    bit = 1 << ptype
    while pos < e:
        pid, pos = read_varint(buf, pos, e)
        wt, mask = _entry(pid)
        if not wt:
            raise malformed("unknown property 0x%02X in %s" % (pid, packet_name(ptype)))
        if not mask & bit:
            raise malformed("property %s not allowed in %s" % (_name(pid), packet_name(ptype)))
        if wt == _BYTE:
            if pos >= e:
                raise malformed("truncated byte property")
            v = buf[pos]
            pos += 1
        elif wt == _U32:
            v, pos = read_u32(buf, pos, e)
        elif wt == _STR:
            v, pos = read_str(buf, pos, e)
        elif wt == _U16:
            v, pos = read_u16(buf, pos, e)
        elif wt == _VARINT:
            v, pos = read_varint(buf, pos, e)
        elif wt == _BIN:
            v, pos = read_bin(buf, pos, e)
        else:
            k, pos = read_str(buf, pos, e)
            v, pos = read_str(buf, pos, e)
            v = (k, v)
        if pid in _BOOLEAN:
            if v > 1:
                raise protocol_error("property %s must be 0 or 1, got %d" % (_name(pid), v))
        elif pid in _NONZERO and v == 0:
            raise protocol_error("property %s must not be 0" % _name(pid))
        if pid == _USER_PROPERTY or (pid == _SUBSCRIPTION_IDENTIFIER and ptype == _PUBLISH):
            lst = props.get(pid)
            if lst is None:
                props[pid] = [v]
            else:
                lst.append(v)
        elif pid in props:
            raise protocol_error("property %s twice in %s" % (_name(pid), packet_name(ptype)))
        else:
            props[pid] = v
    return props, e


_EMPTY = b"\x00"


def encode_props(props, ptype):
    """Caller's property dict -> the property block (length prefix included) for a
    packet of type ptype (0: will properties). ValueError on misuse."""
    if not props:
        return _EMPTY
    if not isinstance(props, dict):
        raise CodecError(INVALID_PARAMS, "properties must be a dict {property id: value}")
    bit = 1 << ptype
    items = []  # (id, wire type, value ready to write)
    size = 0
    for pid in props:
        wt, mask = _entry(pid)
        if not wt:
            raise CodecError(INVALID_PARAMS, "unknown MQTT 5 property id %r" % (pid,))
        if not mask & bit:
            raise CodecError(INVALID_PARAMS, "property %s is not allowed in %s" % (_name(pid), packet_name(ptype)))
        v = props[pid]
        if pid == _USER_PROPERTY:
            pairs = v.items() if isinstance(v, dict) else v
            for pair in pairs:
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise CodecError(INVALID_PARAMS, "user properties must be (key, value) str pairs, got %r" % (pair,))
                k = str_bytes(pair[0], "user property key")
                val = str_bytes(pair[1], "user property value")
                items.append((pid, _PAIR, (k, val)))
                size += 5 + len(k) + len(val)
            continue
        if pid == _SUBSCRIPTION_IDENTIFIER and isinstance(v, (list, tuple)):
            if ptype != _PUBLISH:
                raise CodecError(INVALID_PARAMS, "only a PUBLISH may carry several subscription identifiers")
            vals = v
        else:
            vals = (v,)
        try:  # the checks name "value"; the property's name is added on failure only
            for v in vals:
                if wt == _STR:
                    v = str_bytes(v, "value")
                    size += 2 + len(v)
                elif wt == _BIN:
                    v = bin_bytes(v, "value")
                    size += 2 + len(v)
                elif wt == _BYTE:
                    check_int(v, 0, 1 if pid in _BOOLEAN else 255, "value")
                    size += 1
                elif wt == _U16:
                    check_int(v, 1 if pid in _NONZERO else 0, 0xFFFF, "value")
                    size += 2
                elif wt == _U32:
                    check_int(v, 1 if pid in _NONZERO else 0, 0xFFFFFFFF, "value")
                    size += 4
                else:
                    check_int(v, 1, MAX_VARINT, "value")
                    size += varint_size(v)
                items.append((pid, wt, v))
                size += 1
        except ValueError as e:
            raise CodecError(INVALID_PARAMS, "property %s: %s" % (_name(pid), e))
    buf = bytearray(varint_size(size) + size)
    pos = write_varint(buf, 0, size)
    for pid, wt, v in items:
        buf[pos] = pid
        pos += 1
        if wt == _BYTE:
            buf[pos] = v
            pos += 1
        elif wt == _U16:
            buf[pos] = v >> 8
            buf[pos + 1] = v & 0xFF
            pos += 2
        elif wt == _U32:
            buf[pos:pos + 4] = v.to_bytes(4, "big")
            pos += 4
        elif wt == _VARINT:
            pos = write_varint(buf, pos, v)
        elif wt == _PAIR:
            pos = _put(buf, pos, v[0])
            pos = _put(buf, pos, v[1])
        else:
            pos = _put(buf, pos, v)
    return buf


def _put(buf, pos, b):
    n = len(b)
    buf[pos] = n >> 8
    buf[pos + 1] = n & 0xFF
    buf[pos + 2:pos + 2 + n] = b
    return pos + 2 + n
