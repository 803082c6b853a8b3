# The sans-I/O session against an in-memory fake broker and a fake clock.
from check import eq, raises
from fakebroker import FakeBroker, connected, kinds
import mqttcodec as codec
from lgmqtt.mqtt import session as S
from lgmqtt.errors import ConnectorError, NOT_CONNECTED, PAYLOAD_TOO_LARGE, QOS_ERROR, TOPIC_ERROR


def _ack(t, pid, version=4, rc=0):
    return codec.encode_ack(t, version, pid, rc)


def test_connect_v4_and_v5_fields():
    for v in (4, 5):
        s = S.Session(client_id="node-7", version=v, keepalive=30, username="u", password=b"pw",
                      clean_start=False, receive_maximum=10, max_packet_size=4096)
        b = FakeBroker(v)
        s.connect(0)
        (p,) = b.take(s)
        eq(p.type, codec.CONNECT)
        eq((p.client_id, p.keepalive, p.clean_start, p.username, p.password), ("node-7", 30, False, "u", b"pw"))
        if v == 5:
            eq(p.props[codec.RECEIVE_MAXIMUM], 10)
            eq(p.props[codec.MAXIMUM_PACKET_SIZE], 4096)
        eq(s.state, S.CONNECTING)
        ev = s.receive_data(codec.encode_connack(v, False, 0), 5)
        eq(ev, [(S.EV_CONNACK, False, 0, {})])
        eq(s.state, S.CONNECTED)


def test_connack_refused_closes():
    s = S.Session(client_id="x")
    s.connect(0)
    s.take_outbound()
    ev = s.receive_data(codec.encode_connack(4, False, 5), 0)
    eq(ev[0][:3], (S.EV_CONNACK, False, 5))
    eq(s.state, S.CLOSED)


def test_qos1_and_qos2_flows():
    s, b = connected()
    pid = s.publish("a/b", b"one", 1)
    (p,) = b.take(s)
    eq((p.type, p.qos, p.pid, p.payload, p.dup), (codec.PUBLISH, 1, pid, b"one", False))
    eq(s.receive_data(_ack(codec.PUBACK, pid), 1), [(S.EV_PUBLISHED, pid, 0)])
    pid2 = s.publish("a/b", b"two", 2)
    eq(b.types(s), [codec.PUBLISH])
    eq(s.receive_data(_ack(codec.PUBREC, pid2), 2), [(S.EV_PUBREC, pid2)])
    (rel,) = b.take(s)
    eq((rel.type, rel.pid), (codec.PUBREL, pid2))
    eq(s.receive_data(_ack(codec.PUBCOMP, pid2), 3), [(S.EV_PUBLISHED, pid2, 0)])
    eq(s.inflight_count(), 0)


def test_qos0_goes_out_and_needs_a_connection():
    s, b = connected()
    eq(s.publish("t", b"x", 0), None)
    eq(b.types(s), [codec.PUBLISH])
    s.connection_lost()
    e = raises(ConnectorError, s.publish, "t", b"x", 0)
    eq(e.error, NOT_CONNECTED)


def test_keepalive_ping_and_dead_link():
    s, b = connected(keepalive=10)
    eq(s.tick(9999), [])
    eq(b.types(s), [])
    eq(s.tick(10000), [])
    eq(b.types(s), [codec.PINGREQ])
    eq(kinds(s.receive_data(codec.encode_pingresp(), 10100)), [S.EV_PINGRESP])
    eq(s.next_timeout(10100), 9900)  # next ping due 10 s after the last send
    # broker goes silent: after 1.5 x keepalive since the last packet the link is dead
    s.tick(20000)
    b.take(s)
    ev = s.tick(10100 + 15000)
    eq(kinds(ev), [S.EV_ERROR])
    eq(s.state, S.CLOSED)


