# The session against a misbehaving broker (issue 9): what a broker must not be able
# to make it do for ever. In-memory fake broker and fake clock, both interpreters.
from check import eq, raises, without_heap
from fakebroker import FakeBroker, connected, kinds
import mqttcodec as codec
from lgmqtt.mqtt import session as S
from lgmqtt.compat import MICROPYTHON
from lgmqtt.errors import ConnectorError, TOPIC_ERROR


def _ack(t, pid, version=4, rc=0):
    return codec.encode_ack(t, version, pid, rc)


def _reconnect(s, b, present=False, now=0, version=4):
    s.connect(now)
    b.take(s)
    return s.receive_data(codec.encode_connack(version, present, 0), now)


def test_a_message_the_link_dies_on_three_times_is_given_up_and_the_rest_flows():
    s, b = connected(clean_start=False)
    good = s.publish("t", b"good", 1)
    bad = s.publish("t", b"x" * 100, 2)
    b.take(s)
    s.receive_data(_ack(codec.PUBACK, good), 1)  # the broker takes the first, closes on the second
    eq(s.connection_lost(), [])
    later = s.publish("t", b"later", 1)
    for n in (2, 3):
        _reconnect(s, b, True, n)
        out = b.take(s)
        # a strike: the window is one message, so only the suspect goes
        eq([(p.pid, p.dup) for p in out], [(bad, True)])
        ev = s.connection_lost()
    eq(ev, [(S.EV_GAVE_UP, bad, 3)])
    eq(s.inflight_count(), 1)
    _reconnect(s, b, True, 4)
    eq([p.pid for p in b.take(s)], [later])  # what was behind it flows
    eq(s.receive_data(_ack(codec.PUBACK, later), 5), [(S.EV_PUBLISHED, later, 0)])
    eq(s.window(), 20)  # no strike left: full window


def test_probe_names_the_culprit_not_its_neighbours_in_flight():
    s, b = connected()
    pids = [s.publish("t", str(i).encode(), 1) for i in range(4)]
    b.take(s)
    s.connection_lost()  # all four were on the wire: one strike each
    _reconnect(s, b, False, 10)
    for n in range(3):  # the innocent ones go one at a time, each acknowledged
        (p,) = b.take(s)
        eq(p.pid, pids[n])
        eq(s.receive_data(_ack(codec.PUBACK, p.pid), 11 + n), [(S.EV_PUBLISHED, p.pid, 0)])
    (p,) = b.take(s)
    eq(p.pid, pids[3])  # alone on the wire when the link dies again: second strike
    eq(s.connection_lost(), [])
    _reconnect(s, b, False, 20)
    b.take(s)
    eq(s.connection_lost(), [(S.EV_GAVE_UP, pids[3], 3)])
    eq(s.inflight_count(), 0)


def test_our_own_clean_close_is_no_strike():
    s, b = connected()
    pid = s.publish("t", b"", 1)
    b.take(s)
    for n in range(5):
        eq(s.connection_lost(strike=False), [])
        _reconnect(s, b, False, n)
        b.take(s)
    eq(s.window(), 19)  # still in flight, full window (no strikes)
    eq(s.receive_data(_ack(codec.PUBACK, pid), 9), [(S.EV_PUBLISHED, pid, 0)])


def test_oversized_incoming_publish_v4_is_skipped_acknowledged_and_reported():
    for qos in (0, 1, 2):
        s, b = connected(max_packet_size=1024)
        big = codec.encode_publish(4, "big/retained", b"z" * 100000, qos, True, False, 7 if qos else None)
        small = codec.encode_publish(4, "small", b"ok", 0)
        ev = []
        for i in range(0, len(big), 1000):  # arrives in pieces, never buffered whole
            ev += s.receive_data(big[i:i + 1000], 0)
            assert s.decoder.buffered() <= 1024
        ev += s.receive_data(small, 0)
        eq(ev[0], (S.EV_OVERSIZE, "big/retained", len(big), qos))
        eq((ev[1][0], ev[1][1].topic, ev[1][1].payload), (S.EV_MESSAGE, "small", b"ok"))
        eq(s.state, S.CONNECTED)
        acks = [(p.type, p.pid) for p in b.take(s)]
        eq(acks, [] if qos == 0 else [(codec.PUBACK if qos == 1 else codec.PUBREC, 7)])
        if qos == 2:  # the broker's re-send before PUBREL is not reported again
            eq(s.receive_data(codec.encode_publish(4, "big/retained", b"z" * 100000, 2, True, True, 7), 1), [])
            s.receive_data(_ack(codec.PUBREL, 7), 2)
            eq([(p.type, p.pid) for p in b.take(s)], [(codec.PUBREC, 7), (codec.PUBCOMP, 7)])


