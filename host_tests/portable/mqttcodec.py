# The whole MQTT layer under one name, for tests (both interpreters): packet types,
# property ids, the encoders of both sides, the Decoder, ProtocolError, reason names.
# The library itself imports each lgmqtt.mqtt module it needs, never this.
from lgmqtt.mqtt.wire import *  # noqa: F401,F403
from lgmqtt.mqtt.props import *  # noqa: F401,F403
from lgmqtt.mqtt.encode import *  # noqa: F401,F403
from lgmqtt.mqtt.decode import Decoder  # noqa: F401
from lgmqtt.mqtt.server import *  # noqa: F401,F403
from lgmqtt.mqtt.names import reason_name, connack_name, property_name, property_id  # noqa: F401


# Structural equality and a readable repr for Packet and Will, which the tests' asserts
# need and a board does not (in the library they cost about 2 KB of heap from .mpy):
# installed on the library's classes when a test imports this kit.
from lgmqtt.mqtt import wire as _wire  # noqa: E402

_ACK = ("pid", "reason_code", "props")
_FIELDS = (  # the attributes each packet type uses
    (),
    ("proto_level", "clean_start", "keepalive", "client_id", "username", "password", "will", "props"),
    ("session_present", "reason_code", "props"),
    ("topic", "payload", "qos", "retain", "dup", "pid", "props"),
    _ACK, _ACK, _ACK, _ACK,
    ("pid", "topics", "props"),
    ("pid", "reason_codes", "props"),
    ("pid", "topics", "props"),
    ("pid", "reason_codes", "props"),
    (), (),
    ("reason_code", "props"),
    ("reason_code", "props"),
)


def fields(p):
    """{attribute: value} of the attributes packet p's type uses."""
    names = _FIELDS[p.type] if 0 < p.type < 16 else ()
    return dict((n, getattr(p, n)) for n in names)


def _packet_eq(self, other):
    if not isinstance(other, _wire.Packet) or other.type != self.type:
        return False
    a, b = fields(self), fields(other)
    for k in ("payload", "password"):  # bytes, bytearray and memoryview compare by content
        if a.get(k) is not None:
            a[k] = bytes(a[k])
        if b.get(k) is not None:
            b[k] = bytes(b[k])
    return a == b


def _packet_repr(self):
    f = fields(self)
    return "Packet(%d, %s)" % (self.type, ", ".join("%s=%r" % (k, f[k]) for k in sorted(f)))


def _will_eq(self, other):
    return isinstance(other, _wire.Will) and (self.topic, bytes(self.payload), self.qos, bool(self.retain),
                                              self.props) == (other.topic, bytes(other.payload), other.qos,
                                                              bool(other.retain), other.props)


def _will_repr(self):
    return "Will(%r, %r, qos=%d, retain=%r, props=%r)" % (self.topic, self.payload, self.qos, self.retain, self.props)


_wire.Packet.__eq__ = _packet_eq
_wire.Packet.__ne__ = lambda self, other: not _packet_eq(self, other)
_wire.Packet.__repr__ = _packet_repr
_wire.Will.__eq__ = _will_eq
_wire.Will.__ne__ = lambda self, other: not _will_eq(self, other)
_wire.Will.__repr__ = _will_repr