def test_resume_resends_in_order_with_dup_and_pubrel():
    s, b = connected(clean_start=False)
    p1 = s.publish("t", b"1", 1)
    p2 = s.publish("t", b"2", 2)
    p3 = s.publish("t", b"3", 1)
    b.take(s)
    s.receive_data(_ack(codec.PUBREC, p2), 0)
    b.take(s)  # PUBREL, then the link dies before PUBCOMP
    s.connection_lost()
    p4 = s.publish("t", b"4", 1)  # accepted while disconnected
    eq(s.take_outbound(), b"")
    s.connect(100)
    b.take(s)
    ev = s.receive_data(codec.encode_connack(4, True, 0), 100)
    eq(kinds(ev), [S.EV_CONNACK])
    out = b.take(s)
    # p1 and p3 were on the wire when the link died: each has a strike, so the window
    # is one message until they are through (a culprit is then named unambiguously)
    eq([(p.type, p.pid, p.dup) for p in out], [(codec.PUBLISH, p1, True), (codec.PUBREL, p2, False)])
    s.receive_data(_ack(codec.PUBACK, p1) + _ack(codec.PUBCOMP, p2), 101)
    out = b.take(s)
    eq([(p.type, p.pid, p.dup) for p in out], [(codec.PUBLISH, p3, True)])
    s.receive_data(_ack(codec.PUBACK, p3), 102)
    out += b.take(s)  # no strike left: the full window again
    eq([(p.type, p.pid, p.dup) for p in out], [(codec.PUBLISH, p3, True), (codec.PUBLISH, p4, False)])
    eq([p.payload for p in out], [b"3", b"4"])


def test_clean_reconnect_resends_as_new_and_completes_pubrecd():
    s, b = connected()
    p1 = s.publish("t", b"1", 1)
    p2 = s.publish("t", b"2", 2)
    b.take(s)
    s.receive_data(_ack(codec.PUBREC, p2), 0)
    b.take(s)
    s.connection_lost()
    s.connect(50)
    b.take(s)
    ev = s.receive_data(codec.encode_connack(4, False, 0), 50)
    # the broker already had message 2 (it sent PUBREC): it counts as delivered
    eq(ev[0], (S.EV_PUBLISHED, p2, 0))
    out = b.take(s)
    # sent again (DUP: it went out before, the broker may have it; on a new session
    # that is information only)
    eq([(p.type, p.pid, p.dup) for p in out], [(codec.PUBLISH, p1, True)])


def test_pid_wraps_after_65535_and_skips_ids_in_flight():
    s, b = connected()
    s._next_pid = 65534
    got = [s.publish("t", b"", 1) for _ in range(3)]
    eq(got, [65534, 65535, 1])
    s._next_pid = 65535
    keep = s.publish("t", b"", 1)  # 65535 is in flight already -> skipped
    eq(keep, 2)
    for pid in got + [keep]:
        s.receive_data(_ack(codec.PUBACK, pid), 0)
    eq(s.inflight_count(), 0)
    # a SUBSCRIBE id in flight is also never reused
    s._next_pid = 9
    sp = s.subscribe([("a/#", 1)])
    eq(sp, 9)
    s._next_pid = 9
    eq(s.publish("t", b"", 1), 10)


def test_window_full_holds_then_releases_in_order():
    s, b = connected(version=5, props={codec.RECEIVE_MAXIMUM: 2})
    pids = [s.publish("t", str(i).encode(), 1) for i in range(5)]
    eq([p.pid for p in b.take(s)], pids[:2])
    eq(s.window(), 0)
    ev = s.receive_data(_ack(codec.PUBACK, pids[0], 5), 0)
    eq(ev, [(S.EV_PUBLISHED, pids[0], 0)])
    eq([p.pid for p in b.take(s)], [pids[2]])
    s.receive_data(_ack(codec.PUBACK, pids[1], 5) + _ack(codec.PUBACK, pids[2], 5), 0)
    eq([p.pid for p in b.take(s)], pids[3:])


def test_our_max_inflight_also_limits():
    s, b = connected(max_inflight=3)
    for i in range(5):
        s.publish("t", b"", 2)
    eq(len(b.take(s)), 3)


