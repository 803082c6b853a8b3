# MQTT 5 properties: every property in every packet type, allowed or refused as the
# spec's table says (MQTT 5.0 section 2.2.2.2, written out again here rather than
# read from the code under test), wire-type limits, and the camelCase name table.
from check import eq, raises
import mqttcodec as c
from lgmqtt.mqtt import props as pr
from lgmqtt.mqtt.wire import ProtocolError

W = 0  # will properties
P = c
SPEC = {
    0x01: (W, P.PUBLISH),
    0x02: (W, P.PUBLISH),
    0x03: (W, P.PUBLISH),
    0x08: (W, P.PUBLISH),
    0x09: (W, P.PUBLISH),
    0x0B: (P.PUBLISH, P.SUBSCRIBE),
    0x11: (P.CONNECT, P.CONNACK, P.DISCONNECT),
    0x12: (P.CONNACK,),
    0x13: (P.CONNACK,),
    0x15: (P.CONNECT, P.CONNACK, P.AUTH),
    0x16: (P.CONNECT, P.CONNACK, P.AUTH),
    0x17: (P.CONNECT,),
    0x18: (W,),
    0x19: (P.CONNECT,),
    0x1A: (P.CONNACK,),
    0x1C: (P.CONNACK, P.DISCONNECT),
    0x1F: (P.CONNACK, P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP, P.SUBACK, P.UNSUBACK, P.DISCONNECT, P.AUTH),
    0x21: (P.CONNECT, P.CONNACK),
    0x22: (P.CONNECT, P.CONNACK),
    0x23: (P.PUBLISH,),
    0x24: (P.CONNACK,),
    0x25: (P.CONNACK,),
    0x26: (W, P.CONNECT, P.CONNACK, P.PUBLISH, P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP, P.SUBSCRIBE, P.SUBACK,
           P.UNSUBSCRIBE, P.UNSUBACK, P.DISCONNECT, P.AUTH),
    0x27: (P.CONNECT, P.CONNACK),
    0x28: (P.CONNACK,),
    0x29: (P.CONNACK,),
    0x2A: (P.CONNACK,),
}
WITH_PROPS = (W, P.CONNECT, P.CONNACK, P.PUBLISH, P.PUBACK, P.PUBREC, P.PUBREL, P.PUBCOMP, P.SUBSCRIBE, P.SUBACK,
              P.UNSUBSCRIBE, P.UNSUBACK, P.DISCONNECT, P.AUTH)
STRINGS = (0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F)
BINARY = (0x09, 0x16)


def sample(pid):
    if pid in STRINGS:
        return "s\u00e9"
    if pid in BINARY:
        return b"\x00\xff"
    if pid == 0x26:
        return [("k", "v"), ("k", "w")]
    return 1


def packet_with(ptype, props):
    """A packet of type ptype carrying props, and which side decodes it."""
    K = c.Packet
    if ptype == W:
        return K(c.CONNECT, proto_level=5, client_id="c", keepalive=0, clean_start=True,
                 will=c.Will("w", b"", 0, False, props)), True
    made = {
        c.CONNECT: lambda: (K(c.CONNECT, proto_level=5, client_id="c", keepalive=0, clean_start=True), True),
        c.CONNACK: lambda: (K(c.CONNACK, reason_code=0), False),
        c.PUBLISH: lambda: (K(c.PUBLISH, topic="t", payload=b"p", qos=1, pid=1), False),
        c.SUBSCRIBE: lambda: (K(c.SUBSCRIBE, pid=1, topics=[("t", 1)]), True),
        c.SUBACK: lambda: (K(c.SUBACK, pid=1, reason_codes=[1]), False),
        c.UNSUBSCRIBE: lambda: (K(c.UNSUBSCRIBE, pid=1, topics=["t"]), True),
        c.UNSUBACK: lambda: (K(c.UNSUBACK, pid=1, reason_codes=[0]), False),
        c.DISCONNECT: lambda: (K(c.DISCONNECT, reason_code=0x80), False),
        c.AUTH: lambda: (K(c.AUTH, reason_code=0x18), False),
    }
    if ptype in made:
        p, server_side = made[ptype]()
    else:
        p, server_side = K(ptype, pid=7, reason_code=0), False
    p.props = props
    return p, server_side


