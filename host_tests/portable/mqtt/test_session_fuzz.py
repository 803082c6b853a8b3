# Fuzz of the session layer (not only the codec), under both interpreters: random
# sequences of what a broker may send -- well-formed and malformed packets, CONNACKs at
# any time, duplicate and unknown packet ids, oversized packets, truncated reads and
# arbitrary chunking -- interleaved with what the application does (publish, subscribe,
# ping, disconnect), the clock (tick) and lost links (connection_lost, connect again).
#
# The properties: receive_data() and tick() never raise (a broken broker is one
# EV_ERROR); commands raise only ConnectorError; the decoder never buffers more than
# max_packet_size; in-flight state never outgrows what the caller accepted (65535 ids);
# the events are well formed; and every publish the caller made ends exactly once --
# acknowledged, refused or given up -- or is still in flight (a caller waiting on it
# is always answered, never forgotten). N_SEQUENCES sequences per interpreter.
from check import Rng, eq
import mqttcodec as c
from lgmqtt.mqtt import session as S
from lgmqtt.compat import MICROPYTHON
from lgmqtt.errors import ConnectorError

HEAP = "2m"
TIMEOUT = 400
N_SEQUENCES = 20000
_MAX = 512  # the session's max_packet_size in the fuzz: oversized packets are easy to make
_TOPICS = ("a", "a/b", "cmd/x", "", "a/+", "\x00", "$SYS/x")


def _pub(rng, v, pid=None):
    qos = rng.below(3)
    topic = _TOPICS[rng.below(len(_TOPICS))]
    if not topic and v == 4:
        topic = "t"
    try:
        props = {c.TOPIC_ALIAS: 1 + rng.below(20)} if v == 5 and rng.below(4) == 0 else None
        if not topic and not props:
            props = {c.TOPIC_ALIAS: 1}
        return bytes(c.encode_publish(v, topic, b"p" * rng.below(700 if rng.below(6) == 0 else 40), qos,
                                      rng.below(2) == 1, qos > 0 and rng.below(3) == 0,
                                      (pid or 1 + rng.below(8)) if qos else None, props))
    except ValueError:
        return b"\x30\x00"


def _broker_bytes(rng, s, v):
    """One thing a broker could send now, as bytes."""
    k = rng.below(24)
    if k >= 16:  # mostly the well-formed traffic of a working link
        k = 4 + rng.below(5)
    pids = [p for p, r in s._inflight.items() if r[S.R_ON_WIRE]]
    pid = pids[rng.below(len(pids))] if pids and rng.below(6) else 1 + rng.below(8)
    if 4 <= k <= 8 and not pids and rng.below(4):
        k = 10 if rng.below(2) else 2  # nothing to acknowledge: a ping answer or a message
    if k == 0:
        return bytes(c.encode_connack(v, rng.below(2) == 1, (0, 0, 0, 0x87 if v == 5 else 5, 0x80 if v == 5 else 4)[
            rng.below(5)],
                                      {c.RECEIVE_MAXIMUM: 1 + rng.below(3)} if v == 5 and rng.below(2) else None))
    if k <= 3:
        return _pub(rng, v)
    if k <= 8:
        rec = s._inflight.get(pid)
        if rec is not None and rng.below(4):  # the right acknowledgement for its stage
            t = c.PUBACK if rec[S.R_QOS] == 1 else c.PUBREC if rec[S.R_STAGE] == 0 else c.PUBCOMP
        else:
            t = (c.PUBACK, c.PUBREC, c.PUBREL, c.PUBCOMP)[rng.below(4)]
        rc = 0 if rng.below(3) else (0x80, 0x92, 0x10)[rng.below(3)]
        try:
            return bytes(c.encode_ack(t, v, pid, rc if v == 5 else 0))
        except ValueError:
            return bytes(c.encode_ack(t, v, pid, 0))
    if k == 9:
        acks = list(s._acks)
        apid = acks[0] if acks and rng.below(3) else 1 + rng.below(8)
        n = 1 + rng.below(3)
        if rng.below(2):
            return bytes(c.encode_suback(v, apid, [rng.below(3)] * n))
        return bytes(c.encode_unsuback(v, apid, [0] * n if v == 5 else ()))
    if k == 10:
        return bytes(c.encode_pingresp())
    if k == 11:
        return bytes(c.encode_disconnect(5, 0x8B)) if v == 5 else b"\xe0\x00"
    if k == 12:  # random garbage
        return bytes(rng.below(256) for _ in range(1 + rng.below(6)))
    if k == 13:  # a packet with its remaining length bent
        b = bytearray(_pub(rng, v))
        b[1] = (b[1] + 1 + rng.below(3)) & 0x7F
        return bytes(b)
    if k == 14:  # oversized PUBLISH
        return bytes(c.encode_publish(v, "big", b"z" * (_MAX + rng.below(2000)), 1, False, False, 1 + rng.below(8)))
    return bytes(c.encode_auth(0x18)) if v == 5 else b"\xf0\x00"


