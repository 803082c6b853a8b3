# Runs under MicroPython (tools/benchmarks/client.py starts it): publish-rate benchmarks of
# lgmqtt against baselines, all in ONE interpreter process against one local Mosquitto,
# so the figures compare as ratios. Prints one "RESULT name msgs count seconds" line each.
# argv: host port [umqtt-dir]
import asyncio
import gc
import socket
import struct
import sys
import time

HOST = sys.argv[1]
PORT = int(sys.argv[2])
PAYLOAD = b"x" * 64
TOPIC = "bench/lg"
N0, N1, N2 = 5000, 2000, 1000


def result(name, n, t_ms):
    print("RESULT %s %d %.4f %d" % (name, n, t_ms / 1000, int(n * 1000 / t_ms) if t_ms else 0))


def _connect_pkt(cid):
    cid = cid.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(cid)) + cid
    return bytes([0x10, len(body)]) + body


def _pub_pkt(qos, pid):
    t = TOPIC.encode()
    vh = struct.pack("!H", len(t)) + t + (struct.pack("!H", pid) if qos else b"")
    body = vh + PAYLOAD
    return bytes([0x30 | qos << 1, len(body)]) + body


def raw_socket_qos0():
    # The ceiling: a blocking socket writing prebuilt packets, then one QoS 1 round trip
    # so the time covers the broker having read everything.
    s = socket.socket()
    s.connect(socket.getaddrinfo(HOST, PORT)[0][-1])
    s.setsockopt(6, 1, 1)
    s.write(_connect_pkt("bench-raw"))
    s.read(4)
    pkt = _pub_pkt(0, 0)
    t0 = time.ticks_ms()
    for _ in range(N0):
        s.write(pkt)
    s.write(_pub_pkt(1, 1))
    s.read(4)
    result("raw_socket_qos0", N0, time.ticks_diff(time.ticks_ms(), t0))
    s.close()


async def raw_asyncio_qos0():
    r, w = await asyncio.open_connection(HOST, PORT)
    w.write(_connect_pkt("bench-rawa"))
    await w.drain()
    await r.readexactly(4)
    pkt = _pub_pkt(0, 0)
    t0 = time.ticks_ms()
    for _ in range(N0):
        w.write(pkt)
        await w.drain()
    w.write(_pub_pkt(1, 1))
    await w.drain()
    await r.readexactly(4)
    result("raw_asyncio_qos0_drain_each", N0, time.ticks_diff(time.ticks_ms(), t0))
    w.close()
    await w.wait_closed()


async def raw_asyncio_qos1_window(window=20):
    r, w = await asyncio.open_connection(HOST, PORT)
    w.s.setsockopt(6, 1, 1)
    w.write(_connect_pkt("bench-rawq1"))
    await w.drain()
    await r.readexactly(4)
    free = asyncio.Event()
    state = [0, 0]  # sent, acked

    async def reader():
        while state[1] < N1:
            await r.readexactly(4)
            state[1] += 1
            free.set()

    t0 = time.ticks_ms()
    rt = asyncio.create_task(reader())
    pid = 0
    while state[0] < N1:
        if state[0] - state[1] >= window:
            free.clear()
            await free.wait()
            continue
        pid = pid % 65535 + 1
        w.write(_pub_pkt(1, pid))
        await w.drain()
        state[0] += 1
    await rt
    result("raw_asyncio_qos1_window20", N1, time.ticks_diff(time.ticks_ms(), t0))
    w.close()
    await w.wait_closed()


def umqtt_runs():
    try:
        from umqtt.simple import MQTTClient
    except ImportError as e:
        print("SKIP umqtt.simple not available: %s" % e)
        return
    c = MQTTClient("bench-umqtt", HOST, PORT)
    c.connect()
    t0 = time.ticks_ms()
    for _ in range(N0):
        c.publish(TOPIC, PAYLOAD)
    c.publish(TOPIC, PAYLOAD, qos=1)
    result("umqtt_simple_qos0", N0, time.ticks_diff(time.ticks_ms(), t0))
    # QoS 1 is stop-and-wait: without TCP_NODELAY it runs at ~23 msgs/s (Nagle + delayed ACK)
    c.sock.setsockopt(6, 1, 1)
    t0 = time.ticks_ms()
    for _ in range(N1):
        c.publish(TOPIC, PAYLOAD, qos=1)
    result("umqtt_simple_qos1_nodelay", N1, time.ticks_diff(time.ticks_ms(), t0))
    c.disconnect()


async def lgmqtt_runs():
    import lgapi

    Client = lgapi.client_class()

    c = Client({"host": HOST, "port": PORT, "clientId": "bench-lg", "maxInflight": 20})
    await c.connect()
    t0 = time.ticks_ms()
    for _ in range(N0):
        await c.publish(TOPIC, PAYLOAD, 0)
    await c.publish(TOPIC, PAYLOAD, 1)
    result("lgmqtt_qos0", N0, time.ticks_diff(time.ticks_ms(), t0))
    for qos, n, name in ((1, N1, "lgmqtt_qos1"), (2, N2, "lgmqtt_qos2")):
        # 20 producers publishing back to back: the window stays full, as in the raw
        # baseline (each publish returns when its own handshake completes)
        async def producer(k):
            for _ in range(k):
                await c.publish(TOPIC, PAYLOAD, qos)

        t0 = time.ticks_ms()
        await asyncio.gather(*[producer(n // 20) for _ in range(20)])
        result(name, n, time.ticks_diff(time.ticks_ms(), t0))
    await c.disconnect()


def main():
    raw_socket_qos0()
    asyncio.run(raw_asyncio_qos0())
    asyncio.run(raw_asyncio_qos1_window())
    umqtt_runs()
    gc.collect()
    asyncio.run(lgmqtt_runs())


main()
