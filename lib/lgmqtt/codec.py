# MQTT 3.1.1 (version 4) and 5.0 (version 5) packet codec, sans-I/O. This module is
# the public face: encoders live here; the Decoder, the properties and the reason
# names live in wire.py, props.py, decoder.py and reasons.py and are re-exported.
#
# Encoders return one bytearray per packet (bytes-like, ready for one socket write)
# and raise ValueError when the caller's arguments cannot make a valid packet; they
# never send anything half-checked. The decoder raises ProtocolError when the peer
# broke the protocol.
from lgmqtt.wire import (  # noqa: F401  (re-exported)
    CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK,
    UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH, MAX_VARINT,
    ProtocolError, Packet, Will, varint_size, write_varint, read_varint, encode_varint,
    str_bytes, bin_bytes, check_int, check_pid, ack_codes,
    CONNACK_CODES, PUBACK_CODES, PUBREL_CODES, SUBACK_CODES, SUBACK_CODES_V4, UNSUBACK_CODES,
    DISCONNECT_CODES, AUTH_CODES,
)
from lgmqtt.props import (  # noqa: F401
    PAYLOAD_FORMAT_INDICATOR, MESSAGE_EXPIRY_INTERVAL, CONTENT_TYPE, RESPONSE_TOPIC,
    CORRELATION_DATA, SUBSCRIPTION_IDENTIFIER, SESSION_EXPIRY_INTERVAL,
    ASSIGNED_CLIENT_IDENTIFIER, SERVER_KEEP_ALIVE, AUTHENTICATION_METHOD,
    AUTHENTICATION_DATA, REQUEST_PROBLEM_INFORMATION, WILL_DELAY_INTERVAL,
    REQUEST_RESPONSE_INFORMATION, RESPONSE_INFORMATION, SERVER_REFERENCE, REASON_STRING,
    RECEIVE_MAXIMUM, TOPIC_ALIAS_MAXIMUM, TOPIC_ALIAS, MAXIMUM_QOS, RETAIN_AVAILABLE,
    USER_PROPERTY, MAXIMUM_PACKET_SIZE, WILDCARD_SUBSCRIPTION_AVAILABLE,
    SUBSCRIPTION_IDENTIFIER_AVAILABLE, SHARED_SUBSCRIPTION_AVAILABLE,
    property_name, property_id, packet_name, encode_props,
)
from lgmqtt.decoder import Decoder  # noqa: F401

_PINGREQ = b"\xc0\x00"
_PINGRESP = b"\xd0\x00"
_DISCONNECT = b"\xe0\x00"
_AUTH = b"\xf0\x00"
_NO_PROPS = b"\x00"


def reason_name(code, packet_type=None):
    """0x87 -> "Not authorized" (MQTT 5 reason codes)."""
    from lgmqtt.reasons import reason_name as name

    return name(code, packet_type)


def connack_name(version, code):
    """A CONNACK code's name: 3.1.1 return codes for version 4, else 5.0 reason codes."""
    from lgmqtt.reasons import connack_name as name

    return name(version, code)


def packet_size(remaining_length):
    """Whole packet size (fixed header included) for a given remaining length."""
    return 1 + varint_size(remaining_length) + remaining_length


def _version(v):
    if v != 4 and v != 5:
        raise ValueError("MQTT version must be 4 (3.1.1) or 5, not %r" % (v,))


def _props(version, props, ptype):
    """The property block for version 5 (b"\\x00" when none); None for 3.1.1, where
    giving properties is a caller error."""
    if version == 5:
        return encode_props(props, ptype) if props else _NO_PROPS
    if props:
        raise ValueError("properties need MQTT 5 (protocolVersion 5)")
    return None


def _frame(first, parts):
    """One packet from its first byte and body parts: a single bytearray."""
    rl = 0
    for p in parts:
        if p is not None:
            rl += len(p)
    if rl > MAX_VARINT:
        raise ValueError("packet body of %d bytes exceeds the MQTT limit of 268435455" % rl)
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


