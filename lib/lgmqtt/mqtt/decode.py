# Incremental MQTT packet decoder (3.1.1 and 5.0), sans-I/O: feed() bytes in any
# chunking, next_packet() returns whole packets. Import it from lgmqtt.mqtt.encode.
#
# Memory: feed() only splits the stream into frames. A frame that arrives whole in a
# `bytes` chunk is kept as a view of that chunk (no copy: bytes are immutable); one
# that arrives in a bytearray/memoryview (a buffer the caller may reuse) is copied;
# one that arrives in pieces is assembled in a bytearray allocated once at its exact
# size. The size is checked against max_packet_size as soon as the fixed header is
# complete, so an oversized packet is refused before any of its body is buffered.
# Frames are parsed lazily in next_packet() so that a version change (decoder.version
# = 5) applies to every packet not yet returned.
#
# Oversized packets: with `skip_oversize` set, a PUBLISH over max_packet_size is not an
# error but skipped: its bytes are read and dropped as they arrive (never buffered),
# keeping only the fixed header, up to SKIP_TOPIC bytes of the topic and the packet id,
# and next_packet() returns it as a Packet with `oversize` = its size and no payload
# (the session acknowledges it). Any other oversized packet is still a ProtocolError.
#
# Any ProtocolError is final: the connection must be closed (MQTT 5 section 4.13), so
# the decoder drops what it holds and raises the same error on every later call.
#
# Packets only a client sends (CONNECT, SUBSCRIBE, UNSUBSCRIBE) are parsed by
# codec_server, imported when a server-side decoder meets the first one: a device's
# decoder never loads that code.
from lgmqtt.mqtt.wire import (
    CodecError, packet_name,
    ProtocolError, Packet, malformed, protocol_error, read_pid, ack_codes, utf8_ok,
    CONNACK_CODES, SUBACK_CODES, SUBACK_CODES_V4, UNSUBACK_CODES, DISCONNECT_CODES, AUTH_CODES,
)
from lgmqtt.errors import INVALID_PARAMS
from lgmqtt.compat import MICROPYTHON, const


def read_props(buf, pos, end, ptype):
    # 5.0 only: a 3.1.1 client never loads the property code (lgmqtt.mqtt.props)
    from lgmqtt.mqtt.props import read_props as rp

    return rp(buf, pos, end, ptype)

_CONNECT = const(1)
_CONNACK = const(2)
_PUBLISH = const(3)
_PUBREL = const(6)
_SUBSCRIBE = const(8)
_SUBACK = const(9)
_UNSUBSCRIBE = const(10)
_UNSUBACK = const(11)
_DISCONNECT = const(14)
_AUTH = const(15)
_TOO_LARGE = const(0x95)
_SUBSCRIPTION_IDENTIFIER = const(0x0B)
_TOPIC_ALIAS = const(0x23)
SKIP_TOPIC = const(256)  # topic bytes kept of a skipped packet (for the report)

# A Packet without running __init__ (its **kw costs a dict per packet): the decoder's
# hot paths set the attributes __init__ would.
_new = object.__new__

def _ack(t, pid):
    # (a function of its own: one more local would give next_packet a heap-allocated
    # frame, and freeing that after every call makes MicroPython's next allocations
    # rescan the heap's garbage: 3-4x slower with a 2 MB heap)
    p = _new(Packet)
    p.type = t
    p.props = {}
    p.pid = pid
    return p


# Packet types each side may receive (bit 1 << type).
_FROM_SERVER = 0b1110101011111100  # CONNACK PUBLISH PUBACK..PUBCOMP SUBACK UNSUBACK PINGRESP DISCONNECT AUTH
_FROM_CLIENT = 0b1101010111111010  # CONNECT PUBLISH PUBACK..PUBCOMP SUBSCRIBE UNSUBSCRIBE PINGREQ DISCONNECT AUTH


