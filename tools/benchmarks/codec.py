# Codec throughput on the hot path: a QoS 1 PUBLISH with a 64-byte payload, encoded
# and decoded on MQTT 3.1.1 and 5.0, next to hand-rolled minimal loops that do only
# what the wire needs (the ceiling). Run under MicroPython:
#   MICROPYPATH=.frozen:lib micropython tools/benchmarks/codec.py
# (CPython works too: PYTHONPATH=lib python3 tools/benchmarks/codec.py)
import sys
import time

import lgapi

codec = lgapi.codec()

TOPIC = "sensors/node-7/temperature"
PAYLOAD = bytes(range(64))
SECONDS = 1.0

try:
    _ticks, _diff = time.ticks_us, time.ticks_diff

    def now():
        return _ticks()

    def elapsed(t0):
        return _diff(_ticks(), t0) / 1e6
except AttributeError:
    def now():
        return time.perf_counter()

    def elapsed(t0):
        return time.perf_counter() - t0


def rate(fn, arg):
    """Calls per second of fn(arg) over about SECONDS (batches of 200)."""
    n = 0
    t0 = now()
    while True:
        for _ in range(200):
            fn(arg)
        n += 200
        dt = elapsed(t0)
        if dt >= SECONDS:
            return n / dt


def raw_encode(pid):
    # The ceiling: fixed header, topic length, topic, packet id, payload; nothing checked.
    tb = TOPIC.encode()
    tl = len(tb)
    rl = 2 + tl + 2 + len(PAYLOAD)
    buf = bytearray(2 + rl)  # rl < 128 here
    buf[0] = 0x32
    buf[1] = rl
    buf[2] = tl >> 8
    buf[3] = tl & 0xFF
    buf[4:4 + tl] = tb
    buf[4 + tl] = pid >> 8
    buf[5 + tl] = pid & 0xFF
    buf[6 + tl:] = PAYLOAD
    return buf


def raw_decode(b):
    # The ceiling for decoding: same fields out (topic str, pid, payload bytes).
    tl = (b[2] << 8) | b[3]
    topic = str(b[4:4 + tl], "utf-8")
    pid = (b[4 + tl] << 8) | b[5 + tl]
    return topic, pid, b[6 + tl:]


def enc4(pid):
    return codec.encode_publish(4, TOPIC, PAYLOAD, 1, False, False, pid)


def enc5(pid):
    return codec.encode_publish(5, TOPIC, PAYLOAD, 1, False, False, pid)


def enc5_props(pid):
    return codec.encode_publish(5, TOPIC, PAYLOAD, 1, False, False, pid, {codec.CONTENT_TYPE: "application/json"})


def make_decode(version, data):
    d = codec.Decoder(version)

    def dec(_):
        d.feed(data)
        return d.next_packet()

    return dec


def make_stream_decode(version, data, k=16):
    # k packets arrive in one read (a burst): feed once, take k packets out.
    d = codec.Decoder(version)
    chunk = data * k

    def dec(_):
        d.feed(chunk)
        for _ in range(k):
            d.next_packet()

    return dec, k


def main():
    impl = sys.implementation.name
    print("codec bench on %s %s: QoS 1 PUBLISH, topic %d bytes, payload %d bytes" % (
        impl, ".".join(str(x) for x in sys.implementation.version[:3]), len(TOPIC), len(PAYLOAD)))
    p4 = bytes(enc4(1))
    p5 = bytes(enc5(1))
    assert bytes(raw_encode(1)) == p4, "hand-rolled encoder disagrees with the codec"
    print("packet sizes: v4 %d bytes, v5 %d bytes" % (len(p4), len(p5)))
    ceil_e = rate(raw_encode, 1)
    ceil_d = rate(raw_decode, p4)
    rows = [
        ("encode hand-rolled (ceiling)", ceil_e, ceil_e),
        ("encode v4", rate(enc4, 1), ceil_e),
        ("encode v5", rate(enc5, 1), ceil_e),
        ("encode v5 + contentType", rate(enc5_props, 1), ceil_e),
        ("decode hand-rolled (ceiling)", ceil_d, ceil_d),
        ("decode v4", rate(make_decode(4, p4), 0), ceil_d),
        ("decode v5", rate(make_decode(5, p5), 0), ceil_d),
    ]
    for version, data in ((4, p4), (5, p5)):
        fn, k = make_stream_decode(version, data)
        rows.append(("decode v%d, 16 per read" % version, rate(fn, 0) * k, ceil_d))
    for name, r, ceil in rows:
        print("%-30s %9.0f packets/s   %5.2f of ceiling" % (name, r, r / ceil))
    if "--json" in sys.argv:  # for tools/benchmarks/report.py
        import json

        for name, r, ceil in rows:
            print("@@BENCH " + json.dumps({"name": name, "rate": r, "ratio": r / ceil}))


main()
