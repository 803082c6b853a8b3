# The broker's half of the MQTT codec, and helpers for tests and tools: encoders for
# the packets only a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP), a generic
# encode(packet), decode_all(), and the decoding of the packets only a client sends
# (CONNECT, SUBSCRIBE, UNSUBSCRIBE; the Decoder calls in here when server_side).
#
# A device client never imports this module (it is not frozen or deployed either); the
# client-side Decoder imports its parsers when a server-side decoder needs them.
from lgmqtt.mqtt.decode import Decoder
from lgmqtt.mqtt.encode import (
    encode_publish, encode_ack, encode_connect, encode_subscribe, encode_unsubscribe, encode_disconnect,
    encode_auth, _frame, _props, _u16, _version,
)
from lgmqtt.errors import INVALID_PARAMS, TOPIC_ERROR
from lgmqtt.compat import const
from lgmqtt.mqtt.wire import (
    CodecError,
    ProtocolError, Will, MAX_VARINT, UNSUPPORTED_VERSION, malformed, protocol_error, varint_size, read_u16,
    read_str, read_bin, read_pid, check_int, check_pid,
    CONNACK_CODES, SUBACK_CODES, SUBACK_CODES_V4, UNSUBACK_CODES,
)
from lgmqtt.mqtt.props import read_props
from lgmqtt.mqtt.wire import packet_name

_CONNECT = const(1)
_CONNACK = const(2)
_PUBLISH = const(3)
_PUBACK = const(4)
_PUBCOMP = const(7)
_SUBSCRIBE = const(8)
_SUBACK = const(9)
_UNSUBSCRIBE = const(10)
_UNSUBACK = const(11)
_PINGREQ = const(12)
_PINGRESP = const(13)
_DISCONNECT = const(14)
_AUTH = const(15)


def reason_name(code, packet_type=None):
    """0x87 -> "Not authorized" (MQTT 5 reason codes)."""
    from lgmqtt.mqtt.names import reason_name as name

    return name(code, packet_type)


def connack_name(version, code):
    """A CONNACK code's name: 3.1.1 return codes for version 4, else 5.0 reason codes."""
    from lgmqtt.mqtt.names import connack_name as name

    return name(version, code)


def packet_size(remaining_length):
    """Whole packet size (fixed header included) for a given remaining length."""
    return 1 + varint_size(remaining_length) + remaining_length


# ---- encoders for what a server sends ------------------------------------------------

def encode_connack(version, session_present, reason_code, props=None):
    _version(version)
    if version == 4:
        check_int(reason_code, 0, 5, "3.1.1 CONNACK return code")
    elif reason_code not in CONNACK_CODES:
        raise CodecError(INVALID_PARAMS, "0x%02X is not a CONNACK reason code" % (reason_code,))
    return _frame(0x20, (b"\x01" if session_present else b"\x00", bytes((reason_code,)),
                         _props(version, props, _CONNACK)))


def _codes(codes, allowed, what):
    for c in codes:
        if not isinstance(c, int) or c not in allowed:
            raise CodecError(INVALID_PARAMS, "%r is not a %s reason code" % (c, what))
    return bytes(codes)


def encode_suback(version, pid, reason_codes, props=None):
    _version(version)
    check_pid(pid)
    if not reason_codes:
        raise CodecError(TOPIC_ERROR, "SUBACK needs one reason code per topic filter")
    return _frame(0x90, (_u16(pid), _props(version, props, _SUBACK),
                         _codes(reason_codes, SUBACK_CODES if version == 5 else SUBACK_CODES_V4, "SUBACK")))


def encode_unsuback(version, pid, reason_codes=(), props=None):
    _version(version)
    check_pid(pid)
    if version == 4:
        if reason_codes:
            raise CodecError(INVALID_PARAMS, "a 3.1.1 UNSUBACK has no reason codes")
        return _frame(0xB0, (_u16(pid),))
    if not reason_codes:
        raise CodecError(TOPIC_ERROR, "a 5.0 UNSUBACK needs one reason code per topic filter")
    return _frame(0xB0, (_u16(pid), _props(version, props, _UNSUBACK),
                         _codes(reason_codes, UNSUBACK_CODES, "UNSUBACK")))


def encode_pingresp():
    return b"\xd0\x00"