def _check_events(evs, mine, ended):
    for e in evs:
        k = e[0]
        if k == S.EV_ERROR:
            if len(e) != 4 or not isinstance(e[2], str) or not isinstance(e[3], str):
                raise AssertionError("bad EV_ERROR %r" % (e,))
        elif k in (S.EV_PUBLISHED, S.EV_GAVE_UP):
            if e[1] not in mine:
                raise AssertionError("end of a publish nobody made: %r" % (e,))
            mine.discard(e[1])
            ended[0] += 1
        elif k == S.EV_MESSAGE:
            p = e[1]
            if not p.topic or p.qos not in (0, 1, 2):
                raise AssertionError("bad message %r" % p)
        elif k not in (S.EV_CONNACK, S.EV_SUBACK, S.EV_UNSUBACK, S.EV_DISCONNECT, S.EV_AUTH, S.EV_PINGRESP,
                       S.EV_PUBREC, S.EV_ACK_TIMEOUT, S.EV_OVERSIZE):
            raise AssertionError("unknown event %r" % (e,))


def _sequence(rng, stats):
    v = 4 + rng.below(2)
    s = S.Session(client_id="fz", version=v, keepalive=rng.below(3) * 5, clean_start=rng.below(2) == 1,
                  max_packet_size=_MAX, receive_maximum=1 + rng.below(4), max_inflight=1 + rng.below(5),
                  ack_timeout_ms=rng.below(2) * 3000, topic_alias_maximum=rng.below(3) * 4)
    now = 0
    mine = set()  # pids of publishes the caller made that have not ended
    ended = [0]
    s.connect(now)
    if rng.below(4):  # mostly a broker that accepts at first
        s.receive_data(bytes(c.encode_connack(v, False, 0)), now)
    for _ in range(4 + rng.below(16)):
        op = rng.below(10)
        if s.state in (S.CLOSED, S.DISCONNECTED) and rng.below(2):
            op = 8  # the client's supervisor reconnects after a failure
        try:
            if op <= 4:  # the broker speaks, in random chunks
                data = _broker_bytes(rng, s, v)
                if s.state == S.CONNECTING and rng.below(2):
                    data = bytes(c.encode_connack(v, rng.below(2) == 1, 0)) + data
                i = 0
                while i < len(data):
                    k = 1 + rng.below(len(data) - i)
                    _check_events(s.receive_data(data[i:i + k], now), mine, ended)
                    i += k
            elif op == 5:
                try:
                    pid = s.publish(_TOPICS[rng.below(3)], b"m", rng.below(3), False, None, now)
                    if pid is not None:
                        if pid in mine:
                            raise AssertionError("packet id %d given out twice" % pid)
                        mine.add(pid)
                except ConnectorError:
                    stats[1] += 1
            elif op == 6:
                try:
                    if rng.below(2):
                        s.subscribe([("a/#", 1)] if rng.below(2) else [("a", 0), ("b", 2)], None, now)
                    else:
                        s.unsubscribe(["a/#"] if rng.below(2) else ["a", "b"], None, now)
                except ConnectorError:
                    stats[1] += 1
            elif op == 7:
                now += rng.below(20000) if rng.below(8) == 0 else rng.below(2000)
                _check_events(s.tick(now), mine, ended)
            elif op == 8:
                _check_events(s.connection_lost(rng.below(4) != 0), mine, ended)
                s.connect(now)
                if rng.below(4):
                    present = not s.clean_start and rng.below(2) == 1
                    _check_events(s.receive_data(bytes(c.encode_connack(v, present, 0)), now), mine, ended)
            else:
                try:
                    s.ping(now) if rng.below(2) else s.disconnect(0, None, now)
                except ConnectorError:
                    stats[1] += 1
        except ConnectorError:
            raise AssertionError("a ConnectorError escaped from the broker's side")
        s.take_outbound()
        if s.decoder is not None and s.decoder.buffered() > _MAX:
            raise AssertionError("decoder holds %d bytes" % s.decoder.buffered())
        if set(s._inflight) != mine:
            raise AssertionError("in flight %r, callers waiting on %r" % (sorted(s._inflight), sorted(mine)))
        if s.state not in (S.DISCONNECTED, S.CONNECTING, S.CONNECTED, S.CLOSED):
            raise AssertionError("state %r" % s.state)
    stats[0] += ended[0]


def test_session_fuzz_nothing_escapes_and_every_publish_is_accounted_for():
    import gc

    rng = Rng(0x5E551)
    stats = [0, 0]  # publishes ended, caller errors raised
    heap = []
    for n in range(N_SEQUENCES):
        try:
            _sequence(rng, stats)
        except Exception as e:  # noqa: B902 - report the sequence number
            raise AssertionError("sequence %d: %r" % (n, e))
        if MICROPYTHON and n % 4000 == 1000:
            gc.collect()
            heap.append(gc.mem_alloc())
    # nothing accumulates from one session to the next (module state, caches)
    if heap and heap[-1] - heap[0] > 4096:
        raise AssertionError("heap grew over the fuzz: %r" % heap)
    assert stats[0] > N_SEQUENCES // 8 and stats[1] > 0, stats
    print("session fuzz: %d sequences, %d publishes ended, %d caller errors (%s)"
          % (N_SEQUENCES, stats[0], stats[1], "micropython" if MICROPYTHON else "cpython"))
    eq(N_SEQUENCES >= 20000, True)