def roundtrip(p, server_side):
    d = c.Decoder(5, server_side=server_side)
    d.feed(bytes(c.encode(p, 5)))
    q = d.next_packet()
    eq(d.next_packet(), None)
    return q


def test_every_property_in_every_packet_type():
    for pid in SPEC:
        allowed = SPEC[pid]
        val = sample(pid)
        for ptype in WITH_PROPS:
            props = {pid: [val] if pid == 0x0B and ptype == c.PUBLISH else val}
            if ptype in allowed:
                block = pr.encode_props(props, ptype)
                got, end = pr.read_props(memoryview(block), 0, len(block), ptype)
                eq(end, len(block))
                eq(got, props, "%s in %s" % (c.property_name(pid), pr.packet_name(ptype)))
                p, server_side = packet_with(ptype, props)
                if pid == 0x0B and ptype == c.PUBLISH:
                    server_side = False
                q = roundtrip(p, server_side)
                eq(q, p)
            else:
                e = raises(ValueError, pr.encode_props, props, ptype)
                assert pr.packet_name(ptype) in str(e), str(e)
                # The same bytes arriving from a peer are a malformed packet.
                ok_type = allowed[0]
                block = pr.encode_props(props if pid != 0x0B or ok_type == c.PUBLISH else {pid: val}, ok_type)
                e = raises(ProtocolError, pr.read_props, memoryview(block), 0, len(block), ptype)
                eq(e.reason_code, 0x81)


def test_wire_type_limits():
    cases = (
        (c.MESSAGE_EXPIRY_INTERVAL, 0, 0xFFFFFFFF),
        (c.TOPIC_ALIAS, 1, 0xFFFF),
        (c.SUBSCRIPTION_IDENTIFIER, 1, 268435455),
        (c.PAYLOAD_FORMAT_INDICATOR, 0, 1),
    )
    for pid, lo, hi in cases:
        for v in (lo, hi):
            props = {pid: [v] if pid == 0x0B else v}
            block = pr.encode_props(props, c.PUBLISH)
            eq(pr.read_props(memoryview(block), 0, len(block), c.PUBLISH)[0], props)
        raises(ValueError, pr.encode_props, {pid: hi + 1}, c.PUBLISH)
        raises(ValueError, pr.encode_props, {pid: lo - 1}, c.PUBLISH)
        raises(ValueError, pr.encode_props, {pid: "1"}, c.PUBLISH)
    raises(ValueError, pr.encode_props, {c.MAXIMUM_QOS: 2}, c.CONNACK)
    raises(ValueError, pr.encode_props, {c.RECEIVE_MAXIMUM: 0}, c.CONNECT)
    raises(ValueError, pr.encode_props, {c.MAXIMUM_PACKET_SIZE: 0}, c.CONNECT)
    eq(pr.read_props(memoryview(pr.encode_props({c.SERVER_KEEP_ALIVE: 0}, c.CONNACK)), 0, 4, c.CONNACK)[0],
       {c.SERVER_KEEP_ALIVE: 0})
    # Strings and binary data up to 65535 bytes.
    big = "\u00e9" * 32767 + "x"
    block = pr.encode_props({c.CONTENT_TYPE: big, c.CORRELATION_DATA: b"\x01" * 65535}, c.PUBLISH)
    got = pr.read_props(memoryview(block), 0, len(block), c.PUBLISH)[0]
    eq(got[c.CONTENT_TYPE], big)
    eq(len(got[c.CORRELATION_DATA]), 65535)
    raises(ValueError, pr.encode_props, {c.CONTENT_TYPE: big + "x"}, c.PUBLISH)
    raises(ValueError, pr.encode_props, {c.CORRELATION_DATA: b"\x01" * 65536}, c.PUBLISH)
    # A property id is a variable byte integer on the wire: 2-byte forms are read
    # (and refused as unknown), never misparsed.
    e = raises(ProtocolError, pr.read_props, memoryview(b"\x03\x80\x01\x00"), 0, 4, c.PUBLISH)
    eq(e.reason_code, 0x81)