def test_oversized_publish_with_a_huge_topic_is_skipped_topic_unknown():
    s, b = connected(max_packet_size=512)
    big = codec.encode_publish(4, "t" * 5000, b"p", 1, False, False, 9)
    ev = s.receive_data(big, 0)
    eq(ev, [(S.EV_OVERSIZE, None, len(big), 1)])
    eq([(p.type, p.pid) for p in b.take(s)], [(codec.PUBACK, 9)])


def test_oversized_packet_v5_disconnects_once_then_is_skipped():
    s, b = connected(version=5, max_packet_size=256)
    big = codec.encode_publish(5, "r", b"z" * 1000, 1, True, False, 3)
    ev = s.receive_data(big, 0)
    eq(ev[0][:2], (S.EV_ERROR, 0x95))
    eq(b.take(s)[0].reason_code, 0x95)
    s.connection_lost()
    _reconnect(s, b, False, 1, version=5)
    ev = s.receive_data(big, 2)  # the same again after the reconnect: no loop
    eq(ev, [(S.EV_OVERSIZE, "r", len(big), 1)])
    eq([(p.type, p.pid) for p in b.take(s)], [(codec.PUBACK, 3)])
    eq(s.state, S.CONNECTED)


def test_oversized_non_publish_is_still_a_protocol_error():
    s, b = connected(max_packet_size=64)
    pid = s.subscribe([("a", 1)])
    b.take(s)
    ev = s.receive_data(codec.encode_suback(4, pid, [1] * 100), 0)
    eq((kinds(ev), ev[0][1]), ([S.EV_ERROR], 0x95))


def test_trickling_bytes_do_not_keep_a_link_alive():
    s, b = connected(keepalive=10)
    pub = codec.encode_publish(4, "t", b"x" * 100, 0)
    t = 0
    ev = []
    for i in range(len(pub)):  # one byte a second, never a whole packet
        t = i * 1000
        ev += s.receive_data(pub[i:i + 1], t) + s.tick(t)
        if ev:
            break
    eq(kinds(ev), [S.EV_ERROR])
    eq((ev[0][1], ev[0][3]), (0x8D, "KEEPALIVE_TIMEOUT"))
    eq(t, 15000)  # 1.5 keepalive intervals after the last whole packet
    types = [p.type for p in b.take(s)]
    eq(types, [codec.PINGREQ])  # asked once at 10 s, never answered


def test_a_device_that_only_sends_still_pings():
    s, b = connected(keepalive=10)
    for t in range(0, 30000, 500):  # QoS 0 every 0.5 s: never idle on the sending side
        s.publish("t", b"x", 0, now_ms=t)
        s.tick(t)
        if codec.PINGREQ in [p.type for p in b.take(s)]:
            s.receive_data(codec.encode_pingresp(), t + 10)
    eq(s.state, S.CONNECTED)
    eq(sum(1 for p in b.received if p.type == codec.PINGREQ), 2)


def test_short_suback_is_a_protocol_error():
    for v in (4, 5):
        s, b = connected(version=v)
        pid = s.subscribe([("a", 1), ("b", 1)])
        b.take(s)
        ev = s.receive_data(codec.encode_suback(v, pid, [1]), 0)
        eq(kinds(ev), [S.EV_ERROR])
        assert "1 reason codes for 2 topics" in ev[0][2], ev
    s, b = connected(version=5)
    pid = s.unsubscribe(["a", "b", "c"])
    b.take(s)
    eq(kinds(s.receive_data(codec.encode_unsuback(5, pid, [0, 0]), 0)), [S.EV_ERROR])