class Decoder:
    def __init__(self, version=4, max_packet_size=0x10000, server_side=False):
        """version: 4 (3.1.1) or 5, settable later (decoder.version = 5).
        max_packet_size counts the whole packet, fixed header included (as MQTT 5).
        server_side: decode client->server packets (a broker's view); a server-side
        decoder takes the version from the CONNECT it decodes."""
        if version not in (4, 5):
            raise CodecError(INVALID_PARAMS, "MQTT version must be 4 (3.1.1) or 5, not %r" % (version,))
        if not isinstance(max_packet_size, int) or max_packet_size < 2:
            raise CodecError(INVALID_PARAMS, "max_packet_size must be an int >= 2")
        self.version = version
        self.max_packet_size = max_packet_size
        self.server_side = server_side
        self._hlen = 0  # fixed header bytes read so far (0: waiting for a packet)
        self._first = 0
        self._rl = 0
        self._body = None  # bytearray being filled with a body that came in pieces
        self._fill = 0
        self._frames = []  # whole packets not yet parsed: (first byte, buffer, start, end)
        self._error = None
        self.skip_oversize = False
        self._skip = None  # [left, pos, header end, topic length, topic bytes, pid, size] while skipping

    def buffered(self):
        """Bytes held for a packet still incomplete (never more than max_packet_size)."""
        return self._hlen + (len(self._body) if self._body is not None else 0)

    def feed(self, data):
        if self._error is not None:
            return
        n = len(data)
        keep = isinstance(data, bytes)
        frames = self._frames
        i = 0
        if not self._hlen and self._body is None and self._skip is None:
            # The common case, with plain locals: the chunk starts on a packet boundary
            # and holds whole packets with a 1-byte remaining length (every ack, a short
            # PUBLISH). Anything else (a longer length, a packet the chunk cuts, one
            # over max_packet_size) goes on in the byte-by-byte loop below from there.
            limit = self.max_packet_size - 2
            while i + 2 <= n:
                rl = data[i + 1]
                e = i + 2 + rl
                if rl & 0x80 or e > n or rl > limit:
                    break
                if keep:
                    frames.append((data[i], data, i + 2, e))
                else:
                    frames.append((data[i], bytes(data[i + 2:e]), 0, rl))
                i = e
            if i == n:
                return
        mv = memoryview(data)
        while i < n:
            if self._skip is not None:
                i = self._skipping(data, i, n)
                continue
            body = self._body
            if body is not None:
                f = self._fill
                k = min(n - i, len(body) - f)
                body[f:f + k] = mv[i:i + k]
                i += k
                f += k
                if f == len(body):
                    frames.append((self._first, body, 0, f))
                    self._body = None
                else:
                    self._fill = f
                continue
            b = data[i]
            i += 1
            h = self._hlen
            if h == 0:
                self._first = b
                self._rl = 0
                self._hlen = 1
                continue
            self._rl |= (b & 0x7F) << (7 * (h - 1))
            h += 1
            if b & 0x80:
                if h == 5:
                    return self._fail(malformed("remaining length longer than 4 bytes"))
                self._hlen = h
                continue
            if b == 0 and h > 2:
                return self._fail(malformed("remaining length not in its shortest form"))
            rl = self._rl
            self._hlen = 0
            if h + rl > self.max_packet_size:
                if self.skip_oversize and self._first >> 4 == _PUBLISH:
                    self._skip = [rl, 0, 2, 0, bytearray(), 0, h + rl, rl]
                    continue
                return self._fail(ProtocolError(_TOO_LARGE, "%s of %d bytes exceeds the maximum packet size %d" % (
                    packet_name(self._first >> 4), h + rl, self.max_packet_size)))
            if rl == 0:
                frames.append((self._first, b"", 0, 0))
            elif n - i >= rl:
                if keep:
                    frames.append((self._first, data, i, i + rl))
                else:
                    frames.append((self._first, bytes(mv[i:i + rl]), 0, rl))
                i += rl
            else:
                self._body = bytearray(rl)
                self._fill = 0

    def _skipping(self, data, i, n):
        # Discard up to the rest of the skipped packet from data[i:n]; the first bytes
        # (topic length, topic, packet id) are looked at one by one on their way past.
        sk = self._skip  # [left, pos, header end, topic length, topic, pid, size, body length]
        end = i + min(n - i, sk[0])
        sk[0] -= end - i
        pos = sk[1]
        qos = (self._first >> 1) & 3
        while i < end and pos < sk[2]:
            b = data[i]
            if pos < 2:
                sk[3] = (sk[3] << 8) | b
                if pos == 1:
                    sk[2] = 2 + sk[3] + (2 if qos else 0)
                    if sk[2] > sk[7]:
                        self._skip = None
                        self._fail(malformed("topic runs past the end of its packet"))
                        return n
            elif pos < 2 + sk[3]:
                if len(sk[4]) < SKIP_TOPIC:
                    sk[4].append(b)
            else:
                sk[5] = (sk[5] << 8) | b
            pos += 1
            i += 1
        sk[1] = pos + end - i
        if sk[0]:
            return end
        self._skip = None
        if qos == 3:
            self._fail(malformed("PUBLISH with QoS 3"))
            return n
        p = Packet(_PUBLISH)
        p.qos = qos
        p.dup = self._first & 8 != 0
        p.retain = self._first & 1 != 0
        p.pid = sk[5] if qos else None
        p.oversize = sk[6]
        if len(sk[4]) == sk[3]:  # the whole topic was kept
            try:
                p.topic = str(sk[4], "utf-8")
            except UnicodeError:
                pass
        self._frames.append((self._first, None, p, 0))
        return end

    def _fail(self, err):
        self._error = err
        self._body = None
        self._hlen = 0

    def next_packet(self):
        """The next whole packet, or None when more data is needed. Raises
        ProtocolError (and keeps raising it) when the peer broke the protocol."""
        if self._frames:
            first, buf, pos, end = self._frames.pop(0)
            if buf is None:  # a skipped packet, already a Packet
                return pos
            if end - pos == 2 and (first == 0x40 or first == 0x50 or first == 0x62 or first == 0x70):
                # the hot path of a QoS 1/2 flow: PUBACK, PUBREC, PUBREL or PUBCOMP with
                # just its packet id (valid both ways, both versions); an id of 0 takes
                # the general path, which refuses it
                if buf[pos] or buf[pos + 1]:
                    return _ack(first >> 4, (buf[pos] << 8) | buf[pos + 1])
            try:
                if first >> 4 == _PUBLISH:  # the hot path: valid both ways, both versions
                    return self._publish(first & 15, memoryview(buf), pos, end)
                return self._parse(first, memoryview(buf), pos, end)
            except ProtocolError as e:
                self._frames = []
                self._fail(e)
                raise
        if self._error is not None:
            raise self._error
        return None

    def _parse(self, first, buf, pos, end):
        t = first >> 4
        flags = first & 15
        v = self.version
        if t == 0 or (t == _AUTH and v == 4):
            raise malformed("reserved packet type %d" % t)
        if not (_FROM_CLIENT if self.server_side else _FROM_SERVER) & (1 << t) or (
                t == _DISCONNECT and v == 4 and not self.server_side):
            raise protocol_error("%s must not be sent by a %s" % (
                packet_name(t), "client" if self.server_side else "server"))
        if t == _PUBLISH:
            return self._publish(flags, buf, pos, end)
        if flags != (2 if t == _PUBREL or t == _SUBSCRIBE or t == _UNSUBSCRIBE else 0):
            raise malformed("reserved flags 0x%X in %s" % (flags, packet_name(t)))
        p = Packet(t)
        if t <= _PUBREL + 1:  # CONNECT, CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP
            if t == _CONNECT:
                from lgmqtt.mqtt.server import parse_connect

                pos = parse_connect(self, p, buf, pos, end)
            elif t == _CONNACK:
                pos = self._connack(p, buf, pos, end)
            else:
                p.pid, pos = read_pid(buf, pos, end)
                if v == 5 and pos < end:
                    pos = self._reason(p, buf, pos, end, ack_codes(t))
        elif t == _SUBSCRIBE or t == _UNSUBSCRIBE:
            from lgmqtt.mqtt.server import parse_topics

            pos = parse_topics(p, t, v, buf, pos, end)
        elif t == _SUBACK or t == _UNSUBACK:
            p.pid, pos = read_pid(buf, pos, end)
            if v == 5:
                p.props, pos = read_props(buf, pos, end, t)
            codes = [buf[i] for i in range(pos, end)]
            pos = end
            if t == _UNSUBACK and v == 4:
                if codes:
                    raise malformed("3.1.1 UNSUBACK longer than 2 bytes")
            else:
                if not codes:
                    raise protocol_error("%s without reason codes" % packet_name(t))
                allowed = UNSUBACK_CODES if t == _UNSUBACK else SUBACK_CODES if v == 5 else SUBACK_CODES_V4
                for c in codes:
                    if c not in allowed:
                        raise protocol_error("invalid %s reason code 0x%02X" % (packet_name(t), c))
            p.reason_codes = codes
        elif t == _DISCONNECT or t == _AUTH:
            if v == 5 and pos < end:
                pos = self._reason(p, buf, pos, end, DISCONNECT_CODES if t == _DISCONNECT else AUTH_CODES)
        # PINGREQ, PINGRESP and 3.1.1 DISCONNECT have no body
        if pos != end:
            raise malformed("%s has %d unexpected trailing bytes" % (packet_name(t), end - pos))
        return p

    def _reason(self, p, buf, pos, end, allowed):
        c = buf[pos]
        if c not in allowed:
            raise protocol_error("invalid %s reason code 0x%02X" % (packet_name(p.type), c))
        p.reason_code = c
        pos += 1
        if pos < end:
            p.props, pos = read_props(buf, pos, end, p.type)
        return pos

    def _publish(self, flags, buf, pos, end):
        body = pos
        qos = (flags >> 1) & 3
        if qos == 3:
            raise malformed("PUBLISH with QoS 3")
        if flags & 8 and not qos:
            raise malformed("PUBLISH with DUP set and QoS 0")
        p = _new(Packet)  # Packet(_PUBLISH) without __init__ and its **kw dict; type: the class's
        p.props = {}
        # qos 0, dup and retain False are the class's defaults: not stored again (each
        # attribute set on an instance grows its table)
        if qos:
            p.qos = qos
        if flags & 8:
            p.dup = True
        if flags & 1:
            p.retain = True
        # read_str inlined: a call costs more than the check on MicroPython
        if pos + 2 > end:
            raise malformed("truncated topic length")
        e = pos + 2 + ((buf[pos] << 8) | buf[pos + 1])
        if e > end:
            raise malformed("topic runs past the end of its packet")
        try:
            topic = str(buf[pos + 2:e], "utf-8")
        except UnicodeError:
            raise malformed("invalid UTF-8 string")
        if (MICROPYTHON and len(topic) != e - pos - 2 and not utf8_ok(buf, pos + 2, e)) or "\x00" in topic:
            raise malformed("invalid UTF-8 topic")
        p.topic = topic
        pos = e
        if qos:  # read_pid inlined
            if pos + 2 > end:
                raise malformed("truncated two byte integer")
            pid = (buf[pos] << 8) | buf[pos + 1]
            if not pid:
                raise protocol_error("packet identifier 0")
            p.pid = pid
            pos += 2
        if self.version == 5:
            if pos < end and not buf[pos]:  # no properties (the common case): no call
                pos += 1
            else:
                p.props, pos = read_props(buf, pos, end, _PUBLISH)
            if self.server_side and _SUBSCRIPTION_IDENTIFIER in p.props:
                raise protocol_error("a client's PUBLISH must not carry a subscription identifier")
            if not topic and _TOPIC_ALIAS not in p.props:
                raise protocol_error("PUBLISH with an empty topic and no topic alias")
        elif not topic:
            raise protocol_error("PUBLISH with an empty topic")
        p.payload = bytes(buf[pos:end])
        # the PUBLISH after its fixed header, as it arrived: what the history stores
        # (lgmqtt.store.records), its properties never re-encoded
        p.body = buf[body:end]
        return p

    def _connack(self, p, buf, pos, end):
        if end - pos < 2:
            raise malformed("CONNACK shorter than 2 bytes")
        if buf[pos] & 0xFE:
            raise malformed("reserved CONNACK flags 0x%02X" % buf[pos])
        p.session_present = buf[pos] == 1
        c = buf[pos + 1]
        pos += 2
        # The CONNACK's own length says its version: a 5.0 CONNACK has properties, and
        # a 3.1.1-only broker answers a 5.0 CONNECT with a 2-byte CONNACK (code 1).
        if pos < end:
            p.props, pos = read_props(buf, pos, end, _CONNACK)
            if c not in CONNACK_CODES:
                raise protocol_error("invalid CONNACK reason code 0x%02X" % c)
        else:
            if c > 5 and (self.version == 4 or c not in CONNACK_CODES):
                raise protocol_error("invalid CONNACK return code 0x%02X" % c)
            p.proto_level = 4  # a 3.1.1-shaped CONNACK: its code is a 3.1.1 return code
        p.reason_code = c
        return pos
