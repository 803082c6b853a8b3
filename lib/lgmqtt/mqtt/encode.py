# MQTT 3.1.1 (version 4) and 5.0 (version 5) encoders for the packets a client sends,
# sans-I/O. The Decoder is in lgmqtt.mqtt.decode, the properties in .props, the wire
# primitives in .wire, the broker's half (tests and fake brokers only) in .server.
#
# Encoders return one bytearray per packet (bytes-like, ready for one socket write)
# and raise CodecError (a ValueError with the error code in .error) when the caller's
# arguments cannot make a valid packet; they
# never send anything half-checked. The decoder raises ProtocolError when the peer
# broke the protocol.
from lgmqtt.errors import INVALID_PARAMS, PAYLOAD_TOO_LARGE, QOS_ERROR, TOPIC_ERROR
from lgmqtt.compat import const
from lgmqtt.mqtt.wire import (
    CodecError, packet_name,
    Will, varint_size, write_varint, str_bytes, bin_bytes, check_int, check_pid, ack_codes, DISCONNECT_CODES,
    AUTH_CODES,
)


def encode_props(props, ptype):
    # 5.0 only: a 3.1.1 client never loads the property code (lgmqtt.mqtt.props)
    from lgmqtt.mqtt.props import encode_props as enc

    return enc(props, ptype)

_CONNECT = const(1)
_PUBLISH = const(3)
_PUBACK = const(4)
_PUBREL = const(6)
_PUBCOMP = const(7)
_SUBSCRIBE = const(8)
_UNSUBSCRIBE = const(10)
_DISCONNECT = const(14)
_AUTH = const(15)
_TOPIC_ALIAS = const(0x23)
_SUBSCRIPTION_IDENTIFIER = const(0x0B)
_MAX_VARINT = const(268435455)


_NO_PROPS = b"\x00"


def _version(v):
    if v != 4 and v != 5:
        raise CodecError(INVALID_PARAMS, "MQTT version must be 4 (3.1.1) or 5, not %r" % (v,))


def _props(version, props, ptype):
    """The property block for version 5 (b"\\x00" when none); None for 3.1.1, where
    giving properties is a caller error."""
    if version == 5:
        return encode_props(props, ptype) if props else _NO_PROPS
    if props:
        raise CodecError(INVALID_PARAMS, "properties need MQTT 5 (protocolVersion 5)")
    return None


def _frame(first, parts):
    """One packet from its first byte and body parts: a single bytearray."""
    rl = 0
    for p in parts:
        if p is not None:
            rl += len(p)
    if rl > _MAX_VARINT:
        raise CodecError(PAYLOAD_TOO_LARGE, "packet body of %d bytes exceeds the MQTT limit of 268435455" % rl)
    buf = bytearray(1 + varint_size(rl) + rl)
    buf[0] = first
    pos = write_varint(buf, 1, rl)
    for p in parts:
        if p is not None:
            n = len(p)
            buf[pos:pos + n] = p
            pos += n
    return buf


def _u16(n):
    return bytes((n >> 8, n & 0xFF))


def _lstr(s, what):
    b = str_bytes(s, what)
    return _u16(len(b)) + b


def _lbin(b, what):
    b = bin_bytes(b, what)
    return _u16(len(b)) + bytes(b)


# The topic the last encode_publish checked, and its UTF-8 bytes after their length. A device publishes to
# a few topics over and over, and a str is immutable: the same object again (`is`, one
# pointer compare) needs neither encoding nor checking (~2.5 us of ~9 per PUBLISH on
# MicroPython 1.29). Only short topics are kept, so the reference holds little RAM.
_last_topic = None
_last_lt = b""
_CACHED_TOPIC = const(128)


def _topic_bytes(topic):
    # a topic name's UTF-8 bytes, checked (not for emptiness: that depends on props)
    if type(topic) is not str:
        raise CodecError(TOPIC_ERROR, "topic must be a str, not %s" % type(topic).__name__)
    try:
        tb = topic.encode()
    except UnicodeError:
        raise CodecError(TOPIC_ERROR, "topic is not valid Unicode (lone surrogate)")
    tl = len(tb)
    if tl != len(topic) or tl > 0xFFFF:
        tb = str_bytes(topic, "topic", TOPIC_ERROR)  # the slow, thorough check for non-ASCII topics
    if "\x00" in topic:
        raise CodecError(TOPIC_ERROR, "topic contains U+0000")
    return tb


