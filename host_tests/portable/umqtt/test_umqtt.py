# lgmqtt.umqtt (the umqtt.simple / umqtt.robust drop-in) against real Mosquitto brokers,
# on every interpreter: umqtt's semantics (bytes to the callback, wait_msg's return
# values, check_msg), QoS 2 both ways, MQTT 5 properties, errors that are OSErrors with a
# code, TLS that verifies, the will, robust's re-subscribe.
from check import env, eq, raises
from lgmqtt.errors import (AUTHENTICATION_FAILED, CONNECTION_FAILED, INVALID_PARAMS, NOT_CONNECTED, QOS_ERROR,
                           TOPIC_ERROR)
from lgmqtt.umqtt import robust
from lgmqtt.umqtt.simple import MQTTClient, MQTTException

FIXTURES = ("mosquitto", "mosquitto_auth", "mosquitto_tls", "free_ports")
TIMEOUT = 180

_n = [0]


def client(cls=MQTTClient, prefix="LG_BROKER", **kw):
    _n[0] += 1
    return cls("lgt-umqtt-%d" % _n[0], env(prefix + "_HOST"), int(env(prefix + "_PORT")), **kw)


class Inbox:
    def __init__(self):
        self.got = []
        self.props = []

    def cb(self, topic, msg):
        self.got.append((topic, msg))

    def drain(self, c, n, limit=50):
        ops = []
        while len(self.got) < n and limit:
            ops.append(c.wait_msg())
            limit -= 1
        eq(len(self.got), n, "messages")
        return ops


def _cert(name):
    with open(env("LG_BROKER_TLS_CERTS") + "/" + name, "rb") as f:
        return f.read()


def test_umqtt_roundtrip_bytes_to_the_callback_and_wait_msg_returns_the_first_byte():
    c = client()
    box = Inbox()
    c.set_callback(box.cb)
    eq(c.connect(), 0, "session present")
    c.subscribe(b"lgt/umqtt/rt/#", 1)
    p = client()
    p.connect()
    p.publish(b"lgt/umqtt/rt/a", b"zero")
    p.publish("lgt/umqtt/rt/b", "one", qos=1)  # str topic and payload, as umqtt takes them
    p.disconnect()
    ops = box.drain(c, 2)
    eq(box.got, [(b"lgt/umqtt/rt/a", b"zero"), (b"lgt/umqtt/rt/b", b"one")])
    eq(type(box.got[0][0]), bytes)
    eq(type(box.got[0][1]), bytes)
    eq(ops, [0x30, 0x32], "first bytes (QoS 0, QoS 1)")
    eq(c.check_msg(), None, "nothing waiting")
    c.disconnect()
    eq(c.sock, None)


def test_umqtt_qos2_both_ways_exactly_once():
    for version in (4, 5):
        c = client(version=version)
        box = Inbox()
        c.set_callback(box.cb)
        c.connect()
        c.subscribe(b"lgt/umqtt/q2", 2)
        for i in range(3):
            c.publish(b"lgt/umqtt/q2", b"m%d" % i, qos=2)  # returns after PUBCOMP
        # what came back while waiting for the PUBCOMPs went to the callback already
        ops = box.drain(c, 3)
        eq(box.got, [(b"lgt/umqtt/q2", b"m0"), (b"lgt/umqtt/q2", b"m1"), (b"lgt/umqtt/q2", b"m2")])
        eq([op for op in ops if op is not None and op >> 4 == 3], [0x34] * len(ops), "received as QoS 2")
        # the broker's PUBREL for each is answered: nothing else left, nothing delivered twice
        while c.check_msg() is not None:
            pass
        eq(len(box.got), 3, "no duplicate")
        eq(c._s.inflight_count(), 0, "nothing in flight")
        c.disconnect()


def test_umqtt_mqtt5_properties_on_publish_reach_the_callback():
    c = client(version=5)
    seen = []
    c.set_callback(lambda t, m: seen.append((t, m, c.msg_props)))
    c.connect()
    c.subscribe(b"lgt/umqtt/v5")
    c.publish(b"lgt/umqtt/v5", b"{}", qos=1, props={0x03: "application/json", 0x26: [("k", "v")]})
    while not seen:  # it may have come in while publish() waited for its PUBACK
        c.wait_msg()
    eq(seen[0][:2], (b"lgt/umqtt/v5", b"{}"))
    eq(seen[0][2][0x03], "application/json")
    eq(seen[0][2][0x26], [("k", "v")])
    eq(c.msg_props, None, "only during the callback")
    e = raises(MQTTException, client().publish, b"x", b"y", False, 0, {0x03: "a"})
    eq(e.error, NOT_CONNECTED)
    c.disconnect()


