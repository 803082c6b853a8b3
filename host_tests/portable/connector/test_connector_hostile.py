# The connector against brokers that misbehave (issue 9): small scripted fake brokers
# on real sockets (hostile.py), and a real Mosquitto with limits. Nothing a broker does
# may leave the node stuck, looping, or with events that contradict its status.
import asyncio

from check import araises, env, eq
from hostile import Hostile, connack
from lgmqtt import Connector, ConnectorError
import mqttcodec as codec

FIXTURES = ("mosquitto", "mosquitto_limits", "free_ports")
TIMEOUT = 300

_n = [0]


def free_port(i):
    return int(env("LG_FREE_PORTS").split(",")[i])


def make(port=None, version=4, prefix="LG_BROKER", **cfg):
    _n[0] += 1
    c = {"host": "127.0.0.1" if port else env(prefix + "_HOST"), "port": port or int(env(prefix + "_PORT")),
         "clientId": "lgh-%d" % _n[0], "protocolVersion": version, "reconnectPeriod": 100,
         "connectTimeout": 3000}
    c.update(cfg)
    return Connector({"id": "hostile", "type": "mqtt", "config": c})


class Events:
    def __init__(self, conn, *names):
        self.order = []
        self.seen = {n: [] for n in names}
        self.ev = asyncio.Event()
        for n in names:
            conn.on(n, self._cb(n))

    def _cb(self, n):
        def cb(data):
            self.seen[n].append(data)
            self.order.append(n)
            self.ev.set()
        return cb

    async def wait(self, name, count=1, timeout=10):
        async def w():
            while len(self.seen[name]) < count:
                self.ev.clear()
                await self.ev.wait()
        await asyncio.wait_for(w(), timeout)
        return self.seen[name]


async def until(cond, timeout=10):
    t = 0
    while not cond():
        if t >= timeout:
            raise AssertionError("condition not met within %d s" % timeout)
        await asyncio.sleep(0.05)
        t += 0.05


async def _serve_normally(conn, version=4, present=False, props=None):
    await connack(conn, version, present, props)
    while True:
        p = await conn.recv(10)
        if p is None:
            return
        if p.type == codec.PINGREQ:
            await conn.send(codec.encode_pingresp())
        elif p.type == codec.PUBLISH and p.qos == 1:
            await conn.send(codec.encode_ack(codec.PUBACK, version, p.pid))
        elif p.type == codec.PUBLISH and p.qos == 2:
            await conn.send(codec.encode_ack(codec.PUBREC, version, p.pid))
        elif p.type == codec.PUBREL:
            await conn.send(codec.encode_ack(codec.PUBCOMP, version, p.pid))
        elif p.type == codec.SUBSCRIBE:
            await conn.send(codec.encode_suback(version, p.pid, [o & 3 for _, o in p.topics]))