def encode(packet, version):
    """Any Packet (e.g. one the Decoder returned) back to bytes."""
    t = packet.type
    p = packet.props
    if t == _PUBLISH:
        return encode_publish(version, packet.topic, packet.payload, packet.qos, packet.retain, packet.dup,
                              packet.pid, p)
    if _PUBACK <= t <= _PUBCOMP:
        return encode_ack(t, version, packet.pid, packet.reason_code, p)
    if t == _CONNECT:
        return encode_connect(version, packet.client_id, packet.keepalive, packet.clean_start, packet.username,
                              packet.password, packet.will, p)
    if t == _CONNACK:
        return encode_connack(version, packet.session_present, packet.reason_code, p)
    if t == _SUBSCRIBE:
        return encode_subscribe(version, packet.pid, packet.topics, p)
    if t == _SUBACK:
        return encode_suback(version, packet.pid, packet.reason_codes, p)
    if t == _UNSUBSCRIBE:
        return encode_unsubscribe(version, packet.pid, packet.topics, p)
    if t == _UNSUBACK:
        return encode_unsuback(version, packet.pid, packet.reason_codes or (), p)
    if t == _PINGREQ:
        return b"\xc0\x00"
    if t == _PINGRESP:
        return b"\xd0\x00"
    if t == _DISCONNECT:
        return encode_disconnect(version, packet.reason_code, p)
    if t == _AUTH:
        if version != 5:
            raise CodecError(INVALID_PARAMS, "AUTH needs MQTT 5")
        return encode_auth(packet.reason_code, p)
    raise CodecError(INVALID_PARAMS, "unknown packet type %r" % (t,))


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


# ---- decoding what a client sends (called by Decoder._parse) -----------------------------

def parse_topics(p, t, v, buf, pos, end):
    """The body of a SUBSCRIBE or UNSUBSCRIBE into p; returns the new position."""
    p.pid, pos = read_pid(buf, pos, end)
    if v == 5:
        p.props, pos = read_props(buf, pos, end, t)
    topics = []
    while pos < end:
        f, pos = read_str(buf, pos, end)
        if not f:
            raise protocol_error("empty topic filter in %s" % packet_name(t))
        if t == _SUBSCRIBE:
            if pos >= end:
                raise malformed("SUBSCRIBE topic filter without options")
            o = buf[pos]
            pos += 1
            if o & (0xC0 if v == 5 else 0xFC) or o & 3 == 3:
                raise malformed("invalid subscription options 0x%02X" % o)
            if o & 0x30 == 0x30:
                raise protocol_error("retain handling 3 is reserved")
            f = (f, o)
        topics.append(f)
    if not topics:
        raise protocol_error("%s without topic filters" % packet_name(t))
    p.topics = topics
    return pos


def parse_connect(dec, p, buf, pos, end):
    """The body of a CONNECT into p; sets the decoder's version from it."""
    name, pos = read_str(buf, pos, end)
    if pos + 4 > end:
        raise malformed("truncated CONNECT variable header")
    level = buf[pos]
    if name != "MQTT" or level not in (4, 5):
        raise ProtocolError(UNSUPPORTED_VERSION, "unsupported protocol %r level %d" % (name, level))
    flags = buf[pos + 1]
    p.keepalive, pos = read_u16(buf, pos + 2, end)
    if flags & 1:
        raise malformed("reserved CONNECT flag set")
    wqos = (flags >> 3) & 3
    if wqos == 3 or not flags & 4 and flags & 0x38:
        raise malformed("invalid will flags in CONNECT")
    if level == 4 and flags & 0xC0 == 0x40:
        raise protocol_error("3.1.1 CONNECT with a password but no user name")
    p.proto_level = level
    p.clean_start = flags & 2 != 0
    if level == 5:
        p.props, pos = read_props(buf, pos, end, _CONNECT)
    p.client_id, pos = read_str(buf, pos, end)
    if flags & 4:
        wprops = {}
        if level == 5:
            wprops, pos = read_props(buf, pos, end, 0)
        wtopic, pos = read_str(buf, pos, end)
        if not wtopic:
            raise protocol_error("empty will topic")
        wpayload, pos = read_bin(buf, pos, end)
        p.will = Will(wtopic, wpayload, wqos, flags & 0x20 != 0, wprops)
    if flags & 0x80:
        p.username, pos = read_str(buf, pos, end)
    if flags & 0x40:
        p.password, pos = read_bin(buf, pos, end)
    dec.version = level
    return pos
