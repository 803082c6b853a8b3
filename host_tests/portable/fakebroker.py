# An in-memory broker peer for session tests: decodes what the client sends with the
# server-side decoder and lets a test answer with encoded server packets. It holds no
# policy of its own; each test scripts the broker's side explicitly.
import mqttcodec as codec
from lgmqtt.mqtt import session as S


class FakeBroker:
    def __init__(self, version=4):
        self.version = version
        self.decoder = codec.Decoder(version, 1 << 20, server_side=True)
        self.received = []

    def take(self, sess):
        """Decode everything the session has queued for the wire; return the packets."""
        data = sess.take_outbound()
        self.decoder.feed(data)
        out = []
        while True:
            p = self.decoder.next_packet()
            if p is None:
                break
            out.append(p)
        self.received += out
        return out

    def types(self, sess):
        return [p.type for p in self.take(sess)]


def connected(version=4, now=0, props=None, session_present=False, **kw):
    """A session connected to a fake broker; returns (session, broker)."""
    s = S.Session(client_id=kw.pop("client_id", "dev1"), version=version, **kw)
    b = FakeBroker(version)
    s.connect(now)
    pk = b.take(s)
    if [p.type for p in pk] != [codec.CONNECT]:
        raise AssertionError("expected CONNECT, got %r" % [p.type for p in pk])
    ev = s.receive_data(codec.encode_connack(version, session_present, 0, props), now)
    if ev[-1][0] != S.EV_CONNACK:
        raise AssertionError("no CONNACK event: %r" % (ev,))
    return s, b


def kinds(events):
    return [e[0] for e in events]
