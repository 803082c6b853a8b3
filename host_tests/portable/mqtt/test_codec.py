# The MQTT codec: every packet type both ways on 3.1.1 and 5.0, spec byte vectors,
# incremental decoding in any chunking, and every class of peer error mapped to the
# reason code we would send in DISCONNECT. Runs under CPython and MicroPython.
import binascii

from check import Rng, eq, raises
import mqttcodec as c
from lgmqtt.mqtt.wire import ProtocolError

HEAP = "2m"


def h(s):
    return binascii.unhexlify(s.replace(" ", ""))


def decode(data, version=4, server_side=False, max_packet_size=0x10000):
    d = c.Decoder(version, max_packet_size, server_side)
    d.feed(data)
    p = d.next_packet()
    if p is None:
        raise AssertionError("no packet decoded")
    eq(d.next_packet(), None, "trailing packet")
    eq(d.buffered(), 0, "bytes left over")
    return p


def perr(data, version=4, server_side=False, max_packet_size=0x10000):
    """Decode data expecting a ProtocolError; return its reason code."""
    d = c.Decoder(version, max_packet_size, server_side)
    d.feed(data)
    e = raises(ProtocolError, d.next_packet)
    # The error is final: the decoder keeps raising it.
    raises(ProtocolError, d.next_packet)
    d.feed(b"\xc0\x00")
    raises(ProtocolError, d.next_packet)
    return e.reason_code


# --- packets of every type ----------------------------------------------------------

def client_packets(v):
    """Client -> server packets (decoded server side)."""
    P = c.Packet
    props5 = {c.SESSION_EXPIRY_INTERVAL: 60, c.RECEIVE_MAXIMUM: 20, c.USER_PROPERTY: [("a", "1"), ("a", "2")],
              c.AUTHENTICATION_METHOD: "m", c.AUTHENTICATION_DATA: b"\x00\x01"}
    wprops = {c.WILL_DELAY_INTERVAL: 5, c.CONTENT_TYPE: "text/plain", c.CORRELATION_DATA: b"cd"}
    pp = (lambda d: d) if v == 5 else (lambda d: {})
    out = [
        P(c.CONNECT, proto_level=v, clean_start=True, keepalive=60, client_id="dev-1", props=pp(props5)),
        P(c.CONNECT, proto_level=v, clean_start=False, keepalive=0, client_id="", username="u\u00e9", password=b"p\x00w",
          will=c.Will("w/t", b"bye", 2, True, pp(wprops))),
        P(c.CONNECT, proto_level=v, clean_start=True, keepalive=65535, client_id="x", username="user",
          will=c.Will("t", b"", 0, False)),
        P(c.PUBLISH, topic="a/b", payload=b"", qos=0),
        P(c.PUBLISH, topic="\u00fcml/\u4e2d/\U0001F600", payload=b"\x00\xff" * 100, qos=1, pid=1, retain=True, dup=True,
          props=pp({c.PAYLOAD_FORMAT_INDICATOR: 1, c.MESSAGE_EXPIRY_INTERVAL: 3600, c.RESPONSE_TOPIC: "r",
                    c.CORRELATION_DATA: b"\x01", c.CONTENT_TYPE: "json", c.TOPIC_ALIAS: 3,
                    c.USER_PROPERTY: [("k", "v")]})),
        P(c.PUBLISH, topic="q2", payload=b"x" * 300, qos=2, pid=65535),
        P(c.SUBSCRIBE, pid=10, topics=[("a/+", 1), ("#", 2), ("s", 0)],
          props=pp({c.SUBSCRIPTION_IDENTIFIER: 268435455, c.USER_PROPERTY: [("x", "y")]})),
        P(c.UNSUBSCRIBE, pid=11, topics=["a/+", "#"], props=pp({c.USER_PROPERTY: [("x", "")]})),
        P(c.PINGREQ),
        P(c.DISCONNECT),
    ]
    out += acks(v)
    if v == 5:
        out += [
            P(c.PUBLISH, topic="", payload=b"aliased", qos=0, props={c.TOPIC_ALIAS: 1}),
            P(c.SUBSCRIBE, pid=12, topics=[("a", 0x2E), ("b", 0x1D)]),
            P(c.DISCONNECT, reason_code=0x04),
            P(c.DISCONNECT, reason_code=0x8E, props={c.REASON_STRING: "taken over", c.SESSION_EXPIRY_INTERVAL: 0}),
            P(c.AUTH),
            P(c.AUTH, reason_code=0x18, props={c.AUTHENTICATION_METHOD: "SCRAM", c.AUTHENTICATION_DATA: b"\x01\x02"}),
        ]
    return out