def test_umqtt_errors_are_oserrors_with_a_code():
    c = client()
    e = raises(OSError, c.publish, b"lgt/x", b"y")
    eq(e.error, NOT_CONNECTED)
    c.set_callback(lambda t, m: None)
    c.connect()
    eq(raises(OSError, c.publish, b"lgt/#", b"y").error, TOPIC_ERROR)
    eq(raises(OSError, c.publish, b"lgt/x", b"y", False, 3).error, QOS_ERROR)
    eq(raises(OSError, c.subscribe, b"lgt/#/x").error, TOPIC_ERROR)
    eq(raises(OSError, c.set_last_will, b"lgt/w", b"x", False, 5).error, QOS_ERROR)
    c.publish(b"lgt/x", b"still connected", qos=1)
    c.disconnect()
    eq(raises(OSError, client().subscribe, b"lgt/x").error, INVALID_PARAMS, "no callback set")
    # nobody listens on a free port
    d = MQTTClient("lgt-umqtt-refused", "127.0.0.1", int(env("LG_FREE_PORTS").split(",")[0]))
    e = raises(MQTTException, d.connect)
    eq(e.error, CONNECTION_FAILED)
    eq(isinstance(e, OSError), True)
    eq(e.to_dict()["error"], CONNECTION_FAILED)
    bad = client(prefix="LG_BROKER_AUTH", user=env("LG_BROKER_AUTH_USER"), password=b"wrong")
    e = raises(OSError, bad.connect)
    eq(e.error, AUTHENTICATION_FAILED)
    eq("wrong" in str(e) or "wrong" in repr(e.details), False, "no password in the error")
    ok = client(prefix="LG_BROKER_AUTH", user=env("LG_BROKER_AUTH_USER"), password=env("LG_BROKER_AUTH_PASSWORD"))
    ok.connect()
    ok.disconnect()
    # robust retries link failures only: a refused login comes straight out of reconnect()
    r = client(robust.MQTTClient, prefix="LG_BROKER_AUTH", user=env("LG_BROKER_AUTH_USER"), password=b"wrong")
    r.DELAY = 0
    eq(raises(OSError, r.reconnect).error, AUTHENTICATION_FAILED)


def test_umqtt_tls_verifies_with_a_ca_and_refuses_a_wrong_one():
    port = int(env("LG_BROKER_TLS_TLS_PORT"))
    for ca in (_cert("ca.crt"), _cert("ca.crt.der")):
        c = MQTTClient("lgt-umqtt-tls", "127.0.0.1", port, ca=ca)
        c.set_callback(lambda t, m: None)
        c.connect()
        c.publish(b"lgt/umqtt/tls", b"secret", qos=1)
        c.disconnect()
    c = MQTTClient("lgt-umqtt-tls-bad", "127.0.0.1", port, ca=_cert("wrongca.crt"))
    e = raises(OSError, c.connect)
    eq(e.error, CONNECTION_FAILED)
    eq("certificate" in e.message or "TLS" in e.message or "-0x" in e.message, True, e.message)
    eq(c.sock, None, "closed")
    eq(MQTTClient("x", "h", ca=b"").port, 8883, "TLS default port")


def test_umqtt_last_will_on_abrupt_loss_and_keepalive_ping():
    w = client(keepalive=1)
    w.set_last_will(b"lgt/umqtt/will", b"gone", qos=1)
    w.connect()
    watcher = client()
    box = Inbox()
    watcher.set_callback(box.cb)
    watcher.connect()
    watcher.subscribe(b"lgt/umqtt/will", 1)
    # keepalive 1 s: waiting with nothing to read sends PINGREQ; its PINGRESP returns None
    eq(w.wait_msg(), None, "PINGRESP")
    w.sock.close()  # the link dies without DISCONNECT: the broker publishes the will
    box.drain(watcher, 1)
    eq(box.got, [(b"lgt/umqtt/will", b"gone")])
    watcher.disconnect()


def test_robust_reconnects_and_resubscribes_when_the_session_is_gone():
    r = client(robust.MQTTClient)
    r.DELAY = 0
    box = Inbox()
    r.set_callback(box.cb)
    r.connect()  # clean session: the broker forgets it when the link goes
    r.subscribe(b"lgt/umqtt/rs")
    p = client()
    p.connect()
    r.sock.close()  # link dead under the client's feet
    # fails, reconnects (the broker kept no session), re-subscribes, re-sends the message
    r.publish(b"lgt/umqtt/rs-other", b"x", qos=1)
    eq(r._s.inflight_count(), 0, "acknowledged after the reconnect")
    p.publish(b"lgt/umqtt/rs", b"after", qos=1)
    box.drain(r, 1)
    eq(box.got, [(b"lgt/umqtt/rs", b"after")])
    r.sock.close()
    eq(r.check_msg(), None, "check_msg reconnects and returns")
    p.publish(b"lgt/umqtt/rs", b"again", qos=1)
    box.drain(r, 2)
    eq(box.got[1], (b"lgt/umqtt/rs", b"again"))
    p.disconnect()
    r.disconnect()