def test_pubcomp_packet_id_not_found_after_a_resent_pubrel_is_delivered():
    s, b = connected(version=5, clean_start=False)
    pid = s.publish("t", b"once", 2)
    b.take(s)
    s.receive_data(_ack(codec.PUBREC, pid, 5), 0)
    b.take(s)  # PUBREL; its PUBCOMP is lost with the link
    s.connection_lost()
    _reconnect(s, b, True, 1, version=5)
    eq([(p.type, p.pid) for p in b.take(s)], [(codec.PUBREL, pid)])
    eq(s.receive_data(_ack(codec.PUBCOMP, pid, 5, 0x92), 2), [(S.EV_PUBLISHED, pid, 0)])


def test_v5_subscribe_honours_wildcard_and_shared_availability():
    props = {codec.WILDCARD_SUBSCRIPTION_AVAILABLE: 0, codec.SHARED_SUBSCRIPTION_AVAILABLE: 0}
    s, b = connected(version=5, props=props)
    for f in ("a/+", "a/#", "$share/g/a"):
        e = raises(ConnectorError, s.subscribe, [("ok", 0), (f, 1)])
        eq(e.error, TOPIC_ERROR)
        assert "does not support" in e.message
    eq(b.take(s), [])  # nothing sent
    s.subscribe([("a/b", 1)])
    eq([p.type for p in b.take(s)], [codec.SUBSCRIBE])
    s2, b2 = connected(version=5, props={codec.SUBSCRIPTION_IDENTIFIER_AVAILABLE: 0})
    raises(ConnectorError, s2.subscribe, [("a", 1)], {codec.SUBSCRIPTION_IDENTIFIER: 5})
    eq(b2.take(s2), [])


def test_v4_shaped_connack_to_a_v5_connect_is_named_as_3_1_1():
    s = S.Session(client_id="x", version=5)
    s.connect(0)
    s.take_outbound()
    ev = s.receive_data(b"\x20\x02\x00\x01", 0)  # a 3.1.1 broker: unacceptable protocol version
    eq(ev[0][:3], (S.EV_CONNACK, False, 1))
    eq(s.connack_version, 4)
    from lgmqtt.mqtt.names import connack_name

    eq(connack_name(s.connack_version, 1), "Connection Refused, unacceptable protocol version")


def test_restore_resumes_qos2_with_pubrel_or_dup_publish():
    s = S.Session(client_id="d", clean_start=False)
    pkt = codec.encode_publish(4, "t", b"two", 2, False, False, 41)
    s.restore(41, 2, 0, pkt)  # sent before the reset, no PUBREC seen
    s.restore(42, 2, 1, None)  # PUBREC seen before the reset
    eq(s.publish("t", b"new", 2), 1)  # fresh ids skip the restored ones
    s._next_pid = 41
    eq(s.publish("t", b"new2", 1), 43)
    b = FakeBroker(4)
    s.connect(0)
    b.take(s)
    s.receive_data(codec.encode_connack(4, True, 0), 0)
    out = [(p.type, p.pid, p.dup) for p in b.take(s)]
    eq(out[:2], [(codec.PUBLISH, 41, True), (codec.PUBREL, 42, False)])
    e = raises(ConnectorError, s.restore, 50, 2, 0, pkt)
    eq(e.error, "PROTOCOL_ERROR")  # only while disconnected


def test_no_heap_to_join_the_queued_packets_sends_them_one_by_one_and_loses_none():
    s, b = connected()
    pids = [s.publish("t", b"m%d" % i, 1) for i in range(3)]
    size = s.outbound_size
    first = without_heap(s.take_outbound)
    b.decoder.feed(first)
    got = [b.decoder.next_packet()]
    # MicroPython: the oldest packet alone, the others stay queued (and counted)
    eq(s.outbound_size, size - len(first) if MICROPYTHON else 0)
    eq(len(first) < size, MICROPYTHON)
    got.extend(b.take(s))  # the rest (on CPython: already fed, still in the decoder)
    eq([p.pid for p in got], pids)
    eq([bytes(p.payload) for p in got], [b"m0", b"m1", b"m2"])
    eq((s.outbound_size, s.take_outbound()), (0, b""))