def acks(v):
    P = c.Packet
    out = []
    for t in (c.PUBACK, c.PUBREC, c.PUBREL, c.PUBCOMP):
        out.append(P(t, pid=1))
        out.append(P(t, pid=0xBEEF))
        if v == 5:
            code = 0x10 if t in (c.PUBACK, c.PUBREC) else 0x92
            out.append(P(t, pid=2, reason_code=code))
            out.append(P(t, pid=3, reason_code=code, props={c.REASON_STRING: "why", c.USER_PROPERTY: [("a", "b")]}))
            out.append(P(t, pid=4, props={c.REASON_STRING: "ok"}))
    return out


def server_packets(v):
    P = c.Packet
    pp = (lambda d: d) if v == 5 else (lambda d: {})
    out = [
        P(c.CONNACK, session_present=False, reason_code=0),
        P(c.CONNACK, session_present=True, reason_code=0, props=pp({
            c.SESSION_EXPIRY_INTERVAL: 7, c.RECEIVE_MAXIMUM: 5, c.MAXIMUM_QOS: 1, c.RETAIN_AVAILABLE: 0,
            c.MAXIMUM_PACKET_SIZE: 1024, c.ASSIGNED_CLIENT_IDENTIFIER: "auto-1", c.TOPIC_ALIAS_MAXIMUM: 10,
            c.REASON_STRING: "hi", c.USER_PROPERTY: [("s", "t")], c.WILDCARD_SUBSCRIPTION_AVAILABLE: 1,
            c.SUBSCRIPTION_IDENTIFIER_AVAILABLE: 1, c.SHARED_SUBSCRIPTION_AVAILABLE: 0, c.SERVER_KEEP_ALIVE: 30,
            c.RESPONSE_INFORMATION: "ri", c.SERVER_REFERENCE: "other:1883", c.AUTHENTICATION_METHOD: "m",
            c.AUTHENTICATION_DATA: b""})),
        P(c.CONNACK, session_present=False, reason_code=5 if v == 4 else 0x87),
        P(c.PUBLISH, topic="t", payload=b"m", qos=1, pid=9, props=pp({c.SUBSCRIPTION_IDENTIFIER: [1, 300]})),
        P(c.SUBACK, pid=10, reason_codes=[0, 1, 2, 0x80]),
        P(c.UNSUBACK, pid=11, reason_codes=[0x00, 0x11] if v == 5 else []),
        P(c.PINGRESP),
    ]
    out += acks(v)
    if v == 5:
        out += [
            P(c.SUBACK, pid=12, reason_codes=[0x97, 0xA2], props={c.REASON_STRING: "no"}),
            P(c.DISCONNECT, reason_code=0x9C, props={c.SERVER_REFERENCE: "b:1883"}),
            P(c.AUTH, reason_code=0x19),
        ]
    return out


def test_round_trip_every_type_both_versions():
    seen = set()
    for v in (4, 5):
        for server_side, packets in ((True, client_packets(v)), (False, server_packets(v))):
            for p in packets:
                data = c.encode(p, v)
                q = decode(bytes(data), v, server_side)
                eq(q, p, "v%d %r" % (v, p))
                # (MicroPython dicts are unordered: compare re-encoded bytes by content.)
                again = bytes(c.encode(q, v))
                eq(len(again), len(data))
                eq(decode(again, v, server_side), p, "re-encode")
                seen.add(p.type)
    eq(sorted(seen), list(range(1, 16)))