# ---- item 1: a message the broker will not take (3.1.1) ---------------------------
async def test_a_message_the_broker_closes_on_is_parked_and_what_is_behind_it_flows():
    from faults import rmtree, tmpdir

    d = tmpdir("park")
    try:
        c = make(prefix="LG_BROKER_LIMITS", history={"path": d})
        sub = make(prefix="LG_BROKER_LIMITS")
        got = Events(sub, "message-received")
        await sub.execute("mqtt:connection", "connect")
        await sub.execute("mqtt:subscribe", "subscribe", {"topic": "lgh/park", "qos": 1})
        perr = Events(c, "publish-error")
        # queued offline: above the broker's max_qos 1, above its max_packet_size 1024, then two good ones
        for m in ({"payload": "q2", "qos": 2}, {"payload": "x" * 2000, "qos": 1},
                  {"payload": "a", "qos": 1}, {"payload": "b", "qos": 1}):
            r = await c.execute("mqtt:publish", "write", dict(m, topic="lgh/park"))
            eq(r["queued"], True)
        await c.execute("mqtt:connection", "connect")
        msgs = await got.wait("message-received", 2, timeout=30)
        eq([m["payload"] for m in msgs], ["a", "b"])
        errs = await perr.wait("publish-error", 2, timeout=30)
        eq([(e["error"], e["details"]["parked"], e["details"]["strikes"]) for e in errs],
           [("PUBLISH_REFUSED", True, 3)] * 2)
        parked = sorted(e["outboxId"] for e in errs)
        await until(lambda: c.outbox.stats()["pending"] == 0)  # the last PUBACK may still be on its way
        r = await c.execute("mqtt:publish", "pending")
        eq(r["counts"], {"pending": 0, "parked": 2})
        eq([(m["outboxId"], m["state"], m["qos"]) for m in r["messages"]], [(parked[0], "parked", 2),
                                                                              (parked[1], "parked", 1)])
        eq(r["messages"][1]["size"], 2000)
        # the node keeps publishing: a new write goes straight through
        r = await c.execute("mqtt:publish", "write", {"topic": "lgh/park", "payload": "c", "qos": 1})
        eq(r["queued"], False)
        await got.wait("message-received", 3)
        r = await c.execute("mqtt:publish", "discard", {"outboxId": parked[0]})
        eq(r["discarded"], [parked[0]])
        e = await araises(ConnectorError, c.execute("mqtt:publish", "discard", {"outboxId": 999999}))
        eq(e.error, "INVALID_PARAMS")
        await c.close()
        # parked survives a reboot; retry puts it back in the queue (as a new message)
        c2 = make(prefix="LG_BROKER_LIMITS", history={"path": d})
        eq(c2.outbox.stats()["parked"], 1)
        r = await c2.execute("mqtt:publish", "retry", {"parked": True})
        eq((len(r["retried"]), c2.outbox.stats()["parked"], c2.outbox.stats()["pending"]), (1, 0, 1))
        await c2.execute("mqtt:publish", "discard", {"all": True})
        eq(c2.outbox.stats()["pending"], 0)
        await c2.close()
        await sub.close()
    finally:
        rmtree(d)


# ---- item 2: an incoming packet above maxPacketSize --------------------------------
async def test_an_oversized_retained_message_is_skipped_once_and_the_link_stays_up():
    from lgmqtt.net.client import Client

    big = Client({"host": env("LG_BROKER_HOST"), "port": int(env("LG_BROKER_PORT")), "clientId": "lgh-bigpub",
                  "maxPacketSize": 1 << 20})
    await big.connect()
    await big.publish("lgh/big/r", b"z" * 100000, 1, True)
    c = make(maxPacketSize=4096)
    ev = Events(c, "error", "disconnected", "message-received")
    await c.execute("mqtt:connection", "connect")
    await c.execute("mqtt:subscribe", "subscribe", {"topic": "lgh/big/#", "qos": 1})
    errs = await ev.wait("error")
    eq((errs[0]["error"], errs[0]["details"]["topic"]), ("PAYLOAD_TOO_LARGE", "lgh/big/r"))
    assert errs[0]["details"]["size"] > 100000, errs
    await big.publish("lgh/big/s", b"small", 1)
    msgs = await ev.wait("message-received")
    eq(msgs[0]["topic"], "lgh/big/s")
    await asyncio.sleep(0.5)
    eq((len(ev.seen["error"]), ev.seen["disconnected"]), (1, []))  # once, and no reconnect loop
    eq((await c.execute("mqtt:connection", "status"))["connected"], True)
    # the same on the remote-call topic, which anyone allowed to publish there can send
    await big.publish("lg/%s/rpc" % c.cfg["clientId"], b"{" * 9000, 1)
    await ev.wait("error", 2)
    eq(ev.seen["error"][1]["details"]["topic"], "lg/%s/rpc" % c.cfg["clientId"])
    eq(ev.seen["disconnected"], [])
    await big.publish("lgh/big/r", b"", 1, True)  # clear the retained message
    await big.disconnect()
    await c.close()


async def test_v5_oversized_packet_disconnects_once_then_is_skipped():
    async def script(conn, n):
        await connack(conn, 5)
        s = await conn.until(codec.SUBSCRIBE)
        await conn.send(codec.encode_suback(5, s.pid, [1]))
        await conn.send(codec.encode_publish(5, "r/big", b"z" * 5000, 1, True, False, 77))
        await conn.idle(1.5)

    b = await Hostile(free_port(0), script).start()
    c = make(free_port(0), 5, maxPacketSize=1024)
    ev = Events(c, "error", "connected", "disconnected")
    await c.execute("mqtt:connection", "connect")
    await c.execute("mqtt:subscribe", "subscribe", {"topic": "r/#", "qos": 1})
    await ev.wait("connected", 2)
    await asyncio.sleep(1)
    eq(b.connections, 2)  # not a loop
    d = b.of_type(codec.DISCONNECT)
    eq([p.reason_code for p in d], [0x95])  # the spec's behaviour, once
    eq([p.pid for p in b.of_type(codec.PUBACK)], [77])  # then skipped and acknowledged
    eq([e["error"] for e in ev.seen["error"]], ["PROTOCOL_ERROR", "PAYLOAD_TOO_LARGE"])
    await c.close()
    await b.stop()