def encode_publish(version, topic, payload, qos=0, retain=False, dup=False, pid=None, props=None):
    """A PUBLISH. payload: bytes-like (a str is sent as UTF-8). topic may be "" on
    5.0 when props carry a TOPIC_ALIAS. The hot path: one bytearray, filled in place,
    with the argument checks written inline (calls are dear on MicroPython)."""
    if qos:
        if qos != 1 and qos != 2:
            raise ValueError("QoS must be 0, 1 or 2, not %r" % (qos,))
        if type(pid) is not int or pid < 1 or pid > 0xFFFF:
            raise ValueError("packet identifier must be an int in 1..65535, not %r" % (pid,))
    elif qos != 0 or type(qos) is not int:
        raise ValueError("QoS must be 0, 1 or 2, not %r" % (qos,))
    elif pid is not None:
        raise ValueError("a QoS 0 PUBLISH has no packet identifier (got %r)" % (pid,))
    elif dup:
        raise ValueError("DUP must be 0 on a QoS 0 PUBLISH")
    if type(topic) is not str:
        raise ValueError("topic must be a str, not %s" % type(topic).__name__)
    try:
        tb = topic.encode()
    except UnicodeError:
        raise ValueError("topic is not valid Unicode (lone surrogate)")
    tl = len(tb)
    if tl != len(topic) or tl > 0xFFFF:
        tb = str_bytes(topic, "topic")  # the slow, thorough check for non-ASCII topics
    if "\x00" in topic:
        raise ValueError("topic contains U+0000")
    tp = type(payload)
    if tp is str:
        payload = payload.encode()
    # (type() first: isinstance with memoryview in the tuple costs ~14 us on MicroPython 1.29)
    elif tp is not bytes and tp is not bytearray and tp is not memoryview and not isinstance(
            payload, (bytes, bytearray, memoryview)):
        raise ValueError("payload must be bytes, bytearray, memoryview or str, not %s" % type(payload).__name__)
    if version == 5:
        pb = encode_props(props, PUBLISH) if props else _NO_PROPS
        if not tl and not (props and TOPIC_ALIAS in props):
            raise ValueError("an empty topic needs a topicAlias property")
    else:
        if version != 4:
            _version(version)
        if props:
            raise ValueError("properties need MQTT 5 (protocolVersion 5)")
        if not tl:
            raise ValueError("topic must not be empty")
        pb = b""
    rl = 2 + tl + (2 if qos else 0) + len(pb) + len(payload)
    if rl < 0x80:
        buf = bytearray(2 + rl)
        buf[1] = rl
        pos = 2
    elif rl > MAX_VARINT:
        raise ValueError("PUBLISH of %d bytes exceeds the MQTT limit" % rl)
    else:
        buf = bytearray(1 + varint_size(rl) + rl)
        pos = write_varint(buf, 1, rl)
    buf[0] = 0x30 | (8 if dup else 0) | (qos << 1) | (1 if retain else 0)
    buf[pos] = tl >> 8
    buf[pos + 1] = tl & 0xFF
    pos += 2
    buf[pos:pos + tl] = tb
    pos += tl
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
    parts = [b"\x00\x04MQTT", bytes((version,)), None, _u16(keepalive), _props(version, props, CONNECT),
             _lstr(client_id, "client id")]
    if will is not None:
        if not isinstance(will, Will):
            raise ValueError("will must be a codec.Will")
        check_int(will.qos, 0, 2, "will QoS")
        if not will.topic:
            raise ValueError("will topic must not be empty")
        flags |= 4 | (will.qos << 3) | (0x20 if will.retain else 0)
        parts.append(_props(version, will.props, 0))
        parts.append(_lstr(will.topic, "will topic"))
        parts.append(_lbin(will.payload, "will payload"))
    if username is not None:
        flags |= 0x80
        parts.append(_lstr(username, "user name"))
    if password is not None:
        if username is None and version == 4:
            raise ValueError("MQTT 3.1.1 does not allow a password without a user name")
        flags |= 0x40
        parts.append(_lbin(password, "password"))
    parts[2] = bytes((flags,))
    return _frame(0x10, parts)


def encode_connack(version, session_present, reason_code, props=None):
    _version(version)
    if version == 4:
        check_int(reason_code, 0, 5, "3.1.1 CONNACK return code")
    elif reason_code not in CONNACK_CODES:
        raise ValueError("0x%02X is not a CONNACK reason code" % (reason_code,))
    return _frame(0x20, (b"\x01" if session_present else b"\x00", bytes((reason_code,)),
                         _props(version, props, CONNACK)))


def encode_ack(type, version, pid, reason_code=0, props=None):
    """PUBACK, PUBREC, PUBREL or PUBCOMP. On 5.0 the reason code and properties are
    left out when the code is 0 and there are no properties (as the spec allows)."""
    if type < PUBACK or type > PUBCOMP:
        raise ValueError("encode_ack takes PUBACK, PUBREC, PUBREL or PUBCOMP, not %r" % (type,))
    _version(version)
    check_pid(pid)
    first = 0x62 if type == PUBREL else type << 4
    if version == 4 or (reason_code == 0 and not props):
        if reason_code:
            raise ValueError("3.1.1 acknowledgements carry no reason code")
        return _frame(first, (_u16(pid),))
    if not isinstance(reason_code, int) or reason_code not in ack_codes(type):
        raise ValueError("0x%02X is not a %s reason code" % (reason_code, packet_name(type)))
    return _frame(first, (_u16(pid), bytes((reason_code,)), encode_props(props, type) if props else None))


def _topic_list(topics, what):
    if isinstance(topics, (str, tuple)) or not topics:
        raise ValueError("%s needs a non-empty list of topics" % what)
    return topics