def test_spec_byte_vectors():
    # MQTT 3.1.1 section 3.1.2.10 / 5.0 section 3.1.2.11 CONNECT variable headers.
    w = c.Will("t", b"", 1, False)
    b = bytes(c.encode_connect(4, "", 10, True, "u", b"p", w))
    eq(b[2:12], h("00 04 4d 51 54 54 04 ce 00 0a"))
    w5 = c.Will("t", b"", 1, False)
    b = bytes(c.encode_connect(5, "", 10, True, "u", b"p", w5, {c.SESSION_EXPIRY_INTERVAL: 10}))
    eq(b[2:18], h("00 04 4d 51 54 54 05 ce 00 0a 05 11 00 00 00 0a"))
    # 3.1.1 section 3.3.2.3: PUBLISH variable header, topic "a/b", packet id 10.
    eq(bytes(c.encode_publish(4, "a/b", b"", 1, pid=10)), h("32 07 00 03 61 2f 62 00 0a"))
    eq(bytes(c.encode_pingreq()), h("c0 00"))
    eq(bytes(c.encode_pingresp()), h("d0 00"))
    eq(bytes(c.encode_disconnect(4)), h("e0 00"))
    eq(bytes(c.encode_disconnect(5)), h("e0 00"))
    eq(bytes(c.encode_disconnect(5, 0x04)), h("e0 01 04"))
    eq(bytes(c.encode_auth()), h("f0 00"))
    eq(bytes(c.encode_ack(c.PUBREL, 4, 1)), h("62 02 00 01"))
    eq(bytes(c.encode_ack(c.PUBACK, 5, 1)), h("40 02 00 01"))  # 0, no props: 2 bytes
    eq(bytes(c.encode_ack(c.PUBACK, 5, 1, 0x10)), h("40 03 00 01 10"))
    eq(bytes(c.encode_connack(4, True, 0)), h("20 02 01 00"))
    eq(bytes(c.encode_connack(5, False, 0x86)), h("20 03 00 86 00"))
    eq(bytes(c.encode_subscribe(4, 1, [("a/b", 1)])), h("82 08 00 01 00 03 61 2f 62 01"))
    eq(bytes(c.encode_subscribe(5, 1, [("a", 0x2D)])), h("82 07 00 01 00 00 01 61 2d"))
    eq(bytes(c.encode_unsubscribe(4, 2, ["a"])), h("a2 05 00 02 00 01 61"))
    eq(bytes(c.encode_suback(4, 1, [0, 0x80])), h("90 04 00 01 00 80"))
    eq(bytes(c.encode_unsuback(4, 1)), h("b0 02 00 01"))
    eq(bytes(c.encode_unsuback(5, 1, [0x11])), h("b0 04 00 01 00 11"))
    # Section 1.5.5 UTF-8 example: "A\U0002A6D4" is 41 F0 AA 9B 94 on the wire.
    p = decode(h("30 0a 00 05 41 f0 aa 9b 94 68 69 21"))
    eq(p.topic, "A\U0002A6D4")
    eq(p.payload, b"hi!")
    # A 3.1.1-only broker refuses a 5.0 CONNECT with a 2-byte CONNACK, return code 1.
    eq(decode(h("20 02 00 01"), 5).reason_code, 1)


