# MQTT 5 properties: ids, wire types, which packets may carry each, camelCase names,
# and their encoding and decoding. Decoded properties are a dict {id: value}; user
# properties are a list of (key, value) str pairs in wire order; a PUBLISH's
# subscription identifiers are a list of ints (the property may repeat there).
from lgmqtt.compat import const
from lgmqtt.wire import (
    PUBLISH, MAX_VARINT, malformed, protocol_error,
    read_varint, read_u16, read_u32, read_str, read_bin, write_varint, varint_size,
    str_bytes, bin_bytes, check_int,
)

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

# Wire types.
_BYTE = const(0)
_U16 = const(1)
_U32 = const(2)
_VARINT = const(3)
_STR = const(4)
_PAIR = const(5)
_BIN = const(6)

# Where a property may appear: bit (1 << packet type); bit 0 stands for the will
# properties inside CONNECT (packet type 0 is reserved, so the bit is free).
WILL_BIT = const(1)
_W = const(1)
_CN = const(1 << 1)
_CA = const(1 << 2)
_PB = const(1 << 3)
_ACKS = const((1 << 4) | (1 << 5) | (1 << 6) | (1 << 7))
_SU = const(1 << 8)
_SA = const(1 << 9)
_US = const(1 << 10)
_UA = const(1 << 11)
_DI = const(1 << 14)
_AU = const(1 << 15)

# id -> (wire type, where allowed, camelCase name). Names follow MQTT.js, which the
# connector's users know.
_TABLE = {
    0x01: (_BYTE, _PB | _W, "payloadFormatIndicator"),
    0x02: (_U32, _PB | _W, "messageExpiryInterval"),
    0x03: (_STR, _PB | _W, "contentType"),
    0x08: (_STR, _PB | _W, "responseTopic"),
    0x09: (_BIN, _PB | _W, "correlationData"),
    0x0B: (_VARINT, _PB | _SU, "subscriptionIdentifier"),
    0x11: (_U32, _CN | _CA | _DI, "sessionExpiryInterval"),
    0x12: (_STR, _CA, "assignedClientIdentifier"),
    0x13: (_U16, _CA, "serverKeepAlive"),
    0x15: (_STR, _CN | _CA | _AU, "authenticationMethod"),
    0x16: (_BIN, _CN | _CA | _AU, "authenticationData"),
    0x17: (_BYTE, _CN, "requestProblemInformation"),
    0x18: (_U32, _W, "willDelayInterval"),
    0x19: (_BYTE, _CN, "requestResponseInformation"),
    0x1A: (_STR, _CA, "responseInformation"),
    0x1C: (_STR, _CA | _DI, "serverReference"),
    0x1F: (_STR, _CA | _ACKS | _SA | _UA | _DI | _AU, "reasonString"),
    0x21: (_U16, _CN | _CA, "receiveMaximum"),
    0x22: (_U16, _CN | _CA, "topicAliasMaximum"),
    0x23: (_U16, _PB, "topicAlias"),
    0x24: (_BYTE, _CA, "maximumQoS"),
    0x25: (_BYTE, _CA, "retainAvailable"),
    0x26: (_PAIR, _W | _CN | _CA | _PB | _ACKS | _SU | _SA | _US | _UA | _DI | _AU, "userProperties"),
    0x27: (_U32, _CN | _CA, "maximumPacketSize"),
    0x28: (_BYTE, _CA, "wildcardSubscriptionAvailable"),
    0x29: (_BYTE, _CA, "subscriptionIdentifiersAvailable"),
    0x2A: (_BYTE, _CA, "sharedSubscriptionAvailable"),
}
# Properties whose only defined values are 0 and 1; properties for which 0 is a
# protocol error.
_BOOLEAN = b"\x01\x17\x19\x24\x25\x28\x29\x2a"
_NONZERO = b"\x0b\x21\x23\x27"
_PACKET_NAMES = ("Will", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP", "SUBSCRIBE",
                 "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH")


def packet_name(ptype):
    return _PACKET_NAMES[ptype] if 0 <= ptype < 16 else "type %d" % ptype


def property_name(pid):
    """0x03 -> "contentType". ValueError for an unknown id."""
    ent = _TABLE.get(pid)
    if ent is None:
        raise ValueError("unknown MQTT 5 property id %r" % (pid,))
    return ent[2]


def property_id(name):
    """"contentType" -> 0x03 ("userProperty" is accepted for userProperties)."""
    if name == "userProperty":
        return USER_PROPERTY
    for pid in _TABLE:
        if _TABLE[pid][2] == name:
            return pid
    raise ValueError("unknown MQTT 5 property name %r" % (name,))


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
        ent = _TABLE.get(pid)
        if ent is None:
            raise malformed("unknown property 0x%02X in %s" % (pid, packet_name(ptype)))
        wt = ent[0]
        if not ent[1] & bit:
            raise malformed("property %s not allowed in %s" % (ent[2], packet_name(ptype)))
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
                raise protocol_error("property %s must be 0 or 1, got %d" % (ent[2], v))
        elif pid in _NONZERO and v == 0:
            raise protocol_error("property %s must not be 0" % ent[2])
        if pid == USER_PROPERTY or (pid == SUBSCRIPTION_IDENTIFIER and ptype == PUBLISH):
            lst = props.get(pid)
            if lst is None:
                props[pid] = [v]
            else:
                lst.append(v)
        elif pid in props:
            raise protocol_error("property %s twice in %s" % (ent[2], packet_name(ptype)))
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
        raise ValueError("properties must be a dict {property id: value}")
    bit = 1 << ptype
    items = []  # (id, wire type, value ready to write)
    size = 0
    for pid in props:
        ent = _TABLE.get(pid)
        if ent is None:
            raise ValueError("unknown MQTT 5 property id %r" % (pid,))
        wt, mask, name = ent
        if not mask & bit:
            raise ValueError("property %s is not allowed in %s" % (name, packet_name(ptype)))
        v = props[pid]
        if pid == USER_PROPERTY:
            pairs = v.items() if isinstance(v, dict) else v
            for pair in pairs:
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise ValueError("user properties must be (key, value) str pairs, got %r" % (pair,))
                k = str_bytes(pair[0], "user property key")
                val = str_bytes(pair[1], "user property value")
                items.append((pid, _PAIR, (k, val)))
                size += 5 + len(k) + len(val)
            continue
        if pid == SUBSCRIPTION_IDENTIFIER and isinstance(v, (list, tuple)):
            if ptype != PUBLISH:
                raise ValueError("only a PUBLISH may carry several subscription identifiers")
            vals = v
        else:
            vals = (v,)
        for v in vals:
            if wt == _STR:
                v = str_bytes(v, name)
                size += 2 + len(v)
            elif wt == _BIN:
                v = bin_bytes(v, name)
                size += 2 + len(v)
            elif wt == _BYTE:
                check_int(v, 0, 1 if pid in _BOOLEAN else 255, name)
                size += 1
            elif wt == _U16:
                check_int(v, 1 if pid in _NONZERO else 0, 0xFFFF, name)
                size += 2
            elif wt == _U32:
                check_int(v, 1 if pid in _NONZERO else 0, 0xFFFFFFFF, name)
                size += 4
            else:
                check_int(v, 1, MAX_VARINT, name)
                size += varint_size(v)
            items.append((pid, wt, v))
            size += 1
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
