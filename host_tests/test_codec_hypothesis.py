"""Property-based tests of the codec (CPython, hypothesis), next to the portable seeded
mutation loop in host_tests/portable/mqtt/test_codec_fuzz.py:

- any valid packet of any type, version and properties survives encode -> decode in
  any chunking unchanged;
- arbitrary bytes, fed in arbitrary chunks, give only packets, need-more-data or
  ProtocolError, with the incomplete-packet buffer within max_packet_size;
- the encoders given arbitrary arguments either return a packet we decode back or
  raise ValueError, never anything else.
"""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mqttcodec as c
from lgmqtt.mqtt.session import _with_pid
from lgmqtt.mqtt.wire import ProtocolError
from test_codec_props import SPEC

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# MQTT strings: any Unicode scalar value but U+0000 (surrogates cannot be encoded).
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
topic = text.filter(bool)
binary = st.binary(max_size=40)
pid = st.integers(1, 0xFFFF)

STRINGS = (0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F)
BOOLS = (0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A)
U16 = (0x13, 0x21, 0x22, 0x23)
U32 = (0x02, 0x11, 0x18, 0x27)


def value(prop, ptype):
    if prop in STRINGS:
        return text
    if prop in (0x09, 0x16):
        return binary
    if prop in BOOLS:
        return st.integers(0, 1)
    if prop == 0x26:
        return st.lists(st.tuples(text, text), min_size=1, max_size=3)
    if prop == 0x0B:
        one = st.integers(1, 268435455)
        return st.lists(one, min_size=1, max_size=3) if ptype == c.PUBLISH else one
    lo = 1 if prop in (0x21, 0x23, 0x27) else 0
    return st.integers(lo, 0xFFFF if prop in U16 else 0xFFFFFFFF)


def props_for(ptype, version):
    if version == 4:
        return st.just({})
    allowed = [p for p in SPEC if ptype in SPEC[p]]
    return st.lists(st.sampled_from(allowed), unique=True, max_size=4).flatmap(
        lambda ids: st.fixed_dictionaries({i: value(i, ptype) for i in ids}))


def packets(version):
    P = c.Packet
    pp = lambda t: props_for(t, version)  # noqa: E731
    will = st.builds(c.Will, topic, binary, st.integers(0, 2), st.booleans(), pp(0))
    sub_opt = st.integers(0, 2) if version == 4 else st.integers(0, 0x2F).filter(lambda o: o & 3 != 3)

    def publish(qos, tp, payload, retain, dup, p, props):
        return P(c.PUBLISH, topic=tp, payload=payload, qos=qos, retain=retain, dup=dup and qos > 0,
                 pid=p if qos else None, props=props)

    def ack(t, p, code, props):
        allowed = (c.PUBACK_CODES if t <= c.PUBREC else c.PUBREL_CODES) if version == 5 else b"\x00"
        return P(t, pid=p, reason_code=allowed[code % len(allowed)], props=props)

    client = st.one_of(
        st.builds(lambda *a: P(c.CONNECT, proto_level=version, client_id=a[0], keepalive=a[1], clean_start=a[2],
                               username=a[3], password=a[4] if (a[3] is not None or version == 5) else None,
                               will=a[5], props=a[6]),
                  text, st.integers(0, 0xFFFF), st.booleans(), st.none() | text, st.none() | binary,
                  st.none() | will, pp(c.CONNECT)),
        st.builds(publish, st.integers(0, 2), topic, binary, st.booleans(), st.booleans(), pid,
                  pp(c.PUBLISH).map(lambda d: {k: v for k, v in d.items() if k != 0x0B})),
        st.builds(lambda p, t, props: P(c.SUBSCRIBE, pid=p, topics=t, props=props), pid,
                  st.lists(st.tuples(topic, sub_opt), min_size=1, max_size=4),
                  pp(c.SUBSCRIBE)),
        st.builds(lambda p, t, props: P(c.UNSUBSCRIBE, pid=p, topics=t, props=props), pid,
                  st.lists(topic, min_size=1, max_size=4), pp(c.UNSUBSCRIBE)),
        st.just(P(c.PINGREQ)),
    )
    server = st.one_of(
        st.builds(lambda sp, code, props: P(c.CONNACK, session_present=sp, reason_code=code, props=props),
                  st.booleans(), st.sampled_from(list(c.CONNACK_CODES) if version == 5 else [0, 1, 2, 3, 4, 5]),
                  pp(c.CONNACK)),
        st.builds(publish, st.integers(0, 2), topic, binary, st.booleans(), st.booleans(), pid, pp(c.PUBLISH)),
        st.builds(lambda p, codes, props: P(c.SUBACK, pid=p, reason_codes=codes, props=props), pid,
                  st.lists(st.sampled_from(list(c.SUBACK_CODES if version == 5 else c.SUBACK_CODES_V4)),
                           min_size=1, max_size=4), pp(c.SUBACK)),
        st.builds(lambda p, codes, props: P(c.UNSUBACK, pid=p, reason_codes=codes if version == 5 else [],
                                            props=props), pid,
                  st.lists(st.sampled_from(list(c.UNSUBACK_CODES)), min_size=1, max_size=4), pp(c.UNSUBACK)),
        st.just(P(c.PINGRESP)),
    )
    both = st.one_of(
        st.builds(ack, st.sampled_from([c.PUBACK, c.PUBREC, c.PUBREL, c.PUBCOMP]), pid, st.integers(0, 20),
                  pp(c.PUBACK)),
    )
    if version == 5:
        both = st.one_of(both, st.builds(
            lambda code, props: P(c.DISCONNECT, reason_code=code, props=props),
            st.sampled_from(list(c.DISCONNECT_CODES)), pp(c.DISCONNECT)), st.builds(
            lambda code, props: P(c.AUTH, reason_code=code, props=props),
            st.sampled_from(list(c.AUTH_CODES)), pp(c.AUTH)))
    return st.one_of(client.map(lambda p: (p, True)), server.map(lambda p: (p, False)),
                     both.map(lambda p: (p, False)))