def test_varint_edges():
    vectors = ((0, "00"), (127, "7f"), (128, "8001"), (16383, "ff7f"), (16384, "808001"), (2097151, "ffff7f"),
               (2097152, "80808001"), (268435455, "ffffff7f"))
    for n, hx in vectors:
        eq(c.encode_varint(n), h(hx), str(n))
        eq(c.read_varint(h(hx), 0, len(hx) // 2), (n, len(hx) // 2))
        eq(c.packet_size(n), 1 + len(hx) // 2 + n)
    raises(ValueError, c.encode_varint, 268435456)
    raises(ValueError, c.encode_varint, -1)
    eq(raises(ProtocolError, c.read_varint, h("ffffffff7f"), 0, 5).reason_code, 0x81)
    eq(raises(ProtocolError, c.read_varint, h("ff"), 0, 1).reason_code, 0x81)
    eq(raises(ProtocolError, c.read_varint, h("8000"), 0, 2).reason_code, 0x81)  # not shortest form
    # In a fixed header: a 5-byte remaining length, and a non-minimal one.
    eq(perr(h("30 ff ff ff ff 7f"), max_packet_size=1 << 30), 0x81)
    eq(perr(h("d0 80 00")), 0x81)
    # Remaining lengths at each varint width go through the decoder whole.
    for size in (127, 128, 16383, 16384):
        payload = b"z" * (size - 3)
        data = bytes(c.encode_publish(4, "t", payload))
        eq(len(data), 1 + c.varint_size(size) + size)
        eq(decode(data).payload, payload)


def test_incremental_any_chunking():
    stream = b"".join(bytes(c.encode(p, 5)) for p in server_packets(5))
    want = [decode(bytes(c.encode(p, 5)), 5) for p in server_packets(5)]
    rng = Rng(12345)
    for mode in range(12):
        d = c.Decoder(5)
        got = []
        i = 0
        while i < len(stream):
            if mode == 0:
                k = 1
            elif mode == 1:
                k = len(stream)
            else:
                k = 1 + rng.below(40 if mode < 8 else 600)
            chunk = stream[i:i + k]
            # bytes, bytearray and memoryview chunks all work, any way split
            d.feed(chunk if mode % 3 == 0 else bytearray(chunk) if mode % 3 == 1 else memoryview(bytearray(chunk)))
            i += k
            while True:
                p = d.next_packet()
                if p is None:
                    break
                got.append(p)
        eq(len(got), len(want), "mode %d" % mode)
        for a, b in zip(got, want):
            eq(a, b)
        eq(d.buffered(), 0)


def test_reused_feed_buffer_is_copied():
    # A caller that reads into one bytearray and feeds it must not see packets change.
    buf = bytearray(c.encode_publish(4, "a", b"first"))
    d = c.Decoder()
    d.feed(buf)
    buf[:] = c.encode_publish(4, "b", b"other")
    eq(d.next_packet().payload, b"first")


def test_version_switch_applies_to_queued_packets():
    # CONNACK and a PUBLISH in one read: the PUBLISH must be parsed as 5.0 once set.
    d = c.Decoder(4)
    d.feed(bytes(c.encode_connack(5, False, 0, {c.MAXIMUM_QOS: 1})) +
           bytes(c.encode_publish(5, "t", b"x", props={c.CONTENT_TYPE: "a"})))
    eq(d.next_packet().props, {c.MAXIMUM_QOS: 1})
    d.version = 5
    eq(d.next_packet().props, {c.CONTENT_TYPE: "a"})


def test_server_side_takes_version_from_connect():
    d = c.Decoder(4, server_side=True)
    d.feed(bytes(c.encode_connect(5, "c", 1)) + bytes(c.encode_publish(5, "t", b"x")))
    eq(d.next_packet().proto_level, 5)
    eq(d.version, 5)
    eq(d.next_packet().props, {})


def test_max_packet_size_checked_from_fixed_header():
    d = c.Decoder(4, max_packet_size=1024)
    d.feed(h("30 ff ff ff 7f"))  # announces 268 MB: refused before any body arrives
    e = raises(ProtocolError, d.next_packet)
    eq(e.reason_code, 0x95)
    eq(d.buffered(), 0)
    # The limit counts the fixed header: 1024 bytes in all passes, 1025 does not.
    ok = bytes(c.encode_publish(4, "t", b"a" * (1024 - 3 - 3)))
    eq(len(ok), 1024)
    eq(decode(ok, max_packet_size=1024).topic, "t")
    big = bytes(c.encode_publish(4, "t", b"a" * (1025 - 3 - 3)))
    eq(perr(big[:3], max_packet_size=1024), 0x95)
    # Good packets before the oversized one are still delivered, then the error.
    d = c.Decoder(4, max_packet_size=1024)
    d.feed(bytes(c.encode_pingresp()) + big)
    eq(d.next_packet().type, c.PINGRESP)
    eq(raises(ProtocolError, d.next_packet).reason_code, 0x95)


def test_partial_body_buffer_bounded():
    d = c.Decoder(4, max_packet_size=300)
    data = bytes(c.encode_publish(4, "t", b"q" * 290))
    for i in range(len(data) - 1):
        d.feed(data[i:i + 1])
        assert d.buffered() <= 300
        eq(d.next_packet(), None)
    d.feed(data[-1:])
    eq(d.next_packet().payload, b"q" * 290)
    eq(d.buffered(), 0)


# --- peer errors --------------------------------------------------------------------

def test_reserved_flags_and_qos():
    eq(perr(h("41 02 00 01")), 0x81)  # PUBACK flags must be 0
    eq(perr(h("60 02 00 01")), 0x81)  # PUBREL flags must be 2
    eq(perr(h("63 02 00 01")), 0x81)
    eq(perr(h("d1 00")), 0x81)  # PINGRESP
    eq(perr(h("80 06 00 01 00 01 61 00"), server_side=True), 0x81)  # SUBSCRIBE flags must be 2
    eq(perr(h("a0 05 00 01 00 01 61"), server_side=True), 0x81)  # UNSUBSCRIBE
    eq(perr(h("36 05 00 01 61 00 01")), 0x81)  # PUBLISH QoS 3
    eq(perr(h("38 03 00 01 61")), 0x81)  # DUP with QoS 0
    eq(perr(h("21 02 00 00")), 0x81)  # CONNACK flags
    eq(perr(h("20 02 02 00")), 0x81)  # CONNACK reserved ack flag bits
    eq(perr(h("00 00")), 0x81)  # reserved packet type 0
    eq(perr(h("f0 00"), 4), 0x81)  # AUTH does not exist in 3.1.1


def test_wrong_direction_is_protocol_error():
    for data in (bytes(c.encode_connect(4, "x", 0)), bytes(c.encode_subscribe(4, 1, [("a", 0)])),
                 bytes(c.encode_unsubscribe(4, 1, ["a"])), bytes(c.encode_pingreq())):
        eq(perr(data, 4), 0x82)
    for data in (bytes(c.encode_connack(4, False, 0)), bytes(c.encode_suback(4, 1, [0])),
                 bytes(c.encode_unsuback(4, 1)), bytes(c.encode_pingresp())):
        eq(perr(data, 4, server_side=True), 0x82)
    eq(perr(h("e0 00"), 4), 0x82)  # a 3.1.1 server never sends DISCONNECT
    eq(decode(h("e0 00"), 5).type, c.DISCONNECT)


def test_body_must_be_consumed_exactly():
    eq(perr(h("40 03 00 01 00"), 4), 0x81)  # 3.1.1 PUBACK with a reason byte
    eq(perr(h("40 01 00")), 0x81)
    eq(perr(h("d0 01 00")), 0x81)
    eq(perr(h("b0 03 00 01 00"), 4), 0x81)
    eq(perr(h("30 04 00 05 61 62")), 0x81)  # topic longer than the packet
    eq(perr(h("40 04 00 01 00 05"), 5), 0x81)  # property length past the end
    eq(perr(h("40 06 00 01 00 01 1f 00"), 5), 0x81)  # property block longer than declared
    eq(perr(h("20 06 00 00 02 24 01 00"), 5), 0x81)  # byte after the property block


def test_utf8_validation():
    bad = ("ed a0 80",  # surrogate U+D800
           "ed bf bf",  # surrogate U+DFFF
           "c0 80",  # overlong U+0000
           "c1 bf",  # overlong
           "e0 80 80",  # overlong 3-byte
           "f0 80 80 80",  # overlong 4-byte
           "f4 90 80 80",  # past U+10FFFF
           "f5 80 80 80",
           "ff", "80", "c3", "e2 82", "c3 41",
           "00")  # U+0000 is valid UTF-8 but not allowed in MQTT
    for hx in bad:
        s = h(hx)
        pkt = bytes((0x30, 2 + 2 + len(s) + 1, 0, 2 + len(s))) + b"a/" + s + b"p"
        eq(perr(pkt), 0x81, hx)
        body = h("00 01 00") + bytes((0, len(s))) + s + b"\x00"
        eq(perr(bytes((0x82, len(body))) + body, 5, server_side=True), 0x81, hx)
    # Valid multi-byte strings at each width decode.
    for s in ("\u00e9", "\u0800", "\uffff", "\U00010000", "\U0010FFFF", "\ud7ff", "\ue000"):
        eq(decode(bytes(c.encode_publish(4, s, b""))).topic, s)
    # A bad user property key in a 5.0 packet too.
    eq(perr(h("40 0b 00 01 00 07 26 00 01 ed 00 01 61"), 5), 0x81)


def test_packet_identifier_zero():
    eq(perr(h("40 02 00 00")), 0x82)
    eq(perr(h("32 05 00 01 61 00 00")), 0x82)
    eq(perr(h("82 06 00 00 00 01 61 00"), server_side=True), 0x82)


def test_properties_duplicate_and_not_allowed():
    # Duplicate REASON_STRING in a PUBACK: protocol error.
    eq(perr(h("40 0b 00 01 10 07 1f 00 01 61 1f 00 00"), 5), 0x82)
    # User property may repeat; a PUBLISH's subscription identifier may repeat.
    p = decode(h("40 11 00 01 10 0d 26 00 01 61 00 00 26 00 01 61 00 01 62"), 5)
    eq(p.props[c.USER_PROPERTY], [("a", ""), ("a", "b")])
    p = decode(h("30 08 00 01 74 04 0b 01 0b 02"), 5)
    eq(p.props[c.SUBSCRIPTION_IDENTIFIER], [1, 2])
    # ... but not in a SUBSCRIBE.
    eq(perr(h("82 0b 00 01 04 0b 01 0b 02 00 01 61 00"), 5, server_side=True), 0x82)
    # A client's PUBLISH carries no subscription identifier.
    eq(perr(h("30 06 00 01 74 02 0b 01"), 5, server_side=True), 0x82)
    # Topic alias in a PUBACK is not allowed there: malformed. Unknown id 0x7F too.
    eq(perr(h("40 07 00 01 10 03 23 00 01"), 5), 0x81)
    eq(perr(h("40 06 00 01 10 02 7f 00"), 5), 0x81)
    # Will properties are checked against the will's list, not CONNECT's.
    cn = bytes(c.encode_connect(5, "c", 0, will=c.Will("w", b"", 0, False, {c.WILL_DELAY_INTERVAL: 1})))
    eq(decode(cn, 5, True).will.props, {c.WILL_DELAY_INTERVAL: 1})
    eq(perr(cn.replace(h("05 18 00 00 00 01"), h("05 11 00 00 00 01")), 5, True), 0x81)


def test_property_values():
    eq(perr(h("30 07 00 01 74 02 01 02 78"), 5), 0x82)  # payload format indicator 2
    eq(perr(h("30 07 00 01 74 03 23 00 00"), 5), 0x82)  # topic alias 0
    eq(perr(h("30 06 00 01 74 02 0b 00"), 5), 0x82)  # subscription identifier 0
    eq(perr(h("20 06 00 00 03 21 00 00"), 5), 0x82)  # receive maximum 0
    eq(perr(h("20 05 00 00 02 24 02"), 5), 0x82)  # maximum QoS 2
    eq(perr(h("30 05 00 00 02 01 00"), 5), 0x82)  # empty topic without alias
    eq(perr(h("30 03 00 00 00"), 4), 0x82)  # empty topic on 3.1.1


def test_reason_codes_checked():
    eq(perr(h("40 03 00 01 92"), 5), 0x82)  # 0x92 is a PUBREL/PUBCOMP code, not PUBACK's
    eq(perr(h("70 03 00 01 10"), 5), 0x82)
    eq(perr(h("90 03 00 01 03")), 0x82)  # 3.1.1 SUBACK code 3
    eq(perr(h("90 04 00 01 00 03"), 5), 0x82)
    eq(perr(h("20 02 00 06")), 0x82)  # 3.1.1 CONNACK return code 6
    eq(perr(h("20 03 00 06 00"), 5), 0x82)
    eq(perr(h("e0 01 01"), 5), 0x82)
    eq(perr(h("f0 01 01"), 5), 0x82)
    eq(perr(h("90 03 00 01 00"), 5), 0x82)  # 5.0 SUBACK with no reason codes
    eq(perr(h("b0 03 00 01 00"), 5), 0x82)


def test_subscribe_checks():
    eq(perr(h("82 02 00 01"), 4, True), 0x82)  # no topic filters
    eq(perr(h("a2 02 00 01"), 4, True), 0x82)
    eq(perr(h("82 06 00 01 00 01 61 04"), 4, True), 0x81)  # 3.1.1: only QoS bits
    eq(perr(h("82 07 00 01 00 00 01 61 40"), 5, True), 0x81)  # 5.0: bits 6-7 reserved
    eq(perr(h("82 07 00 01 00 00 01 61 03"), 5, True), 0x81)  # QoS 3
    eq(perr(h("82 07 00 01 00 00 01 61 30"), 5, True), 0x82)  # retain handling 3
    eq(perr(h("82 05 00 01 00 01 61"), 4, True), 0x81)  # options byte missing


def test_connect_checks():
    good = bytes(c.encode_connect(4, "c", 0, username="u", password=b"p"))
    eq(decode(good, 4, True).password, b"p")
    eq(perr(good.replace(b"MQTT", b"MQTX"), 4, True), 0x84)
    eq(perr(good.replace(b"MQTT\x04", b"MQTT\x03"), 4, True), 0x84)
    flags_at = 9
    for flags, code in ((0xC3, 0x81),  # reserved bit
                        (0xDA, 0x81),  # will QoS 3 with will... (0x18 | 0x04 missing -> will flags without will)
                        (0x40 | 0x02, 0x82)):  # password without user name (3.1.1)
        bad = bytearray(good)
        bad[flags_at] = flags
        eq(perr(bytes(bad), 4, True), code, hex(flags))
    bad = bytearray(c.encode_connect(4, "c", 0, will=c.Will("w", b"", 1, False)))
    bad[flags_at] |= 0x18
    eq(perr(bytes(bad), 4, True), 0x81)
    # 5.0 allows a password without a user name.
    eq(decode(bytes(c.encode_connect(5, "c", 0, password=b"tok")), 5, True).password, b"tok")


def test_truncated_packets_are_malformed():
    rng = Rng(7)
    for v, server_side, packets in ((4, True, client_packets(4)), (5, True, client_packets(5)),
                                    (4, False, server_packets(4)), (5, False, server_packets(5))):
        for p in packets:
            data = bytearray(c.encode(p, v))
            if len(data) <= 2 or data[1] > 0x7F:
                continue
            # Claim a shorter remaining length: the body is cut somewhere.
            cut = 1 + rng.below(data[1])
            short = bytes((data[0], data[1] - cut)) + bytes(data[2:len(data) - cut])
            d = c.Decoder(v, server_side=server_side)
            d.feed(short)
            try:
                q = d.next_packet()
            except ProtocolError as e:
                assert e.reason_code in (0x81, 0x82, 0x84), hex(e.reason_code)
                continue
            # Some cuts still give a valid packet (e.g. a shorter payload).
            assert q is not None and q.type == p.type


# --- caller errors ------------------------------------------------------------------

def test_encoder_argument_errors():
    bad = (
        (c.encode_publish, (4, "t", b"", 1), {"pid": 65536}),  # (pid 0 is the session's placeholder: Session.publish_packet)
        (c.encode_publish, (4, "t", b"", 1), {}),
        (c.encode_publish, (4, "t", b"", 3), {"pid": 1}),
        (c.encode_publish, (4, "t", b""), {"pid": 1}),
        (c.encode_publish, (4, "t", b""), {"dup": True}),
        (c.encode_publish, (4, "t", 5), {}),
        (c.encode_publish, (4, "", b""), {}),
        (c.encode_publish, (5, "", b""), {}),
        (c.encode_publish, (4, "t" * 65536, b""), {}),
        (c.encode_publish, (4, "\u00e9" * 32768, b""), {}),  # 65536 bytes in UTF-8
        (c.encode_publish, (4, "a\x00b", b""), {}),
        (c.encode_publish, (4, "a\ud800", b""), {}),
        (c.encode_publish, (4, b"t", b""), {}),
        (c.encode_publish, (6, "t", b""), {}),
        (c.encode_publish, (4, "t", b""), {"props": {c.CONTENT_TYPE: "x"}}),
        (c.encode_publish, (5, "t", b""), {"props": {c.SESSION_EXPIRY_INTERVAL: 1}}),
        (c.encode_publish, (5, "t", b""), {"props": {0x7F: 1}}),
        (c.encode_publish, (5, "t", b""), {"props": {c.TOPIC_ALIAS: 0}}),
        (c.encode_publish, (5, "t", b""), {"props": {c.PAYLOAD_FORMAT_INDICATOR: 2}}),
        (c.encode_publish, (5, "t", b""), {"props": {c.MESSAGE_EXPIRY_INTERVAL: 1 << 32}}),
        (c.encode_publish, (5, "t", b""), {"props": {c.CONTENT_TYPE: b"bytes"}}),
        (c.encode_publish, (5, "t", b""), {"props": {c.CORRELATION_DATA: 5}}),
        (c.encode_publish, (5, "t", b""), {"props": {c.USER_PROPERTY: [("k",)]}}),
        (c.encode_publish, (5, "t", b""), {"props": {c.USER_PROPERTY: [("k", 1)]}}),
        (c.encode_publish, (5, "t", b""), {"props": {c.SUBSCRIPTION_IDENTIFIER: 268435456}}),
        (c.encode_ack, (c.PUBACK, 4, 0), {}),
        (c.encode_ack, (c.PUBACK, 4, 1, 0x10), {}),
        (c.encode_ack, (c.PUBACK, 5, 1, 0x92), {}),
        (c.encode_ack, (c.SUBACK, 5, 1), {}),
        (c.encode_ack, (c.PUBACK, 5, 65536), {}),
        (c.encode_subscribe, (4, 1, []), {}),
        (c.encode_subscribe, (4, 1, "a/b"), {}),
        (c.encode_subscribe, (4, 1, [("a", 3)]), {}),
        (c.encode_subscribe, (4, 1, [("a", 4)]), {}),
        (c.encode_subscribe, (5, 1, [("a", 0x30)]), {}),
        (c.encode_subscribe, (5, 1, [("a", 0x40)]), {}),
        (c.encode_subscribe, (5, 1, [("", 0)]), {}),
        (c.encode_subscribe, (5, 1, ["a"]), {}),
        (c.encode_subscribe, (5, 1, [("a", 0)]), {"props": {c.SUBSCRIPTION_IDENTIFIER: [1, 2]}}),
        (c.encode_unsubscribe, (4, 1, []), {}),
        (c.encode_unsubscribe, (4, 1, [""]), {}),
        (c.encode_connect, (4, "c", 65536), {}),
        (c.encode_connect, (4, "c", -1), {}),
        (c.encode_connect, (4, 5, 0), {}),
        (c.encode_connect, (4, "c", 0), {"password": b"p"}),
        (c.encode_connect, (4, "c", 0), {"will": c.Will("w", b"", 3)}),
        (c.encode_connect, (4, "c", 0), {"will": c.Will("", b"")}),
        (c.encode_connect, (4, "c", 0), {"will": ("w", b"")}),
        (c.encode_connect, (5, "c", 0), {"will": c.Will("w", b"", 0, False, {c.SESSION_EXPIRY_INTERVAL: 1})}),
        (c.encode_connect, (5, "c", 0), {"props": {c.WILL_DELAY_INTERVAL: 1}}),
        (c.encode_connect, (5, "c", 0), {"password": b"p" * 65536}),
        (c.encode_connack, (4, False, 6), {}),
        (c.encode_connack, (5, False, 0x10), {}),
        (c.encode_suback, (4, 1, [0x87]), {}),
        (c.encode_suback, (5, 1, []), {}),
        (c.encode_unsuback, (4, 1, [0]), {}),
        (c.encode_unsuback, (5, 1, []), {}),
        (c.encode_disconnect, (4, 0x80), {}),
        (c.encode_disconnect, (5, 0x10), {}),
        (c.encode_auth, (0x01,), {}),
    )
    for fn, args, kw in bad:
        try:
            fn(*args, **kw)
        except ValueError:
            continue
        raise AssertionError("no ValueError from %s%r %r" % (fn.__name__, args[:3], kw))
    raises(ValueError, c.encode, c.Packet(c.AUTH), 4)
    raises(ValueError, c.Decoder, 3)


def test_encode_publish_accepts_buffers_and_str():
    for payload in (b"abc", bytearray(b"abc"), memoryview(b"xabc")[1:], "abc"):
        eq(decode(bytes(c.encode_publish(4, "t", payload))).payload, b"abc")


# --- names --------------------------------------------------------------------------

def test_reason_and_connack_names():
    eq(c.reason_name(0x87), "Not authorized")
    eq(c.reason_name(0x81), "Malformed Packet")
    eq(c.reason_name(0x95), "Packet too large")
    eq(c.reason_name(0), "Success")
    eq(c.reason_name(0, c.SUBACK), "Granted QoS 0")
    eq(c.reason_name(0, c.DISCONNECT), "Normal disconnection")
    eq(c.reason_name(0x05), "Unknown reason code 0x05")
    eq(c.connack_name(4, 0), "Connection Accepted")
    eq(c.connack_name(4, 4), "Connection Refused, bad user name or password")
    eq(c.connack_name(5, 0x86), "Bad User Name or Password")
    eq(c.connack_name(4, 9), "Unknown CONNACK return code 9")


def test_protocol_error_shape():
    e = c.ProtocolError(0x82, "boom")
    eq((e.reason_code, e.message), (0x82, "boom"))
    assert "0x82" in str(e) and "boom" in str(e)


def test_publish_topic_reuse_is_checked_per_topic():
    # encode_publish remembers the last topic it checked (an identity cache): the same
    # topic again, a different one, an empty one and a bad one must each come out as if
    # encoded afresh, and the packets it returned earlier must not change.
    t = "a/b"
    first = c.encode_publish(4, t, b"1", 1, pid=1)
    eq(bytes(c.encode_publish(4, t, b"1", 1, pid=1)), bytes(first))
    eq(bytes(c.encode_publish(4, "cd", b"")), h("30 04 00 02 63 64"))
    eq(bytes(c.encode_publish(5, t, b"")), h("30 06 00 03 61 2f 62 00"))
    for bad in ("", "x\x00y", 5):
        raises(c.CodecError, c.encode_publish, 4, bad, b"")
        eq(bytes(c.encode_publish(4, t, b"1", 1, pid=1)), bytes(first))  # the good one still encodes
    raises(c.CodecError, c.encode_publish, 5, "", b"")  # empty needs a topic alias, cached or not
    eq(bytes(first), h("32 08 00 03 61 2f 62 00 01 31"))