def test_incoming_qos2_duplicate_suppressed_until_pubrel():
    s, b = connected()
    pub = codec.encode_publish(4, "cmd/x", b"go", 2, False, False, 7)
    ev = s.receive_data(pub, 0)
    eq(kinds(ev), [S.EV_MESSAGE])
    dup = codec.encode_publish(4, "cmd/x", b"go", 2, False, True, 7)
    eq(s.receive_data(dup, 1), [])
    eq([(p.type, p.pid) for p in b.take(s)], [(codec.PUBREC, 7), (codec.PUBREC, 7)])
    s.receive_data(_ack(codec.PUBREL, 7), 2)
    eq([(p.type, p.pid) for p in b.take(s)], [(codec.PUBCOMP, 7)])
    # after PUBREL the id is free: the same id is a new message
    eq(kinds(s.receive_data(pub, 3)), [S.EV_MESSAGE])


def test_incoming_qos1_acked_and_delivered():
    s, b = connected()
    ev = s.receive_data(codec.encode_publish(4, "a", b"p", 1, True, False, 3), 0)
    eq((ev[0][1].topic, ev[0][1].payload, ev[0][1].retain), ("a", b"p", True))
    eq([(p.type, p.pid) for p in b.take(s)], [(codec.PUBACK, 3)])


def test_incoming_topic_alias():
    s, b = connected(version=5, topic_alias_maximum=4)
    ev = s.receive_data(codec.encode_publish(5, "long/topic/name", b"1", 0, False, False, None,
                                             {codec.TOPIC_ALIAS: 2}), 0)
    eq(ev[0][1].topic, "long/topic/name")
    ev = s.receive_data(codec.encode_publish(5, "", b"2", 0, False, False, None, {codec.TOPIC_ALIAS: 2}), 0)
    eq((ev[0][1].topic, ev[0][1].payload), ("long/topic/name", b"2"))
    ev = s.receive_data(codec.encode_publish(5, "", b"3", 0, False, False, None, {codec.TOPIC_ALIAS: 3}), 0)
    eq(ev, [(S.EV_ERROR, 0x82, "unknown topic alias 3", "PROTOCOL_ERROR")])
    (d,) = b.take(s)
    eq((d.type, d.reason_code), (codec.DISCONNECT, 0x82))


def test_topic_alias_out_of_range():
    s, b = connected(version=5, topic_alias_maximum=4)
    ev = s.receive_data(codec.encode_publish(5, "t", b"", 0, False, False, None, {codec.TOPIC_ALIAS: 5}), 0)
    eq(kinds(ev), [S.EV_ERROR])
    eq(ev[0][1], 0x94)


def test_oversize_incoming_packet_rejected():
    s, b = connected(version=5, max_packet_size=128)
    big = codec.encode_publish(5, "t", b"x" * 500, 0)
    ev = s.receive_data(big[:5], 0)  # only the fixed header: rejected before the body arrives
    eq(ev[0][:2], (S.EV_ERROR, 0x95))
    eq(b.take(s)[0].reason_code, 0x95)


def test_broker_limits_honoured():
    props = {codec.MAXIMUM_PACKET_SIZE: 64, codec.MAXIMUM_QOS: 1, codec.SERVER_KEEP_ALIVE: 5,
             codec.ASSIGNED_CLIENT_IDENTIFIER: "auto-123", codec.RETAIN_AVAILABLE: 0}
    s, b = connected(version=5, props=props, client_id="", keepalive=60)
    e = raises(ConnectorError, s.publish, "t", b"x" * 100, 1)
    eq(e.error, PAYLOAD_TOO_LARGE)
    e = raises(ConnectorError, s.publish, "t", b"x", 2)
    eq((e.error, e.details["supportedQos"]), (QOS_ERROR, [0, 1]))
    raises(ConnectorError, s.publish, "t", b"x", 1, True)
    eq(b.take(s), [])  # nothing was sent for refused calls
    eq((s.client_id, s.effective_keepalive), ("auto-123", 5))
    eq(s.inflight_count(), 0)