# ---- item 3: bytes that trickle in without a packet -------------------------------
async def test_trickling_bytes_do_not_keep_the_link_alive_and_writes_return():
    async def script(conn, n):
        await connack(conn)
        if n > 1:
            return await _serve_normally_after_connack(conn)
        pub = codec.encode_publish(4, "t", b"x" * 200, 0)
        for i in range(len(pub)):
            await conn.send(pub[i:i + 1])
            await asyncio.sleep(0.5)
            if conn.eof:
                return

    b = await Hostile(free_port(1), script).start()
    c = make(free_port(1), keepalive=2)
    ev = Events(c, "error", "disconnected", "message-published")
    await c.execute("mqtt:connection", "connect")
    r = await asyncio.wait_for(c.execute("mqtt:publish", "write", {"topic": "t", "payload": "m", "qos": 1}), 10)
    eq(r["queued"], True)  # returned when the link was declared dead
    errs = await ev.wait("error")
    eq(errs[0]["error"], "KEEPALIVE_TIMEOUT")
    await ev.wait("message-published", timeout=10)  # re-sent on the next link
    await c.close()
    await b.stop()


async def _serve_normally_after_connack(conn, version=4):
    while True:
        p = await conn.recv(10)
        if p is None:
            return
        if p.type == codec.PINGREQ:
            await conn.send(codec.encode_pingresp())
        elif p.type == codec.PUBLISH and p.qos:
            await conn.send(codec.encode_ack(codec.PUBACK if p.qos == 1 else codec.PUBREC, version, p.pid))
        elif p.type == codec.PUBREL:
            await conn.send(codec.encode_ack(codec.PUBCOMP, version, p.pid))
        elif p.type == codec.SUBSCRIBE:
            await conn.send(codec.encode_suback(version, p.pid, [o & 3 for _, o in p.topics]))


# ---- item 4: a broker that answers pings but never PUBACK -------------------------
async def test_a_missing_puback_times_out_with_timeout_and_the_message_is_resent_with_dup():
    async def script(conn, n):
        if n == 1:
            await connack(conn)
            await conn.idle(5)  # pings answered, PUBLISH never acknowledged
        else:
            await _serve_normally(conn)

    b = await Hostile(free_port(2), script).start()
    c = make(free_port(2), ackTimeout=1000)
    ev = Events(c, "message-published")
    await c.execute("mqtt:connection", "connect")
    e = await araises(ConnectorError, asyncio.wait_for(
        c.execute("mqtt:publish", "write", {"topic": "t", "payload": "keep", "qos": 1}), 10))
    eq(e.error, "TIMEOUT")
    eq(c.outbox.stats()["pending"], 1)  # nothing lost
    await ev.wait("message-published", timeout=10)
    pubs = b.of_type(codec.PUBLISH)
    eq([p.dup for p in pubs], [False, True])
    eq(c.outbox.stats()["pending"], 0)
    await c.close()
    await b.stop()
    d = make(free_port(2))
    eq(d.cfg["ackTimeout"], 30000)  # on by default


# ---- item 9: CONNACK and a malformed packet in one read ---------------------------
async def test_connected_is_always_followed_by_one_disconnected_and_status_agrees():
    async def script(conn, n):
        p = await conn.expect(codec.CONNECT)
        if n == 1:
            await conn.send(codec.encode_connack(4, False, 0) + b"\xf0\x00")  # + AUTH: no such thing in 3.1.1
            await conn.idle(1)
        else:
            await conn.send(codec.encode_connack(4, False, 0))
            await _serve_normally_after_connack(conn)

    b = await Hostile(free_port(3), script).start()
    c = make(free_port(3))
    ev = Events(c, "connected", "disconnected", "error")
    try:
        await c.execute("mqtt:connection", "connect")
    except ConnectorError:
        pass
    await ev.wait("connected", 2)
    eq(ev.order[:3], ["connected", "error", "disconnected"])
    eq((await c.execute("mqtt:connection", "status"))["connected"], True)
    await c.execute("mqtt:connection", "disconnect")
    eq(ev.order.count("connected"), ev.order.count("disconnected"))
    eq((await c.execute("mqtt:connection", "status"))["connected"], False)
    await c.close()
    await b.stop()


