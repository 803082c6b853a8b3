# The asyncio client against real Mosquitto brokers, on both interpreters.
import asyncio

from check import araises, env, eq
import mqttcodec as codec
from lgmqtt.net.client import Client, CONNECTED, ERROR, MESSAGE, WARNING
from lgmqtt.errors import ConnectorError, AUTHENTICATION_FAILED, CONNECTION_FAILED, PAYLOAD_TOO_LARGE

FIXTURES = ("mosquitto", "mosquitto_auth", "mosquitto_tls", "mosquitto_mtls", "mosquitto_limits", "free_ports")
TIMEOUT = 240

_n = [0]


def free_port(i):
    return int(env("LG_FREE_PORTS").split(",")[i])


def cfg(prefix="LG_BROKER", **kw):
    _n[0] += 1
    c = {"host": env(prefix + "_HOST"), "port": int(env(prefix + "_PORT")),
         "clientId": "lgt-%s-%d" % (kw.pop("tag", "c"), _n[0]), "keepalive": 30, "reconnectPeriod": 100,
         "connectTimeout": 5000}
    c.update(kw)
    return c


class Inbox:
    def __init__(self):
        self.msgs = []
        self.events = []
        self.ev = asyncio.Event()

    def __call__(self, kind, info):
        self.events.append((kind, info))
        if kind == MESSAGE:
            self.msgs.append(info)
            self.ev.set()

    async def wait_for(self, n, timeout=10):
        async def w():
            while len(self.msgs) < n:
                self.ev.clear()
                await self.ev.wait()
        await asyncio.wait_for(w(), timeout)
        return self.msgs


async def pair(version=4, **kw):
    inbox = Inbox()
    sub = Client(cfg(protocolVersion=version, tag="sub", **kw), inbox)
    pub = Client(cfg(protocolVersion=version, tag="pub", **kw))
    await sub.connect()
    await pub.connect()
    return sub, pub, inbox


async def test_qos_0_1_2_publish_and_receive_both_versions():
    for v in (4, 5):
        sub, pub, inbox = await pair(v)
        t = "lgt/qos/%d" % v
        eq(await sub.subscribe([(t, 2)]), [2])
        for q in (0, 1, 2):
            r = await pub.publish(t, b"q%d" % q, q)
            eq(r is None, q == 0)
        msgs = await inbox.wait_for(3)
        eq(sorted((m.payload, m.qos) for m in msgs), [(b"q0", 0), (b"q1", 1), (b"q2", 2)])
        await pub.disconnect()
        await sub.disconnect()


async def test_many_in_flight_at_once():
    sub, pub, inbox = await pair(5)
    await sub.subscribe([("lgt/many", 1)])
    pids = await asyncio.gather(*[pub.publish("lgt/many", b"%d" % i, 1 + i % 2) for i in range(60)])
    eq(len(set(pids)), 60)
    msgs = await inbox.wait_for(60)
    eq(sorted(int(m.payload) for m in msgs), list(range(60)))
    await pub.disconnect()
    await sub.disconnect()


async def test_retained_message():
    pub = Client(cfg())
    await pub.connect()
    await pub.publish("lgt/retained", b"last-value", 1, True)
    inbox = Inbox()
    sub = Client(cfg(), inbox)
    await sub.connect()
    await sub.subscribe([("lgt/retained", 1)])
    (m,) = await inbox.wait_for(1)
    eq((m.payload, m.retain), (b"last-value", True))
    await pub.publish("lgt/retained", b"", 1, True)  # clear it
    await pub.disconnect()
    await sub.disconnect()


async def test_last_will_on_abrupt_close():
    inbox = Inbox()
    sub = Client(cfg(), inbox)
    await sub.connect()
    await sub.subscribe([("lgt/will/+", 1)])
    dev = Client(cfg(will=codec.Will("lgt/will/dev", b"offline", 1, False), tag="will"))
    await dev.connect()
    await dev.abort()  # power cut: the socket closes without DISCONNECT
    (m,) = await inbox.wait_for(1)
    eq((m.topic, m.payload), ("lgt/will/dev", b"offline"))
    await sub.disconnect()


