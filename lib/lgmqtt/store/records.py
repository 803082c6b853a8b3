# The message records of the ring log. A message is kept as the PUBLISH it travels as:
# a write is encoded once, and those bytes are what the outbox stores and the session
# sends; a received message is stored as the bytes it arrived in (its 5.0 properties are
# never re-encoded). A record's body:
#
#   version u8 (4 or 5) | the PUBLISH's first byte (QoS, RETAIN; DUP cleared) |
#   the PUBLISH after its fixed header: topic length u16 | topic | [packet id u16, QoS
#   1/2: 0 in the outbox, the session assigns one] | [5.0 properties] | payload
#
#   m = Message.of_packet(5, packet)          # from encode_publish(..., pid 0)
#   log.append(kind, m.parts())               # no copy of the payload
#   m = Message.of_record(kind, body)         # from a scan (copies the body)
#   m.topic(), m.qos, m.retain, m.payload(), m.props() (5.0: a dict, else None), m.packet()
#
# Records of lgmqtt 0.1 (their kinds are OLD_KINDS) kept topic, properties and payload
# in a format of their own; they are still read, and come out as the same Message.
from lgmqtt.compat import const

_V5_PROPS = const(8)  # the 0.1 format's flag: properties present


class Message:
    """One message as the log and the session see it: `first` and `body` are a PUBLISH
    without its remaining length. What is parsed from them is parsed on demand."""

    def __init__(self, version, first, body, oid=0, t=0):
        self.version = version
        self.first = first & 0xF7  # DUP is the session's business, per send
        self.body = body
        self.id = oid
        self.t = t
        self.qos = (first >> 1) & 3
        self.retain = first & 1 != 0
        p = 2 + ((body[0] << 8) | body[1])
        self._topic_end = p
        if self.qos:
            p += 2
        self._props_at = p
        if version == 5:  # the property block's length, a variable byte integer
            n = shift = 0
            while True:
                b = body[p]
                n |= (b & 0x7F) << shift
                p += 1
                shift += 7
                if not b & 0x80:
                    break
            p += n
        self._payload_at = p

    @staticmethod
    def of_packet(version, packet):
        """From an encoded PUBLISH (a view of it: no copy)."""
        i = 1
        while packet[i] & 0x80:
            i += 1
        return Message(version, packet[0], memoryview(packet)[i + 1:])

    @staticmethod
    def of_record(kind, body, oid=0, t=0):
        """From a log record's body (copied: a scan's body is only valid for one step)."""
        if kind in OLD_KINDS:
            return _old(body, oid, t)
        return Message(body[0], body[1], bytes(body[2:]), oid, t)

    def parts(self):
        return (bytes((self.version, self.first)), self.body)

    def size(self):
        """The record body's size."""
        return 2 + len(self.body)

    def topic(self):
        return str(bytes(self.body[2:self._topic_end]), "utf-8")

    def payload(self):
        return bytes(self.body[self._payload_at:])

    def props(self):
        """The 5.0 properties as a dict {id: value}, or None."""
        if self.version != 5 or self._payload_at - self._props_at < 2:
            return None
        from lgmqtt.mqtt.props import read_props

        return read_props(memoryview(self.body), self._props_at, self._payload_at, 3)[0] or None

    def packet(self):
        """The whole PUBLISH (a new bytearray: the session writes its packet id in)."""
        n = len(self.body)
        hl = 2 if n < 0x80 else 3 if n < 0x4000 else 4 if n < 0x200000 else 5
        pk = bytearray(hl + n)
        pk[0] = self.first
        i, v = 1, n
        while True:
            pk[i] = (v & 0x7F) | (0x80 if v > 0x7F else 0)
            v >>= 7
            i += 1
            if not v:
                break
        pk[hl:] = self.body
        return pk


def peek_topic(kind, body):
    """A record's topic as str, without copying its payload."""
    if kind in OLD_KINDS:
        return str(bytes(body[3:3 + ((body[1] << 8) | body[2])]), "utf-8")
    return str(bytes(body[4:4 + ((body[2] << 8) | body[3])]), "utf-8")


def is_retained(kind, body):
    return len(body) > 2 and bool(body[0] & 4 if kind in OLD_KINDS else body[1] & 1)


OLD_KINDS = b"\x10\x11\x12"  # lgmqtt.store.journal's K_OLD_RECEIVED, K_OLD_PUBLISHED, K_OLD_PENDING


def _old(body, oid, t):
    # 0.1: flags u8 (QoS bits 0-1, retain bit 2, properties bit 3) | topic len u16 |
    # topic | [properties len u16 | properties] | payload -> the same PUBLISH layout
    flags = body[0]
    e = 3 + ((body[1] << 8) | body[2])
    props = None
    if flags & _V5_PROPS:
        n = (body[e] << 8) | body[e + 1]
        props = bytes(body[e + 2:e + 2 + n])
        e += 2 + n
    qos = flags & 3
    out = bytearray(body[1:3 + (body[1] << 8 | body[2])])  # topic length and topic
    if qos:
        out += b"\x00\x00"
    if props is not None:
        out += props  # already a property block with its length
    out += body[e:]
    return Message(5 if props is not None else 4, 0x30 | (qos << 1) | (1 if flags & 4 else 0), bytes(out), oid, t)