def any_packet():
    return st.sampled_from([4, 5]).flatmap(lambda v: packets(v).map(lambda ps: (v,) + ps))


def feed_in_chunks(d, data, cuts):
    out = []
    last = 0
    for cut in sorted(set(x % (len(data) + 1) for x in cuts)) + [len(data)]:
        d.feed(data[last:cut])
        last = cut
        while True:
            p = d.next_packet()
            if p is None:
                break
            out.append(p)
    return out


@settings(max_examples=600, **SETTINGS)
@given(any_packet(), st.lists(st.integers(0, 1 << 16), max_size=6))
def test_any_valid_packet_round_trips(vp, cuts):
    version, packet, server_side = vp
    data = bytes(c.encode(packet, version))
    d = c.Decoder(version, 1 << 20, server_side)
    got = feed_in_chunks(d, data, cuts)
    assert got == [packet]
    assert d.buffered() == 0


@settings(max_examples=4000, **SETTINGS)
@given(st.binary(max_size=300), st.lists(st.integers(0, 1 << 16), max_size=8), st.sampled_from([4, 5]),
       st.booleans(), st.sampled_from([8, 64, 256, 0x10000]))
def test_arbitrary_bytes_only_packets_or_protocol_errors(data, cuts, version, server_side, max_size):
    d = c.Decoder(version, max_size, server_side)
    last = 0
    try:
        for cut in sorted(set(x % (len(data) + 1) for x in cuts)) + [len(data)]:
            d.feed(data[last:cut])
            last = cut
            assert d.buffered() <= max_size
            while d.next_packet() is not None:
                pass
    except ProtocolError as e:
        assert 0x80 <= e.reason_code <= 0xA2


@settings(max_examples=1500, **SETTINGS)
@given(st.sampled_from([3, 4, 5, 6]), st.text(max_size=8) | st.binary(max_size=4) | st.none(),
       st.binary(max_size=8) | st.text(max_size=4) | st.integers(), st.integers(-2, 4), st.booleans(),
       st.booleans(), st.integers(-1, 0x10001) | st.none(),
       st.none() | st.dictionaries(st.integers(0, 0x30), st.integers(-1, 1 << 33) | text | binary, max_size=3))
def test_encoders_return_packets_or_value_error(version, tp, payload, qos, retain, dup, p, props):
    try:
        data = c.encode_publish(version, tp, payload, qos, retain, dup, p, props)
    except ValueError:
        return
    if qos and p == 0:
        # 0 is the encoder's placeholder: the session writes the real id in when it
        # sends (Session.publish_packet); the template is whole once it has one
        data = _with_pid(data, 1)
        p = 1
    d = c.Decoder(version, 1 << 20, False)
    d.feed(bytes(data))
    q = d.next_packet()
    assert q.type == c.PUBLISH and q.topic == tp and q.qos == qos
    assert q.pid == (p if qos else None)
