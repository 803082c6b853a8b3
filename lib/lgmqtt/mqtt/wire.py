# Wire primitives shared by the MQTT codec modules (codec, props, decoder): packet
# types, the Packet and Will shapes, ProtocolError, variable byte integers, UTF-8
# strings and the per-packet reason-code sets. Users import all of this from
# lgmqtt.mqtt.encode; this module exists only to keep each file under ~400 lines.
from lgmqtt.compat import MICROPYTHON, const
from lgmqtt.errors import INVALID_PARAMS, PAYLOAD_TOO_LARGE

CONNECT = const(1)
CONNACK = const(2)
PUBLISH = const(3)
PUBACK = const(4)
PUBREC = const(5)
PUBREL = const(6)
PUBCOMP = const(7)
SUBSCRIBE = const(8)
SUBACK = const(9)
UNSUBSCRIBE = const(10)
UNSUBACK = const(11)
PINGREQ = const(12)
PINGRESP = const(13)
DISCONNECT = const(14)
AUTH = const(15)

MAX_VARINT = const(268435455)  # largest remaining length / variable byte integer

MALFORMED = const(0x81)
PROTOCOL = const(0x82)
UNSUPPORTED_VERSION = const(0x84)
TOO_LARGE = const(0x95)

# Reason codes a packet type may carry (MQTT 5.0 section 2.4 and each packet's
# table). Bytes objects: `code in _X` is a C scan and costs no RAM per entry.
CONNACK_CODES = b"\x00\x80\x81\x82\x83\x84\x85\x86\x87\x88\x89\x8a\x8c\x90\x95\x97\x99\x9a\x9b\x9c\x9d\x9f"
PUBACK_CODES = b"\x00\x10\x80\x83\x87\x90\x91\x97\x99"  # PUBACK and PUBREC
PUBREL_CODES = b"\x00\x92"  # PUBREL and PUBCOMP
SUBACK_CODES = b"\x00\x01\x02\x80\x83\x87\x8f\x91\x97\x9e\xa1\xa2"
UNSUBACK_CODES = b"\x00\x11\x80\x83\x87\x8f\x91"
DISCONNECT_CODES = (b"\x00\x04\x80\x81\x82\x83\x87\x89\x8b\x8d\x8e\x8f\x90\x93\x94\x95\x96\x97\x98\x99\x9a"
                    b"\x9b\x9c\x9d\x9e\x9f\xa0\xa1\xa2")
AUTH_CODES = b"\x00\x18\x19"
SUBACK_CODES_V4 = b"\x00\x01\x02\x80"


_PACKET_NAMES = "Will CONNECT CONNACK PUBLISH PUBACK PUBREC PUBREL PUBCOMP SUBSCRIBE SUBACK UNSUBSCRIBE UNSUBACK " \
                "PINGREQ PINGRESP DISCONNECT AUTH"


def packet_name(ptype):
    return _PACKET_NAMES.split()[ptype] if 0 <= ptype < 16 else "type %d" % ptype


def ack_codes(ptype):
    return PUBACK_CODES if ptype <= PUBREC else PUBREL_CODES


class CodecError(ValueError):
    """The caller's arguments cannot make a valid packet; nothing was encoded. `.error`
    is its code in the one vocabulary (lgmqtt.errors: TOPIC_ERROR, QOS_ERROR,
    PAYLOAD_TOO_LARGE, INVALID_PARAMS), so no caller guesses it from the text. A
    ValueError: code that only cares that the input was bad can say so."""

    def __init__(self, error, message):
        super().__init__(message)
        self.error = error
        self.message = message


class ProtocolError(Exception):
    """The peer broke the protocol. `reason_code` is the MQTT 5 reason code to put in
    the DISCONNECT we send before closing (0x81 malformed, 0x82 protocol error,
    0x84 unsupported protocol version, 0x95 packet too large)."""

    def __init__(self, reason_code, message):
        super().__init__(reason_code, message)
        self.reason_code = reason_code
        self.message = message

    def __str__(self):
        return "MQTT protocol error 0x%02X: %s" % (self.reason_code, self.message)


