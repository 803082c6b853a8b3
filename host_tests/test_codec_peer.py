"""Our encoder and decoder against a real Mosquitto, over a plain blocking socket with
nothing of lgmqtt but the codec; paho-mqtt (an independent client) checks from the
other side that what we publish arrives intact, and publishes what we must decode.
CPython only (paho, threads). The reverse direction, libmosquitto's bytes decoded by
us, is host_tests/portable/mqtt/test_codec_vectors.py.
"""
import socket
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import mqttcodec as c


class Raw:
    """A minimal MQTT client made only of lgmqtt.mqtt.encode and a socket."""

    def __init__(self, broker, version, client_id, **connect):
        self.version = version
        self.sock = socket.create_connection((broker.host, broker.port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.dec = c.Decoder(version)
        self.sock.sendall(c.encode_connect(version, client_id, 30, **connect))
        self.connack = self.recv()
        assert self.connack.type == c.CONNACK and self.connack.reason_code == 0, self.connack

    def recv(self):
        while True:
            p = self.dec.next_packet()
            if p is not None:
                return p
            data = self.sock.recv(4096)
            if not data:
                raise EOFError("broker closed the connection")
            self.dec.feed(data)

    def expect(self, ptype, pid=None):
        p = self.recv()
        assert p.type == ptype, "expected %s, got %r" % (c.packet_name(ptype), p)
        if pid is not None:
            assert p.pid == pid, p
        return p

    def publish(self, topic, payload, qos, pid=None, **kw):
        self.sock.sendall(c.encode_publish(self.version, topic, payload, qos, pid=pid, **kw))
        if qos == 1:
            self.expect(c.PUBACK, pid)
        elif qos == 2:
            self.expect(c.PUBREC, pid)
            self.sock.sendall(c.encode_ack(c.PUBREL, self.version, pid))
            self.expect(c.PUBCOMP, pid)

    def receive_publish(self):
        """One incoming PUBLISH, acknowledged as its QoS requires."""
        p = self.expect(c.PUBLISH)
        if p.qos == 1:
            self.sock.sendall(c.encode_ack(c.PUBACK, self.version, p.pid))
        elif p.qos == 2:
            self.sock.sendall(c.encode_ack(c.PUBREC, self.version, p.pid))
            self.expect(c.PUBREL, p.pid)
            self.sock.sendall(c.encode_ack(c.PUBCOMP, self.version, p.pid))
        return p

    def close(self, clean=True):
        if clean:
            self.sock.sendall(c.encode_disconnect(self.version))
        self.sock.close()


def paho_client(broker, version, client_id):
    cl = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                     protocol=mqtt.MQTTv5 if version == 5 else mqtt.MQTTv311)
    cl.got = []
    cl.subscribed = threading.Event()
    cl.on_message = lambda cl_, ud, msg: cl.got.append(msg)
    cl.on_subscribe = lambda *a: cl.subscribed.set()
    cl.connect(broker.host, broker.port)
    cl.loop_start()
    return cl


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


@pytest.mark.parametrize("version", [4, 5])
def test_our_publishes_reach_paho(mosquitto, version):
    topic = "lg/codec/out/%d" % version
    sub = paho_client(mosquitto, version, "paho-sub-%d" % version)
    try:
        sub.subscribe(topic + "/#", qos=2)
        assert sub.subscribed.wait(5)
        pub = Raw(mosquitto, version, "raw-pub-%d" % version, username="u", password=b"p")
        props = {}
        if version == 5:
            props = {c.USER_PROPERTY: [("k", "v"), ("k", "w")], c.CONTENT_TYPE: "application/json",
                     c.MESSAGE_EXPIRY_INTERVAL: 300, c.CORRELATION_DATA: b"\x01\x02", c.RESPONSE_TOPIC: "re/ply",
                     c.PAYLOAD_FORMAT_INDICATOR: 1}
        payload = b"\x00\xff" * 40 + "caf\u00e9".encode()
        pub.publish(topic + "/q0", payload, 0, props=props)
        pub.publish(topic + "/q1", payload, 1, pid=1, props=props)
        pub.publish(topic + "/q2", b"x" * 70000, 2, pid=65535, props=props)  # 3-byte remaining length
        pub.sock.sendall(c.encode_pingreq())
        pub.expect(c.PINGRESP)
        pub.close()
        wait_for(lambda: len(sub.got) == 3)
        got = {m.topic: m for m in sub.got}
        assert got[topic + "/q0"].payload == payload and got[topic + "/q0"].qos == 0
        assert got[topic + "/q1"].payload == payload and got[topic + "/q1"].qos == 1
        assert got[topic + "/q2"].payload == b"x" * 70000 and got[topic + "/q2"].qos == 2
        if version == 5:
            mp = got[topic + "/q1"].properties
            assert mp.UserProperty == [("k", "v"), ("k", "w")]
            assert mp.ContentType == "application/json"
            assert mp.CorrelationData == b"\x01\x02"
            assert mp.ResponseTopic == "re/ply"
            assert mp.PayloadFormatIndicator == 1
            assert 0 < mp.MessageExpiryInterval <= 300
    finally:
        sub.loop_stop()
        sub.disconnect()


@pytest.mark.parametrize("version", [4, 5])
def test_paho_publishes_reach_us(mosquitto, version):
    topic = "lg/codec/in/%d" % version
    props = {c.SUBSCRIPTION_IDENTIFIER: 42, c.USER_PROPERTY: [("s", "1")]} if version == 5 else None
    me = Raw(mosquitto, version, "raw-sub-%d" % version, clean_start=True,
             props={c.SESSION_EXPIRY_INTERVAL: 0, c.RECEIVE_MAXIMUM: 10} if version == 5 else None)
    if version == 5:
        print("CONNACK properties from Mosquitto:", me.connack.props)
        assert c.TOPIC_ALIAS_MAXIMUM in me.connack.props
    opts = 2 | (0x08 if version == 5 else 0)  # QoS 2, retain as published (5.0)
    me.sock.sendall(c.encode_subscribe(version, 7, [(topic + "/+", opts), (topic + "/never", 1)], props))
    ack = me.expect(c.SUBACK, 7)
    assert ack.reason_codes == [2, 1]
    pub = paho_client(mosquitto, version, "paho-pub-%d" % version)
    try:
        pprops = None
        if version == 5:
            pprops = Properties(PacketTypes.PUBLISH)
            pprops.UserProperty = [("a", "1"), ("b", "2")]
            pprops.ContentType = "text/plain"
        for qos in (0, 1, 2):
            pub.publish(topic + "/q%d" % qos, ("m%d" % qos).encode() * 50, qos=qos, properties=pprops).wait_for_publish(5)
        got = [me.receive_publish() for _ in range(3)]
        assert [(p.topic, p.qos, p.payload) for p in got] == [
            (topic + "/q%d" % q, q, ("m%d" % q).encode() * 50) for q in (0, 1, 2)]
        if version == 5:
            for p in got:
                assert p.props[c.SUBSCRIPTION_IDENTIFIER] == [42]
                assert p.props[c.USER_PROPERTY] == [("a", "1"), ("b", "2")]
                assert p.props[c.CONTENT_TYPE] == "text/plain"
        # A retained message arrives with retain set on a new subscription.
        pub.publish(topic + "/kept", b"retained", qos=1, retain=True).wait_for_publish(5)
        me.receive_publish()
        me.sock.sendall(c.encode_subscribe(version, 8, [(topic + "/kept", 1)]))
        me.expect(c.SUBACK, 8)
        p = me.receive_publish()
        assert (p.topic, p.payload, p.retain) == (topic + "/kept", b"retained", True)
        me.sock.sendall(c.encode_unsubscribe(version, 9, [topic + "/+", topic + "/never", topic + "/kept"]))
        un = me.expect(c.UNSUBACK, 9)
        # (Mosquitto 2.0 answers 0 even for a filter it never had, where 0x11 is allowed.)
        if version == 5:
            assert len(un.reason_codes) == 3 and set(un.reason_codes) <= {0, 0x11}, un.reason_codes
        else:
            assert un.reason_codes == []
        me.close()
        pub.publish(topic + "/kept", b"", qos=1, retain=True).wait_for_publish(5)
    finally:
        pub.loop_stop()
        pub.disconnect()


@pytest.mark.parametrize("version", [4, 5])
def test_will_delivered_to_our_subscriber(mosquitto, version):
    topic = "lg/codec/will/%d" % version
    watcher = Raw(mosquitto, version, "raw-watch-%d" % version)
    watcher.sock.sendall(c.encode_subscribe(version, 1, [(topic, 1)]))
    watcher.expect(c.SUBACK, 1)
    wprops = {c.USER_PROPERTY: [("why", "crash")], c.CONTENT_TYPE: "text/plain"} if version == 5 else None
    dying = Raw(mosquitto, version, "raw-dying-%d" % version, will=c.Will(topic, b"offline", 1, False, wprops))
    dying.close(clean=False)  # no DISCONNECT: the broker must publish the will
    p = watcher.receive_publish()
    assert (p.topic, p.payload, p.qos) == (topic, b"offline", 1)
    if version == 5:
        assert p.props[c.USER_PROPERTY] == [("why", "crash")]
        assert p.props[c.CONTENT_TYPE] == "text/plain"
    watcher.close()


def test_broker_disconnects_v5_with_reason_we_decode(mosquitto):
    # A 5.0 client that sends a second CONNECT breaks the protocol: Mosquitto closes it
    # with DISCONNECT 0x82 (or just closes); our decoder must read whatever it sends.
    me = Raw(mosquitto, 5, "raw-bad")
    me.sock.sendall(c.encode_connect(5, "raw-bad", 30))
    try:
        p = me.recv()
        assert p.type == c.DISCONNECT and p.reason_code == 0x82, p
        assert c.reason_name(p.reason_code) == "Protocol Error"
    except (EOFError, ConnectionResetError):
        pass
    me.sock.close()