def encode_publish(version, topic, payload, qos=0, retain=False, dup=False, pid=None, props=None):
    """A PUBLISH. payload: bytes-like (a str is sent as UTF-8). topic may be "" on
    5.0 when props carry a TOPIC_ALIAS. The hot path: one bytearray, filled in place,
    with the argument checks written inline (calls are dear on MicroPython)."""
    if qos:
        if qos != 1 and qos != 2:
            raise CodecError(QOS_ERROR, "QoS must be 0, 1 or 2, not %r" % (qos,))
        # 0: a placeholder the session fills in when it sends (Session.publish_packet).
        # (`& 0xFFFF` instead of type(pid) is int: a builtin call costs ~0.25 us here, and a
        # non-int raises TypeError; a bool passes as 0/1, which is what it is on the wire)
        try:
            bad = pid & 0xFFFF != pid
        except TypeError:
            bad = True
        if bad:
            raise CodecError(INVALID_PARAMS, "packet identifier must be an int in 0..65535, not %r" % (pid,))
    elif qos != 0 or type(qos) is not int:
        raise CodecError(QOS_ERROR, "QoS must be 0, 1 or 2, not %r" % (qos,))
    elif pid is not None:
        raise CodecError(QOS_ERROR, "a QoS 0 PUBLISH has no packet identifier (got %r)" % (pid,))
    elif dup:
        raise CodecError(QOS_ERROR, "DUP must be 0 on a QoS 0 PUBLISH")
    global _last_topic, _last_lt
    if topic is _last_topic:  # checked and encoded by the previous call (see _last_topic)
        lt = _last_lt
        tl = len(lt) - 2
    else:
        tb = _topic_bytes(topic)
        tl = len(tb)
        lt = _u16(tl) + tb
        if 0 < tl <= _CACHED_TOPIC:
            _last_topic = topic
            _last_lt = lt
    # (.__class__ compares first: type() and isinstance() are calls, dear on MicroPython)
    tp = payload.__class__
    if tp is not bytes and tp is not bytearray:
        if tp is str:
            payload = payload.encode()
        elif tp is not memoryview and not isinstance(payload, (bytes, bytearray, memoryview)):
            raise CodecError(INVALID_PARAMS, "payload must be bytes, bytearray, memoryview or str, not %s" % type(payload).__name__)
    if version == 5:
        pb = encode_props(props, _PUBLISH) if props else _NO_PROPS
        if not tl and not (props and _TOPIC_ALIAS in props):
            raise CodecError(TOPIC_ERROR, "an empty topic needs a topicAlias property")
    else:
        if version != 4:
            _version(version)
        if props:
            raise CodecError(INVALID_PARAMS, "properties need MQTT 5 (protocolVersion 5)")
        if not tl:
            raise CodecError(TOPIC_ERROR, "topic must not be empty")
        pb = b""
    rl = 2 + tl + len(payload)
    if qos:
        rl += 2
    if pb:
        rl += len(pb)
    if rl < 0x80:
        buf = bytearray(2 + rl)
        buf[1] = rl
        pos = 2
    elif rl > _MAX_VARINT:
        raise CodecError(PAYLOAD_TOO_LARGE, "PUBLISH of %d bytes exceeds the MQTT limit" % rl)
    else:
        buf = bytearray(1 + varint_size(rl) + rl)
        pos = write_varint(buf, 1, rl)
    first = 0x30 | qos << 1
    if dup:
        first |= 8
    if retain:
        first |= 1
    buf[0] = first
    buf[pos:pos + tl + 2] = lt
    pos += tl + 2
    if qos:
        buf[pos] = pid >> 8
        buf[pos + 1] = pid & 0xFF
        pos += 2
    if pb:
        n = len(pb)
        buf[pos:pos + n] = pb
        pos += n
    buf[pos:] = payload
    return buf


def encode_connect(version, client_id, keepalive, clean_start=True, username=None, password=None, will=None,
                   props=None):
    _version(version)
    check_int(keepalive, 0, 0xFFFF, "keepalive")
    flags = 2 if clean_start else 0
    parts = [b"\x00\x04MQTT", bytes((version,)), None, _u16(keepalive), _props(version, props, _CONNECT),
             _lstr(client_id, "client id")]
    if will is not None:
        if not isinstance(will, Will):
            raise CodecError(INVALID_PARAMS, "will must be a codec.Will")
        check_int(will.qos, 0, 2, "will QoS")
        if not will.topic:
            raise CodecError(TOPIC_ERROR, "will topic must not be empty")
        flags |= 4 | (will.qos << 3) | (0x20 if will.retain else 0)
        parts.append(_props(version, will.props, 0))
        parts.append(_lstr(will.topic, "will topic"))
        parts.append(_lbin(will.payload, "will payload"))
    if username is not None:
        flags |= 0x80
        parts.append(_lstr(username, "user name"))
    if password is not None:
        if username is None and version == 4:
            raise CodecError(INVALID_PARAMS, "MQTT 3.1.1 does not allow a password without a user name")
        flags |= 0x40
        parts.append(_lbin(password, "password"))
    parts[2] = bytes((flags,))
    return _frame(0x10, parts)


