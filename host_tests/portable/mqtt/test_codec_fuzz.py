# Seeded mutation fuzzing of the decoder, under CPython and MicroPython alike: valid
# packets of every type are mutated (bit flips, byte changes, insertions, deletions,
# cuts, splices, length tweaks) or replaced by random bytes, then fed in random
# chunkings. The only allowed outcomes are packets, "need more data" and
# ProtocolError; any other exception fails. The decoder's buffer for an incomplete
# packet must stay within max_packet_size, and every packet it accepts must encode
# back to a packet that decodes equal (what we accept, we could have sent).
#
# Counts: N_CASES inputs per interpreter (see the constants; the CPython hypothesis tests in
# host_tests/test_codec_hypothesis.py add about 6,000 more).
from check import Rng, eq
import mqttcodec as c
from lgmqtt.mqtt.wire import ProtocolError
from lgmqtt.compat import MICROPYTHON
from test_codec import client_packets, server_packets

HEAP = "4m"
TIMEOUT = 300
N_CASES = 50000 if MICROPYTHON else 100000


def corpus():
    out = []
    for v in (4, 5):
        for side, pk in ((True, client_packets(v)), (False, server_packets(v))):
            for p in pk:
                data = bytes(c.encode(p, v))
                # Richer packets (CONNECT, properties, SUBSCRIBE...) weigh more than acks.
                for _ in range(1 if len(data) < 10 else 4):
                    out.append((v, side, data))
    return out


def mutate(rng, data, corpus):
    b = bytearray(data)
    for _ in range(1 + rng.below(4)):
        op = rng.below(10)
        n = len(b)
        if op == 0 and n:
            i = rng.below(n)
            b[i] ^= 1 << rng.below(8)
        elif op == 1 and n:
            b[rng.below(n)] = rng.below(256)
        elif op == 2:
            i = rng.below(n + 1)
            b[i:i] = bytes(rng.below(256) for _ in range(1 + rng.below(4)))
        elif op == 3 and n:
            i = rng.below(n)
            b = b[:i] + b[i + 1 + rng.below(4):]
        elif op == 4 and n:
            b = b[:rng.below(n)]
        elif op == 5:
            b += corpus[rng.below(len(corpus))][2]
        elif op == 6 and n > 1:
            # Tweak the remaining length byte(s), the usual source of framing bugs.
            b[1] = (b[1] + (1 if rng.below(2) else 255)) & 0xFF
        elif op == 7 and n:
            # An interesting byte: 0, 0xFF, 0x80, 0x7F, a property id...
            b[rng.below(n)] = (0, 0xFF, 0x80, 0x7F, 0x26, 0x0B, 0x01, 0xC0)[rng.below(8)]
        elif op == 8 and n > 4:
            # Splice the tail of another packet after our fixed header.
            other = corpus[rng.below(len(corpus))][2]
            b = b[:2 + rng.below(n - 2)] + other[rng.below(len(other)):]
        elif op == 9 and n:
            i = rng.below(n)
            b[i:i] = b[i:i + 1 + rng.below(8)]
    return bytes(b)


def run_one(rng, data, version, server_side, max_size):
    d = c.Decoder(version, max_size, server_side)
    got = 0
    i = 0
    n = len(data)
    while i < n:
        k = 1 + rng.below(n - i if rng.below(3) == 0 else 8)
        d.feed(data[i:i + k])
        i += k
        assert d.buffered() <= max_size, "buffered %d > %d" % (d.buffered(), max_size)
        while True:
            try:
                p = d.next_packet()
            except ProtocolError as e:
                assert 0x80 <= e.reason_code <= 0xA2, e.reason_code
                return got, True
            if p is None:
                break
            got += 1
            check_reencodes(p, d, version)
    return got, False


def check_reencodes(p, d, version):
    v = d.version
    if p.type == c.CONNACK:
        # A CONNACK's shape says its version: 5.0 with properties or a 5.0 code, else
        # a 3.1.1 one (e.g. a 3.1.1 broker refusing a 5.0 CONNECT).
        v = 5 if p.props or p.reason_code > 5 else 4
    again = bytes(c.encode(p, v))
    d2 = c.Decoder(v, 1 << 28, d.server_side)
    d2.feed(again)
    q = d2.next_packet()
    eq(q, p, "re-encoded")


def test_mutated_and_random_inputs():
    rng = Rng(20240601)
    cases = corpus()
    stats = [0, 0, 0]  # packets, errors, incomplete
    for n in range(N_CASES):
        v, side, data = cases[rng.below(len(cases))]
        kind = rng.below(10)
        if kind == 0:
            data = bytes(rng.below(256) for _ in range(rng.below(64)))
        elif kind == 1:
            # A plausible first byte and random rest: deeper into the parsers.
            data = bytes((rng.below(16) << 4 | (2 if rng.below(2) else rng.below(16)),)) + \
                bytes(rng.below(256) for _ in range(rng.below(40)))
        elif kind < 9:
            data = mutate(rng, data, cases)
        # kind 9: the valid packet itself, among others
        if rng.below(8) == 0:
            v = 9 - v
            side = not side
        max_size = (16, 64, 300, 4096, 0x10000)[rng.below(5)]
        got, err = run_one(rng, data, v, side, max_size)
        stats[0] += got
        stats[1] += 1 if err else 0
        stats[2] += 0 if err else 1
    print("fuzz: %d inputs, %d packets decoded, %d protocol errors, %d ended without error" % (
        N_CASES, stats[0], stats[1], stats[2]))
    # The mix must exercise both outcomes a lot, or the mutations are too tame/wild.
    assert stats[0] > N_CASES // 10 and stats[1] > N_CASES // 4, stats


def test_valid_corpus_decodes_in_any_chunking():
    rng = Rng(99)
    for v, side, data in corpus():
        for _ in range(5):
            got, err = run_one(rng, data, v, side, 0x10000)
            eq((got, err), (1, False))