def malformed(msg):
    return ProtocolError(MALFORMED, msg)


def protocol_error(msg):
    return ProtocolError(PROTOCOL, msg)


class Will:
    """The will message of a CONNECT."""

    def __init__(self, topic, payload=b"", qos=0, retain=False, props=None):
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.props = {} if props is None else props


# (Structural == and repr of Packet and Will are the tests' and live in their kit,
# host_tests/portable/mqttcodec.py: a board never compares packets, and those methods
# cost about 2 KB of heap when this module is loaded from .mpy.)
class Packet:
    """One decoded (or to-be-encoded) MQTT packet. One class for every type: the
    attributes a type does not use keep the class defaults below."""

    # Packet(type) always sets it; the default is for the decoder's PUBLISH, which skips
    # __init__ and so stores one attribute fewer per message (~0.07 us each on MicroPython)
    type = 3
    proto_level = 0
    clean_start = False
    keepalive = 0
    client_id = None
    username = None
    password = None
    will = None
    session_present = False
    reason_code = 0
    topic = None
    payload = None
    qos = 0
    retain = False
    dup = False
    pid = None
    topics = None
    reason_codes = None
    props = None
    oversize = 0  # a PUBLISH the decoder skipped: its size (no payload kept)
    body = None   # a decoded PUBLISH: its bytes after the fixed header (a view)

    def __init__(self, type, **kw):
        self.type = type
        self.props = {}
        for k in kw:
            setattr(self, k, kw[k])



# --- variable byte integers -------------------------------------------------------

def varint_size(n):
    return 1 if n < 0x80 else 2 if n < 0x4000 else 3 if n < 0x200000 else 4


def write_varint(buf, pos, n):
    """Write n (0..MAX_VARINT) as a variable byte integer at buf[pos]; return new pos."""
    while n > 0x7F:
        buf[pos] = (n & 0x7F) | 0x80
        n >>= 7
        pos += 1
    buf[pos] = n
    return pos + 1


def read_varint(buf, pos, end):
    """Read a variable byte integer from buf[pos:end] -> (value, new pos)."""
    n = 0
    shift = 0
    while shift < 28:
        if pos >= end:
            raise malformed("truncated variable byte integer")
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            if b == 0 and shift:
                raise malformed("variable byte integer not in its shortest form")
            return n, pos
        shift += 7
    raise malformed("variable byte integer longer than 4 bytes")


def encode_varint(n):
    if not isinstance(n, int) or n < 0 or n > MAX_VARINT:
        raise CodecError(PAYLOAD_TOO_LARGE, "variable byte integer out of range 0..268435455: %r" % (n,))
    buf = bytearray(varint_size(n))
    write_varint(buf, 0, n)
    return bytes(buf)


# --- fixed-size integers, UTF-8 strings, binary data --------------------------------

def read_u16(buf, pos, end):
    if pos + 2 > end:
        raise malformed("truncated two byte integer")
    return (buf[pos] << 8) | buf[pos + 1], pos + 2


def read_u32(buf, pos, end):
    if pos + 4 > end:
        raise malformed("truncated four byte integer")
    return (buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3], pos + 4


def read_pid(buf, pos, end):
    pid, pos = read_u16(buf, pos, end)
    if pid == 0:
        raise protocol_error("packet identifier 0")
    return pid, pos


