# The asyncio client against a randomly misbehaving broker on a real socket, both
# interpreters: each connection the broker answers, stays silent, sends garbage, closes,
# acknowledges some packets and not others, or trickles. Callers publish QoS 0/1/2 and
# subscribe meanwhile. Every caller must return (a result or a ConnectorError) within a
# bound, no background task may die unnoticed (the loop's exception handler sees none),
# and the client still works against a polite broker afterwards.
import asyncio

from check import Rng, env, eq
from hostile import Hostile
import mqttcodec as codec
from lgmqtt.net.client import Client
from lgmqtt.errors import ConnectorError

FIXTURES = ("free_ports",)
TIMEOUT = 300
N_LINKS = 40


def _port():
    return int(env("LG_FREE_PORTS").split(",")[7])


async def _chaos(rng, conn):
    p = await conn.recv(2)
    if p is None or p.type != codec.CONNECT:
        return
    v = p.proto_level if p.proto_level in (4, 5) else 4
    mode = rng.below(8)
    if mode == 0:
        return  # close at once
    if mode == 1:
        await asyncio.sleep(0.25)  # silent: the connect times out
        return
    if mode == 2:
        await conn.send(bytes(rng.below(256) for _ in range(1 + rng.below(8))))  # garbage instead of CONNACK
        return
    await conn.send(codec.encode_connack(v, False, 0 if mode != 3 else (5 if v == 4 else 0x87)))
    for _ in range(rng.below(6)):
        q = await conn.recv(0.1)
        if q is None:
            if rng.below(3) == 0:
                return
            continue
        r = rng.below(10)
        if q.type == codec.PUBLISH and q.qos and r < 6:
            await conn.send(codec.encode_ack(codec.PUBACK if q.qos == 1 else codec.PUBREC, v, q.pid))
        elif q.type == codec.PUBREL and r < 7:
            await conn.send(codec.encode_ack(codec.PUBCOMP, v, q.pid))
        elif q.type == codec.SUBSCRIBE and r < 6:
            await conn.send(codec.encode_suback(v, q.pid, [1] * (len(q.topics) if r else 1 + len(q.topics))))
        elif q.type == codec.PINGREQ and r < 8:
            await conn.send(codec.encode_pingresp())
        elif r == 8:
            await conn.send(codec.encode_ack(codec.PUBACK, v, 1 + rng.below(60)))  # an id not in flight
        elif r == 9:
            pub = codec.encode_publish(v, "x", b"y" * 10, 0)
            await conn.send(pub[:1 + rng.below(len(pub) - 1)])  # truncated
            return


async def test_client_survives_a_random_broker_and_every_caller_returns():
    rng = Rng(0xC11E7)
    failures = []
    loop = asyncio.get_event_loop()
    loop.set_exception_handler(lambda l, ctx: failures.append(ctx.get("exception") or ctx.get("message")))
    polite = [False]

    async def script(conn, n):
        if polite[0]:
            from hostile import connack
            await connack(conn)
            while True:
                q = await conn.recv(5)
                if q is None:
                    return
                if q.type == codec.PUBLISH and q.qos == 1:
                    await conn.send(codec.encode_ack(codec.PUBACK, 4, q.pid))
                elif q.type == codec.PINGREQ:
                    await conn.send(codec.encode_pingresp())
        else:
            await _chaos(rng, conn)

    b = await Hostile(_port(), script).start()
    c = Client({"host": "127.0.0.1", "port": _port(), "clientId": "lgfz", "reconnectPeriod": 100,
                "maxReconnectPeriod": 100, "connectTimeout": 200, "ackTimeout": 400, "keepalive": 1})
    async def first_connect():
        try:
            await c.connect()  # its first outcome; the supervisor goes on either way
        except ConnectorError:
            pass

    first = asyncio.create_task(first_connect())
    calls = [0, 0]  # returned with a result, returned with ConnectorError

    async def caller(i):
        try:
            k = rng.below(4)
            if k == 3:
                await c.subscribe([("s/%d" % i, 1)])
            else:
                await c.publish("t", b"%d" % i, k)
            calls[0] += 1
        except ConnectorError:
            calls[1] += 1

    i = 0
    while b.connections < N_LINKS:
        tasks = [asyncio.create_task(caller(i + j)) for j in range(3)]
        i += 3
        for t in tasks:
            # every caller returns: bounded by ackTimeout / connectTimeout and the reconnects
            await asyncio.wait_for(t, 30)
    polite[0] = True
    await c.wait_connected(5000)
    eq(await asyncio.wait_for(c.publish("t", b"after", 1), 5) is not None, True)
    await c.disconnect()
    await b.stop()
    await first
    eq(failures, [])
    assert calls[0] > 0 and calls[1] > 0, calls
    assert b.connections >= N_LINKS