def encode_ack(type, version, pid, reason_code=0, props=None):
    """PUBACK, PUBREC, PUBREL or PUBCOMP. On 5.0 the reason code and properties are
    left out when the code is 0 and there are no properties (as the spec allows)."""
    if type < _PUBACK or type > _PUBCOMP:
        raise CodecError(INVALID_PARAMS, "encode_ack takes PUBACK, PUBREC, PUBREL or PUBCOMP, not %r" % (type,))
    _version(version)
    check_pid(pid)
    first = 0x62 if type == _PUBREL else type << 4
    if version == 4 or (reason_code == 0 and not props):
        if reason_code:
            raise CodecError(INVALID_PARAMS, "3.1.1 acknowledgements carry no reason code")
        return _frame(first, (_u16(pid),))
    if not isinstance(reason_code, int) or reason_code not in ack_codes(type):
        raise CodecError(INVALID_PARAMS, "0x%02X is not a %s reason code" % (reason_code, packet_name(type)))
    return _frame(first, (_u16(pid), bytes((reason_code,)), encode_props(props, type) if props else None))


def _topic_list(topics, what):
    if isinstance(topics, (str, tuple)) or not topics:
        raise CodecError(INVALID_PARAMS, "%s needs a non-empty list of topics" % what)
    return topics


def encode_subscribe(version, pid, topics, props=None):
    """topics: [(filter, options)]; options bits 0-1 QoS, 2 no local, 3 retain as
    published, 4-5 retain handling (the last three 5.0 only)."""
    _version(version)
    check_pid(pid)
    parts = [_u16(pid), _props(version, props, _SUBSCRIBE)]
    if props and isinstance(props.get(_SUBSCRIPTION_IDENTIFIER), (list, tuple)):
        raise CodecError(INVALID_PARAMS, "a SUBSCRIBE carries one subscription identifier")
    for item in _topic_list(topics, "SUBSCRIBE"):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise CodecError(INVALID_PARAMS, "SUBSCRIBE topics are (filter, options) pairs, got %r" % (item,))
        f, o = item
        check_int(o, 0, 0x3F if version == 5 else 2, "subscription options")
        if o & 3 == 3 or o & 0x30 == 0x30:
            raise CodecError(INVALID_PARAMS, "invalid subscription options 0x%02X" % o)
        if not f:
            raise CodecError(TOPIC_ERROR, "topic filter must not be empty")
        parts.append(_lstr(f, "topic filter"))
        parts.append(bytes((o,)))
    return _frame(0x82, parts)


def encode_unsubscribe(version, pid, topics, props=None):
    _version(version)
    check_pid(pid)
    parts = [_u16(pid), _props(version, props, _UNSUBSCRIBE)]
    for f in _topic_list(topics, "UNSUBSCRIBE"):
        if not f:
            raise CodecError(TOPIC_ERROR, "topic filter must not be empty")
        parts.append(_lstr(f, "topic filter"))
    return _frame(0xA2, parts)


def encode_pingreq():
    return b"\xc0\x00"


def _reason_only(first, ptype, reason_code, props, allowed):
    if not isinstance(reason_code, int) or reason_code not in allowed:
        raise CodecError(INVALID_PARAMS, "%r is not a %s reason code" % (reason_code, packet_name(ptype)))
    if not props:
        return bytes((first, 1, reason_code)) if reason_code else bytes((first, 0))
    return _frame(first, (bytes((reason_code,)), encode_props(props, ptype)))


def encode_disconnect(version, reason_code=0, props=None):
    _version(version)
    if version == 4:
        if reason_code or props:
            raise CodecError(INVALID_PARAMS, "a 3.1.1 DISCONNECT has no reason code or properties")
        return b"\xe0\x00"
    return _reason_only(0xE0, _DISCONNECT, reason_code, props, DISCONNECT_CODES)


def encode_auth(reason_code=0, props=None):
    """AUTH exists in MQTT 5 only."""
    return _reason_only(0xF0, _AUTH, reason_code, props, AUTH_CODES)