def test_user_properties_keep_order_and_repeat():
    pairs = [("b", "2"), ("a", "1"), ("b", "3"), ("", ""), ("\u4e2d", "\U0001F600")]
    block = pr.encode_props({c.USER_PROPERTY: pairs}, c.PUBLISH)
    eq(pr.read_props(memoryview(block), 0, len(block), c.PUBLISH)[0], {c.USER_PROPERTY: pairs})
    # A dict is accepted from callers too.
    block = pr.encode_props({c.USER_PROPERTY: {"k": "v"}}, c.PUBLISH)
    eq(pr.read_props(memoryview(block), 0, len(block), c.PUBLISH)[0], {c.USER_PROPERTY: [("k", "v")]})


def test_property_names():
    for pid in SPEC:
        name = c.property_name(pid)
        eq(c.property_id(name), pid)
        assert name[0].islower() and " " not in name and "_" not in name, name
    for name, pid in (("messageExpiryInterval", 0x02), ("contentType", 0x03), ("userProperties", 0x26),
                      ("responseTopic", 0x08), ("correlationData", 0x09), ("payloadFormatIndicator", 0x01),
                      ("topicAlias", 0x23), ("subscriptionIdentifier", 0x0B), ("sessionExpiryInterval", 0x11),
                      ("userProperty", 0x26), ("maximumPacketSize", 0x27), ("receiveMaximum", 0x21)):
        eq(c.property_id(name), pid, name)
    raises(ValueError, c.property_id, "noSuchProperty")
    raises(ValueError, c.property_name, 0x7F)
    eq(sorted(SPEC), sorted(k for k in range(0x80) if _known(k)))


def _known(pid):
    try:
        c.property_name(pid)
        return True
    except ValueError:
        return False


def test_public_property_constants():
    expect = {"PAYLOAD_FORMAT_INDICATOR": 0x01, "MESSAGE_EXPIRY_INTERVAL": 0x02, "CONTENT_TYPE": 0x03,
              "RESPONSE_TOPIC": 0x08, "CORRELATION_DATA": 0x09, "SUBSCRIPTION_IDENTIFIER": 0x0B,
              "SESSION_EXPIRY_INTERVAL": 0x11, "ASSIGNED_CLIENT_IDENTIFIER": 0x12, "SERVER_KEEP_ALIVE": 0x13,
              "AUTHENTICATION_METHOD": 0x15, "AUTHENTICATION_DATA": 0x16, "REQUEST_PROBLEM_INFORMATION": 0x17,
              "WILL_DELAY_INTERVAL": 0x18, "REQUEST_RESPONSE_INFORMATION": 0x19, "RESPONSE_INFORMATION": 0x1A,
              "SERVER_REFERENCE": 0x1C, "REASON_STRING": 0x1F, "RECEIVE_MAXIMUM": 0x21, "TOPIC_ALIAS_MAXIMUM": 0x22,
              "TOPIC_ALIAS": 0x23, "MAXIMUM_QOS": 0x24, "RETAIN_AVAILABLE": 0x25, "USER_PROPERTY": 0x26,
              "MAXIMUM_PACKET_SIZE": 0x27, "WILDCARD_SUBSCRIPTION_AVAILABLE": 0x28,
              "SUBSCRIPTION_IDENTIFIER_AVAILABLE": 0x29, "SHARED_SUBSCRIPTION_AVAILABLE": 0x2A,
              "CONNECT": 1, "CONNACK": 2, "PUBLISH": 3, "PUBACK": 4, "PUBREC": 5, "PUBREL": 6, "PUBCOMP": 7,
              "SUBSCRIBE": 8, "SUBACK": 9, "UNSUBSCRIBE": 10, "UNSUBACK": 11, "PINGREQ": 12, "PINGRESP": 13,
              "DISCONNECT": 14, "AUTH": 15}
    for name in expect:
        eq(getattr(c, name), expect[name], name)
