# Bytes sent by an independent implementation (mosquitto_pub / mosquitto_sub, i.e.
# libmosquitto), captured by host_tests/peer_vectors.py: our decoder must read every
# packet with the fields the command line asked for, and our encoder must produce the
# same bytes for the same packet. Runs under CPython and MicroPython.
import binascii

from check import eq, env
import mqttcodec as c
from lgmqtt.compat import MICROPYTHON

FIXTURES = ("peer_vectors",)
HEAP = "2m"

_cache = []


def sessions():
    """{label: (version, [packet bytes])} from the capture file."""
    if _cache:
        return _cache[0]
    out = {}
    with open(env("LG_PEER_VECTORS")) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 4:
                continue
            label, version, _, hx = parts
            out.setdefault(label, (int(version), []))[1].append(binascii.unhexlify(hx))
    _cache.append(out)
    return out


def decoded(label):
    version, pkts = sessions()[label]
    out = []
    for raw in pkts:
        d = c.Decoder(4, max_packet_size=1 << 20, server_side=True)
        d.version = version
        d.feed(raw)
        p = d.next_packet()
        eq(d.next_packet(), None)
        out.append(p)
    return out


def test_all_scenarios_captured():
    eq(sorted(sessions()), sorted(["pub_v4_q0", "pub_v4_q1", "pub_v4_q2", "pub_v5_q1", "pub_v5_q2", "pub_v5_q0",
                                   "sub_v4", "sub_v5"]))


def test_publish_v4_qos0():
    cn, pub, disc = decoded("pub_v4_q0")
    eq((cn.type, cn.proto_level, cn.client_id, cn.clean_start, cn.keepalive), (c.CONNECT, 4, "pub-v4-q0", True, 60))
    eq((cn.username, cn.password, cn.will), (None, None, None))
    eq((pub.type, pub.topic, pub.payload, pub.qos, pub.pid, pub.retain, pub.dup), (c.PUBLISH, "a/b", b"hello", 0, None,
                                                                                  False, False))
    eq(disc.type, c.DISCONNECT)


def test_publish_v4_qos1_auth_retain():
    cn, pub, disc = decoded("pub_v4_q1")
    eq((cn.username, cn.password, cn.keepalive), ("device", b"s3cret", 30))
    eq((pub.topic, pub.payload, pub.qos, pub.pid, pub.retain), ("sensors/t\u00e9mp", b"21.5", 1, 1, True))


def test_publish_v4_qos2_will():
    cn, pub, rel, disc = decoded("pub_v4_q2")
    eq(cn.clean_start, False)
    eq(cn.will, c.Will("will/t", b"gone", 1, True))
    eq((pub.qos, pub.pid, pub.payload), (2, 1, b"exactly once"))
    eq((rel.type, rel.pid, rel.reason_code), (c.PUBREL, 1, 0))
    eq(disc.type, c.DISCONNECT)


def test_publish_v5_properties():
    cn, pub, disc = decoded("pub_v5_q1")
    eq(cn.proto_level, 5)
    eq(cn.props, {c.SESSION_EXPIRY_INTERVAL: 60, c.RECEIVE_MAXIMUM: 10, c.USER_PROPERTY: [("c", "d")]})
    eq((cn.username, cn.password), ("device", b"pw"))
    eq((pub.topic, pub.payload, pub.qos, pub.pid), ("a/b", b'{"t":1}', 1, 1))
    eq(pub.props, {c.USER_PROPERTY: [("a", "b"), ("a", "c")], c.CONTENT_TYPE: "application/json",
                   c.MESSAGE_EXPIRY_INTERVAL: 30, c.PAYLOAD_FORMAT_INDICATOR: 1, c.RESPONSE_TOPIC: "reply/to",
                   c.CORRELATION_DATA: b"abc"})
    eq((disc.reason_code, disc.props), (0, {}))


def test_publish_v5_will_properties_and_disconnect_props():
    cn, pub, rel, disc = decoded("pub_v5_q2")
    eq(cn.props, {c.MAXIMUM_PACKET_SIZE: 4096, c.RECEIVE_MAXIMUM: 20})
    eq(cn.will, c.Will("will/5", b"bye", 2, False, {c.WILL_DELAY_INTERVAL: 5, c.USER_PROPERTY: [("w", "v")],
                                                  c.CONTENT_TYPE: "text/plain"}))
    eq((pub.qos, rel.type, rel.pid), (2, c.PUBREL, 1))
    eq((disc.reason_code, disc.props), (0, {c.SESSION_EXPIRY_INTERVAL: 0}))


def test_publish_v5_large_payload():
    cn, pub, disc = decoded("pub_v5_q0")
    eq((pub.topic, len(pub.payload), pub.payload[:3]), ("big", 20000, b"BBB"))
    eq(c.varint_size(len(sessions()["pub_v5_q0"][1][1]) - 4), 3)


def test_subscriber_v4():
    # mosquitto_sub -C 1 may close the socket before its DISCONNECT is read.
    pkts = decoded("sub_v4")
    cn, sub, unsub, ack = pkts[:4]
    eq([p.type for p in pkts[4:]], [c.DISCONNECT][:len(pkts) - 4])
    eq((sub.type, sub.pid, sub.topics), (c.SUBSCRIBE, 1, [("s/#", 1), ("x/+/y", 1)]))
    eq((unsub.type, unsub.pid, unsub.topics), (c.UNSUBSCRIBE, 2, ["old/topic"]))
    eq((ack.type, ack.pid), (c.PUBACK, 1))


def test_subscriber_v5():
    pkts = decoded("sub_v5")
    cn, sub, unsub, rec, comp = pkts[:5]
    eq([p.type for p in pkts[5:]], [c.DISCONNECT][:len(pkts) - 5])
    eq((sub.pid, sub.topics), (1, [("s/#", 2)]))
    eq(sub.props, {c.SUBSCRIPTION_IDENTIFIER: 7, c.USER_PROPERTY: [("k", "v")]})
    eq((unsub.topics, unsub.props), (["old/5"], {c.USER_PROPERTY: [("u", "1")]}))
    eq((rec.type, rec.pid, comp.type, comp.pid), (c.PUBREC, 1, c.PUBCOMP, 1))


def test_our_encoder_gives_the_same_bytes():
    for label in sorted(sessions()):
        version, pkts = sessions()[label]
        for raw, p in zip(pkts, decoded(label)):
            mine = bytes(c.encode(p, version))
            if MICROPYTHON and len(p.props) > 1:
                # MicroPython dicts do not keep insertion order: same length and content.
                eq(len(mine), len(raw), label)
                eq(decoded_one(mine, version), p)
            else:
                eq(mine, raw, "%s %r" % (label, p))


def decoded_one(raw, version):
    d = c.Decoder(version, 1 << 20, server_side=True)
    d.feed(raw)
    return d.next_packet()


def test_whole_sessions_byte_by_byte():
    for label in sorted(sessions()):
        version, pkts = sessions()[label]
        stream = b"".join(pkts)
        d = c.Decoder(version, 1 << 20, server_side=True)
        got = []
        for i in range(len(stream)):
            d.feed(stream[i:i + 1])
            p = d.next_packet()
            if p is not None:
                got.append(p)
        eq(got, decoded(label), label)