def encode_subscribe(version, pid, topics, props=None):
    """topics: [(filter, options)]; options bits 0-1 QoS, 2 no local, 3 retain as
    published, 4-5 retain handling (the last three 5.0 only)."""
    _version(version)
    check_pid(pid)
    parts = [_u16(pid), _props(version, props, SUBSCRIBE)]
    if props and isinstance(props.get(SUBSCRIPTION_IDENTIFIER), (list, tuple)):
        raise ValueError("a SUBSCRIBE carries one subscription identifier")
    for item in _topic_list(topics, "SUBSCRIBE"):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValueError("SUBSCRIBE topics are (filter, options) pairs, got %r" % (item,))
        f, o = item
        check_int(o, 0, 0x3F if version == 5 else 2, "subscription options")
        if o & 3 == 3 or o & 0x30 == 0x30:
            raise ValueError("invalid subscription options 0x%02X" % o)
        if not f:
            raise ValueError("topic filter must not be empty")
        parts.append(_lstr(f, "topic filter"))
        parts.append(bytes((o,)))
    return _frame(0x82, parts)


def encode_unsubscribe(version, pid, topics, props=None):
    _version(version)
    check_pid(pid)
    parts = [_u16(pid), _props(version, props, UNSUBSCRIBE)]
    for f in _topic_list(topics, "UNSUBSCRIBE"):
        if not f:
            raise ValueError("topic filter must not be empty")
        parts.append(_lstr(f, "topic filter"))
    return _frame(0xA2, parts)


def _codes(codes, allowed, what):
    for c in codes:
        if not isinstance(c, int) or c not in allowed:
            raise ValueError("%r is not a %s reason code" % (c, what))
    return bytes(codes)


def encode_suback(version, pid, reason_codes, props=None):
    _version(version)
    check_pid(pid)
    if not reason_codes:
        raise ValueError("SUBACK needs one reason code per topic filter")
    return _frame(0x90, (_u16(pid), _props(version, props, SUBACK),
                         _codes(reason_codes, SUBACK_CODES if version == 5 else SUBACK_CODES_V4, "SUBACK")))


def encode_unsuback(version, pid, reason_codes=(), props=None):
    _version(version)
    check_pid(pid)
    if version == 4:
        if reason_codes:
            raise ValueError("a 3.1.1 UNSUBACK has no reason codes")
        return _frame(0xB0, (_u16(pid),))
    if not reason_codes:
        raise ValueError("a 5.0 UNSUBACK needs one reason code per topic filter")
    return _frame(0xB0, (_u16(pid), _props(version, props, UNSUBACK), _codes(reason_codes, UNSUBACK_CODES, "UNSUBACK")))


def encode_pingreq():
    return _PINGREQ


def encode_pingresp():
    return _PINGRESP


def _reason_only(first, ptype, reason_code, props, allowed):
    if not isinstance(reason_code, int) or reason_code not in allowed:
        raise ValueError("%r is not a %s reason code" % (reason_code, packet_name(ptype)))
    if not props:
        return bytes((first, 1, reason_code)) if reason_code else bytes((first, 0))
    return _frame(first, (bytes((reason_code,)), encode_props(props, ptype)))


def encode_disconnect(version, reason_code=0, props=None):
    _version(version)
    if version == 4:
        if reason_code or props:
            raise ValueError("a 3.1.1 DISCONNECT has no reason code or properties")
        return _DISCONNECT
    return _reason_only(0xE0, DISCONNECT, reason_code, props, DISCONNECT_CODES)


def encode_auth(reason_code=0, props=None):
    """AUTH exists in MQTT 5 only."""
    return _reason_only(0xF0, AUTH, reason_code, props, AUTH_CODES)


def encode(packet, version):
    """Any Packet (e.g. one the Decoder returned) back to bytes."""
    t = packet.type
    p = packet.props
    if t == PUBLISH:
        return encode_publish(version, packet.topic, packet.payload, packet.qos, packet.retain, packet.dup,
                              packet.pid, p)
    if PUBACK <= t <= PUBCOMP:
        return encode_ack(t, version, packet.pid, packet.reason_code, p)
    if t == CONNECT:
        return encode_connect(version, packet.client_id, packet.keepalive, packet.clean_start, packet.username,
                              packet.password, packet.will, p)
    if t == CONNACK:
        return encode_connack(version, packet.session_present, packet.reason_code, p)
    if t == SUBSCRIBE:
        return encode_subscribe(version, packet.pid, packet.topics, p)
    if t == SUBACK:
        return encode_suback(version, packet.pid, packet.reason_codes, p)
    if t == UNSUBSCRIBE:
        return encode_unsubscribe(version, packet.pid, packet.topics, p)
    if t == UNSUBACK:
        return encode_unsuback(version, packet.pid, packet.reason_codes or (), p)
    if t == PINGREQ:
        return _PINGREQ
    if t == PINGRESP:
        return _PINGRESP
    if t == DISCONNECT:
        return encode_disconnect(version, packet.reason_code, p)
    if t == AUTH:
        if version != 5:
            raise ValueError("AUTH needs MQTT 5")
        return encode_auth(packet.reason_code, p)
    raise ValueError("unknown packet type %r" % (t,))


def decode_all(data, version=4, server_side=False, max_packet_size=MAX_VARINT + 5):
    """Every packet in data (whole packets only): a convenience for tests and tools."""
    d = Decoder(version, max_packet_size, server_side)
    d.feed(data)
    out = []
    while True:
        p = d.next_packet()
        if p is None:
            if d.buffered():
                raise ProtocolError(0x81, "data ends inside a packet")
            return out
        out.append(p)