def test_caller_misuse_sends_nothing():
    s, b = connected()
    eq(raises(ConnectorError, s.publish, "a/+", b"", 1).error, TOPIC_ERROR)
    eq(raises(ConnectorError, s.publish, "a", b"", 3).error, QOS_ERROR)
    eq(raises(ConnectorError, s.subscribe, [("a/#/b", 1)]).error, TOPIC_ERROR)
    eq(b.take(s), [])
    s.connection_lost()
    eq(raises(ConnectorError, s.subscribe, [("a", 1)]).error, NOT_CONNECTED)


def test_subscribe_unsubscribe_acks():
    s, b = connected(version=5)
    pid = s.subscribe([("a/#", 1), ("b/+", 2 | 4)])
    (p,) = b.take(s)
    eq(p.topics, [("a/#", 1), ("b/+", 6)])
    ev = s.receive_data(codec.encode_suback(5, pid, [1, 0x87]), 0)
    eq(ev, [(S.EV_SUBACK, pid, [1, 0x87], {})])
    pid = s.unsubscribe(["a/#"])
    b.take(s)
    eq(kinds(s.receive_data(codec.encode_unsuback(5, pid, [0]), 0)), [S.EV_UNSUBACK])


def test_protocol_violations_are_one_error_event():
    s, b = connected(version=5)
    ev = s.receive_data(_ack(codec.PUBACK, 99, 5), 0)
    eq(kinds(ev), [S.EV_ERROR])
    eq(s.state, S.CLOSED)
    s, b = connected(version=4)
    ev = s.receive_data(b"\x20\x02\x00\x00", 0)  # a second CONNACK
    eq(kinds(ev), [S.EV_ERROR])
    s, b = connected(version=4)
    ev = s.receive_data(b"\x10\x00", 0)  # CONNECT from the server: malformed/protocol error
    eq(kinds(ev), [S.EV_ERROR])
    eq(s.receive_data(b"\x30\x00", 0), [])  # closed: input ignored, no exception


def test_broker_disconnect_with_reason():
    s, b = connected(version=5)
    ev = s.receive_data(codec.encode_disconnect(5, 0x8B, {codec.REASON_STRING: "shutting down"}), 0)
    eq(ev, [(S.EV_DISCONNECT, 0x8B, {codec.REASON_STRING: "shutting down"})])
    eq(s.state, S.DISCONNECTED)


def test_ack_timeout_declares_link_dead():
    s, b = connected(ack_timeout_ms=2000)
    s.publish("t", b"", 1, now_ms=100)
    b.take(s)
    eq(s.tick(2000), [])
    ev = s.tick(2100)
    eq(kinds(ev), [S.EV_ACK_TIMEOUT, S.EV_ERROR])
    eq(ev[1][3], "TIMEOUT")


def test_clean_disconnect():
    s, b = connected(version=5)
    s.disconnect(0, now_ms=0)
    (p,) = b.take(s)
    eq((p.type, p.reason_code), (codec.DISCONNECT, 0))
    eq(s.state, S.CLOSED)


def _flood_qos2(version):
    # A broker that sends QoS 2 PUBLISHes and never their PUBREL: the ids held are
    # bounded by the receive maximum on both versions (3.1.1 cannot say it on the wire).
    s, b = connected(version=version, receive_maximum=4)
    for pid in range(1, 5):
        eq(kinds(s.receive_data(codec.encode_publish(version, "t", b"x", 2, False, False, pid), pid)),
           [S.EV_MESSAGE])
    ev = s.receive_data(codec.encode_publish(version, "t", b"x", 2, False, False, 5), 5)
    eq(ev, [(S.EV_ERROR, 0x93, "broker exceeded our receive maximum 4", "PROTOCOL_ERROR")])
    eq(len(s._in_qos2), 4)


def test_incoming_qos2_without_pubrel_is_bounded_311():
    _flood_qos2(4)


def test_incoming_qos2_without_pubrel_is_bounded_v5():
    _flood_qos2(5)


def test_receive_maximum_default_is_board_sized_and_advertised():
    s = S.Session(client_id="dev1", version=5)
    s.connect(0)
    (pk,) = FakeBroker(5).take(s)
    eq((pk.type, pk.props.get(0x21)), (codec.CONNECT, 32))