async def test_v5_properties_round_trip():
    sub, pub, inbox = await pair(5)
    await sub.subscribe([("lgt/props", 1)])
    props = {codec.CONTENT_TYPE: "application/json", codec.MESSAGE_EXPIRY_INTERVAL: 300,
             codec.USER_PROPERTY: [("site", "greenhouse"), ("site", "north")], codec.RESPONSE_TOPIC: "lgt/reply",
             codec.CORRELATION_DATA: b"\x01\x02", codec.PAYLOAD_FORMAT_INDICATOR: 1}
    await pub.publish("lgt/props", b'{"t": 1}', 1, False, props)
    (m,) = await inbox.wait_for(1)
    for k in (codec.CONTENT_TYPE, codec.USER_PROPERTY, codec.RESPONSE_TOPIC, codec.CORRELATION_DATA,
              codec.PAYLOAD_FORMAT_INDICATOR):
        eq(m.props[k], props[k], "property %d" % k)
    assert 0 < m.props[codec.MESSAGE_EXPIRY_INTERVAL] <= 300
    await pub.disconnect()
    await sub.disconnect()


async def test_wrong_password_is_authentication_failed_and_backs_off():
    inbox = Inbox()
    c = Client(cfg("LG_BROKER_AUTH", username=env("LG_BROKER_AUTH_USER"), password="wrong-password",
                   reconnectPeriod=50, authRetryPeriod=400), inbox)
    e = await araises(ConnectorError, c.connect())
    eq(e.error, AUTHENTICATION_FAILED)
    eq(e.details["username"], env("LG_BROKER_AUTH_USER"))
    await asyncio.sleep(1.2)
    attempts = c.attempts
    await c.disconnect()
    # backed off (>= 400 ms, doubling): a tight loop would have made dozens of attempts
    assert 2 <= attempts <= 4, attempts
    assert "wrong-password" not in repr(c.status()) + repr(inbox.events)
    ok = Client(cfg("LG_BROKER_AUTH", username=env("LG_BROKER_AUTH_USER"), password=env("LG_BROKER_AUTH_PASSWORD")))
    await ok.connect()
    await ok.disconnect()


def _certs(name):
    with open(env("LG_BROKER_TLS_CERTS") + "/" + name, "rb") as f:
        return f.read()


async def test_tls_right_ca_works_wrong_ca_refused():
    c = Client(cfg("LG_BROKER_TLS", port=int(env("LG_BROKER_TLS_TLS_PORT")), protocol="mqtts",
                   tls={"ca": _certs("ca.crt")}))
    await c.connect()
    await c.publish("lgt/tls", b"secure", 1)
    await c.disconnect()
    bad = Client(cfg("LG_BROKER_TLS", port=int(env("LG_BROKER_TLS_TLS_PORT")), protocol="mqtts",
                     tls={"ca": _certs("wrongca.crt")}, maxReconnectAttempts=1))
    e = await araises(ConnectorError, bad.connect())
    eq(e.error, CONNECTION_FAILED)
    assert "certificate" in e.details["reason"].lower() or "verif" in e.details["reason"].lower(), e.details
    await bad.disconnect()
    inbox = Inbox()
    lax = Client(cfg("LG_BROKER_TLS", port=int(env("LG_BROKER_TLS_TLS_PORT")), protocol="mqtts",
                     tls={"ca": _certs("wrongca.crt")}, rejectUnauthorized=False), inbox)
    await lax.connect()
    eq(len([e for e in inbox.events if e[0] == WARNING]), 1)
    await lax.disconnect()


async def test_mutual_tls():
    certs = env("LG_BROKER_MTLS_CERTS") + "/"
    port = int(env("LG_BROKER_MTLS_TLS_PORT"))
    with open(certs + "client.crt", "rb") as f:
        cert = f.read()
    with open(certs + "client.key", "rb") as f:
        key = f.read()
    c = Client(cfg("LG_BROKER_MTLS", port=port, protocol="mqtts", tls={"ca": _certs("ca.crt"), "cert": cert, "key": key}))
    await c.connect()
    await c.publish("lgt/mtls", b"x", 1)
    await c.disconnect()
    anon = Client(cfg("LG_BROKER_MTLS", port=port, protocol="mqtts", tls={"ca": _certs("ca.crt")}, maxReconnectAttempts=1))
    e = await araises(ConnectorError, anon.connect())
    eq(e.error, CONNECTION_FAILED)
    await anon.disconnect()