# ---- item 10: a SUBACK with fewer codes than topics -------------------------------
async def test_short_suback_is_a_protocol_error_not_a_success():
    async def script(conn, n):
        await connack(conn)
        s = await conn.until(codec.SUBSCRIBE)
        if s is not None:
            await conn.send(codec.encode_suback(4, s.pid, [1]))
        await conn.idle(2)

    b = await Hostile(free_port(4), script).start()
    c = make(free_port(4))
    await c.execute("mqtt:connection", "connect")
    e = await araises(ConnectorError, c.execute("mqtt:subscribe", "subscribe", {"topics": ["a", "b"], "qos": 1}))
    eq(e.error, "PROTOCOL_ERROR")
    assert "2 topics" in e.message, e.message
    eq(c.subscriptions, {})
    await c.close()
    await b.stop()


# ---- item 11: PUBCOMP "Packet Identifier not found" during recovery (5.0) ----------
async def test_qos2_completed_with_0x92_after_a_resent_pubrel_is_published_not_refused():
    async def script(conn, n):
        if n == 1:
            await connack(conn, 5)
            p = await conn.until(codec.PUBLISH)
            await conn.send(codec.encode_ack(codec.PUBREC, 5, p.pid))
            await conn.until(codec.PUBREL)  # and the link dies before PUBCOMP
        else:
            await connack(conn, 5, True)
            r = await conn.until(codec.PUBREL)
            await conn.send(codec.encode_ack(codec.PUBCOMP, 5, r.pid, 0x92))
            await conn.idle(3)

    b = await Hostile(free_port(5), script).start()
    c = make(free_port(5), 5, clean=False)
    ev = Events(c, "message-published", "publish-error")
    await c.execute("mqtt:connection", "connect")
    await c.execute("mqtt:publish", "write", {"topic": "t", "payload": "once", "qos": 2})
    await ev.wait("message-published", timeout=10)
    eq(ev.seen["publish-error"], [])
    eq(c.outbox.stats()["pending"], 0)
    await c.close()
    await b.stop()


# ---- item 12: 5.0 CONNACK says no wildcard / shared subscriptions -----------------
async def test_v5_wildcard_and_shared_subscriptions_refused_when_the_broker_has_none():
    props = {codec.WILDCARD_SUBSCRIPTION_AVAILABLE: 0, codec.SHARED_SUBSCRIPTION_AVAILABLE: 0}

    async def script(conn, n):
        await _serve_normally(conn, 5, props=props)

    b = await Hostile(free_port(6), script).start()
    c = make(free_port(6), 5)
    await c.execute("mqtt:connection", "connect")
    for f in ("sensors/#", "$share/g/cmd"):
        e = await araises(ConnectorError, c.execute("mqtt:subscribe", "subscribe", {"topic": f, "qos": 1}))
        eq(e.error, "TOPIC_ERROR")
        assert "does not support" in e.message
    sent = [t for p in b.of_type(codec.SUBSCRIBE) for t, _ in p.topics]
    assert "sensors/#" not in sent and "$share/g/cmd" not in sent, sent  # nothing sent for them
    r = await c.execute("mqtt:subscribe", "subscribe", {"topic": "sensors/t", "qos": 1})
    eq(r["success"], True)
    await c.close()
    await b.stop()


# ---- item 13: a 3.1.1 CONNACK code named with the 3.1.1 table ---------------------
async def test_3_1_1_connack_return_code_named_as_3_1_1():
    async def script(conn, n):
        await conn.expect(codec.CONNECT)
        await conn.send(b"\x20\x02\x00\x01")

    b = await Hostile(free_port(7), script).start()
    c = make(free_port(7), 5, maxReconnectAttempts=1)
    e = await araises(ConnectorError, c.execute("mqtt:connection", "connect"))
    eq(e.error, "CONNECTION_FAILED")
    assert "unacceptable protocol version" in e.message, e.message
    await c.close()
    await b.stop()