def utf8_ok(buf, a, b):
    """Strict UTF-8 check of buf[a:b] (RFC 3629: no overlong forms, no surrogates,
    nothing past U+10FFFF). Only needed on MicroPython, whose str() accepts those."""
    i = a
    while i < b:
        c = buf[i]
        if c < 0x80:
            i += 1
            continue
        if c < 0xC2 or c > 0xF4:
            return False
        n = 1 if c < 0xE0 else 2 if c < 0xF0 else 3
        if i + n >= b:
            return False
        d = buf[i + 1]
        if d < 0x80 or d > 0xBF:
            return False
        if (c == 0xE0 and d < 0xA0) or (c == 0xED and d > 0x9F) or (c == 0xF0 and d < 0x90) or (c == 0xF4 and d > 0x8F):
            return False
        for j in range(i + 2, i + n + 1):
            if buf[j] < 0x80 or buf[j] > 0xBF:
                return False
        i += n + 1
    return True


def utf8(s):
    """str -> its UTF-8 bytes; ValueError when s holds a lone surrogate, on both
    interpreters (CPython cannot encode one; MicroPython encodes it, invalid)."""
    b = s.encode()  # CPython: UnicodeEncodeError, a ValueError
    if MICROPYTHON and len(b) != len(s) and not utf8_ok(b, 0, len(b)):
        raise CodecError(INVALID_PARAMS, "not valid Unicode (lone surrogate)")
    return b


def read_str(buf, pos, end):
    """A UTF-8 string at buf[pos:end] (buf: memoryview) -> (str, new pos)."""
    if pos + 2 > end:
        raise malformed("truncated string length")
    e = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    if e > end:
        raise malformed("string runs past the end of its packet")
    pos += 2
    try:
        s = str(buf[pos:e], "utf-8")
    except UnicodeError:
        raise malformed("invalid UTF-8 string")
    if MICROPYTHON and len(s) != e - pos and not utf8_ok(buf, pos, e):
        raise malformed("invalid UTF-8 string")
    if "\x00" in s:
        raise malformed("U+0000 in UTF-8 string")
    return s, e


def read_bin(buf, pos, end):
    if pos + 2 > end:
        raise malformed("truncated binary data length")
    e = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
    if e > end:
        raise malformed("binary data runs past the end of its packet")
    return bytes(buf[pos + 2:e]), e


def str_bytes(s, what, code=INVALID_PARAMS):
    """Caller's str -> its UTF-8 bytes, checked as MQTT wants (CodecError with `code`
    otherwise; a size is PAYLOAD_TOO_LARGE)."""
    if not isinstance(s, str):
        raise CodecError(code, "%s must be a str, not %s" % (what, type(s).__name__))
    try:
        b = s.encode()
    except UnicodeError:
        raise CodecError(code, "%s is not valid Unicode (lone surrogate)" % what)
    if len(b) > 0xFFFF:
        raise CodecError(PAYLOAD_TOO_LARGE, "%s is %d bytes in UTF-8, more than 65535" % (what, len(b)))
    if MICROPYTHON and len(b) != len(s) and not utf8_ok(b, 0, len(b)):
        raise CodecError(code, "%s is not valid Unicode (surrogate)" % what)
    if "\x00" in s:
        raise CodecError(code, "%s contains U+0000" % what)
    return b


def bin_bytes(v, what, limit=0xFFFF):
    t = type(v)
    if t is str:
        v = v.encode()
    elif t is not bytes and t is not bytearray and t is not memoryview and not isinstance(
            v, (bytes, bytearray, memoryview)):
        raise CodecError(INVALID_PARAMS, "%s must be bytes, not %s" % (what, type(v).__name__))
    if len(v) > limit:
        raise CodecError(PAYLOAD_TOO_LARGE, "%s is %d bytes, more than %d" % (what, len(v), limit))
    return v


def check_int(v, lo, hi, what):
    if not isinstance(v, int) or isinstance(v, bool) and hi > 1 or v < lo or v > hi:
        raise CodecError(INVALID_PARAMS, "%s must be an int in %d..%d, not %r" % (what, lo, hi, v))
    return v


def check_pid(pid):
    return check_int(pid, 1, 0xFFFF, "packet identifier")