async def test_failover_to_second_broker_and_back():
    good = {"host": env("LG_BROKER_HOST"), "port": int(env("LG_BROKER_PORT"))}
    down = {"host": "127.0.0.1", "port": 1}
    inbox = Inbox()
    c = Client(cfg(brokers=[down, good], failover=True, reconnectPeriod=50), inbox)
    e = await araises(ConnectorError, c.connect())  # the first attempt fails on broker 0...
    eq(e.error, CONNECTION_FAILED)
    await c.wait_connected(5000)  # ...and the supervisor moves to broker 1
    eq(c.status()["broker"], "%s:%d" % (good["host"], good["port"]))
    eq(c.status()["brokerIndex"], 1)
    c2 = Client(cfg(brokers=[good, down], failover=True))
    await c2.connect()
    eq(c2.status()["brokerIndex"], 0)
    await c2.disconnect()
    await c.disconnect()


async def test_switch_to_another_broker_and_back_when_asked():
    a = {"host": env("LG_BROKER_HOST"), "port": int(env("LG_BROKER_PORT"))}
    b = {"host": env("LG_BROKER_LIMITS_HOST"), "port": int(env("LG_BROKER_LIMITS_PORT"))}
    inbox = Inbox()
    c = Client(cfg(brokers=[a, b], failover=True), inbox)
    await c.connect()
    eq(c.status()["brokerIndex"], 0)
    await c.use_broker(1)
    await c.wait_connected(5000)
    eq(c.status()["broker"], "%s:%d" % (b["host"], b["port"]))
    await c.publish("lgt/switch", b"on-b", 1)
    await c.use_broker(0)
    await c.wait_connected(5000)
    eq(c.status()["brokerIndex"], 0)
    await c.publish("lgt/switch", b"on-a", 1)
    eq([k for k, _ in inbox.events if k == CONNECTED], [CONNECTED] * 3)
    await c.disconnect()


async def test_broker_limits_respected():
    inbox = Inbox()
    c = Client(cfg("LG_BROKER_LIMITS", protocolVersion=5), inbox)
    await c.connect()
    eq(c.session.broker_max_packet_size, 1024)
    eq(c.session.broker_receive_maximum, 5)
    e = await araises(ConnectorError, c.publish("lgt/big", b"x" * 2000, 1))
    eq(e.error, PAYLOAD_TOO_LARGE)
    await c.subscribe([("lgt/lim", 1)])
    pids = await asyncio.gather(*[c.publish("lgt/lim", b"%d" % i, 1) for i in range(20)])
    eq(len(pids), 20)
    await inbox.wait_for(20)
    assert c.connected  # the broker never had to drop us for exceeding its window
    await c.disconnect()


async def test_non_ascii_topic_and_200_byte_payload_intact():
    sub, pub, inbox = await pair(5)
    topic = "lgt/température/東京/ü"
    payload = ("Grüße aus 東京 ✓ " * 20).encode()[:200]
    await sub.subscribe([(topic, 1)])
    await pub.publish(topic, payload, 1)
    (m,) = await inbox.wait_for(1)
    eq((m.topic, m.payload, len(m.payload)), (topic, payload, 200))
    await pub.disconnect()
    await sub.disconnect()


async def test_connected_event_and_status_hide_password():
    inbox = Inbox()
    c = Client(cfg("LG_BROKER_AUTH", username=env("LG_BROKER_AUTH_USER"),
                   password=env("LG_BROKER_AUTH_PASSWORD")), inbox)
    await c.connect()
    kinds = [k for k, _ in inbox.events]
    assert CONNECTED in kinds and ERROR not in kinds, kinds
    assert env("LG_BROKER_AUTH_PASSWORD") not in repr(c.status())
    eq(c.status()["connected"], True)
    await c.disconnect()
    eq(c.status()["connected"], False)


async def test_a_broker_that_keeps_kicking_us_gets_backoff_not_a_storm():
    # Two clients with one client id: the broker drops the older one each time the
    # other connects. Without backoff after a short-lived link they would reconnect
    # thousands of times a second.
    a = Client(cfg(clientId="lgt-twin", reconnectPeriod=100, maxReconnectPeriod=400))
    b = Client(cfg(clientId="lgt-twin", reconnectPeriod=100, maxReconnectPeriod=400))
    await a.connect()
    await b.connect()
    await asyncio.sleep(2)
    total = a.attempts + b.attempts
    await a.disconnect()
    await b.disconnect()
    assert 3 <= total <= 30, total


async def test_disconnect_while_connecting_leaves_nothing_alive():
    async def silent(reader, writer):
        await asyncio.sleep(3)

    port = free_port(2)
    server = await asyncio.start_server(silent, "127.0.0.1", port)
    inbox = Inbox()
    c = Client(cfg(port=port, connectTimeout=2000), inbox)
    task = asyncio.create_task(c.connect())
    await asyncio.sleep(0.2)
    await c.disconnect()
    e = await araises(ConnectorError, task)
    eq(e.error, "NOT_CONNECTED")
    await asyncio.sleep(0.3)
    eq((c.connected, c.status()["state"] in ("disconnected", "closed")), (False, True))
    eq([k for k, _ in inbox.events if k == CONNECTED], [])
    server.close()


async def test_clean_disconnect_reports_once():
    inbox = Inbox()
    c = Client(cfg(), inbox)
    await c.connect()
    await c.publish("lgt/bye", b"x", 1)
    await c.disconnect()
    await asyncio.sleep(0.1)
    gone = [i for k, i in inbox.events if k == "disconnected"]
    eq([g["reason"] for g in gone], ["client disconnect"])
    eq(c.session.window(), 20)  # nothing counted as in flight any more


async def test_memory_error_in_the_reader_reaches_the_caller_and_the_link_recovers():
    inbox = Inbox()
    c = Client(cfg(), inbox)
    await c.connect()
    real = c.session.receive_data
    boom = [True]

    def receive_data(data, now):
        if boom[0]:
            boom[0] = False
            raise MemoryError("memory allocation failed")
        return real(data, now)

    c.session.receive_data = receive_data
    e = await araises(ConnectorError, c.publish("lgt/oom", b"x", 1))  # its PUBACK hits the failure
    eq((e.error, e.details["task"]), ("INTERNAL_ERROR", "reader"))
    await c.wait_connected(5000)  # the link restarted by itself
    await c.publish("lgt/oom", b"y", 1)
    assert any(k == ERROR and "MemoryError" in i.message for k, i in inbox.events), inbox.events
    await c.disconnect()


async def test_a_link_dropped_with_no_heap_left_still_closes_its_socket_and_comes_back():
    # The end of a link must not need heap: a MemoryError in its reports (the events,
    # the failed requests, the close's own coroutine) used to leave the socket, and on a
    # board its TLS buffers, open while the supervisor made a new one. Here the whole
    # teardown runs with the heap locked (MicroPython; a plain call on CPython).
    from check import without_heap

    inbox = Inbox()
    c = Client(cfg(tag="noheap"), inbox)
    await c.connect()
    st = c._stream
    coro = c._drop_link("test: no heap")

    def step():
        try:
            coro.send(None)
        except StopIteration:
            pass
        except MemoryError:  # raising StopIteration needs heap too: the teardown itself is done
            pass

    without_heap(step)
    coro.close()
    eq((c._stream, c._link_dead.is_set(), c.connected), (None, True, False))
    try:
        sock = st._io.s  # MicroPython: the stream's socket, closed
    except AttributeError:
        sock = st._io[1].transport  # CPython: the transport, closing
        assert sock.is_closing()
    else:
        try:
            sock.send(b"\xc0\x00")
            assert False, "the socket is still open"
        except OSError:
            pass
    await c.wait_connected(5000)  # the supervisor made a new link
    eq(c.connected, True)
    await c.disconnect()


async def test_the_supervisor_outlives_a_memory_error_of_its_own():
    # A MemoryError in the supervisor's own steps (here its back-off sleep, the seam
    # lgmqtt.net.supervisor._sleep_ms) used to end the supervisor task: the client then
    # never reconnected. Now it waits a second and goes on.
    from lgmqtt.net import supervisor

    c = Client(cfg(tag="supmem"))
    await c.connect()
    real = supervisor._sleep_ms
    hits = []

    async def sleep_ms(ms):
        if not hits:
            hits.append(ms)
            raise MemoryError("memory allocation failed")
        await real(ms)

    supervisor._sleep_ms = sleep_ms
    try:
        await c._drop_link("test: the link dies")
        await asyncio.sleep(0.05)
        eq((len(hits), c.connected), (1, False))
        await c.wait_connected(8000)  # back after the second's pause
        eq((c.connected, c._sup is not None), (True, True))
    finally:
        supervisor._sleep_ms = real
    await c.disconnect()
