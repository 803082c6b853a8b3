# umqtt.simple 1.8.0 / umqtt.robust 1.0.3 (micropython-lib, as frozen into ESP32 and
# ESP8266 firmware): blocking sockets, one publish at a time, QoS 0 and 1, MQTT 3.1.1.
# "simple" and "robust" are measured as shipped; "simple-nodelay" is umqtt.simple with
# TCP_NODELAY set on its socket by the application after connect(), as one would on a
# board to escape Nagle: it writes a PUBLISH in four pieces and then waits for the ack.


class Peer:
    serial = None
    window = None

    def __init__(self, variant):
        if variant not in ("simple", "robust", "simple-nodelay"):
            raise ValueError("umqtt variant: simple, robust or simple-nodelay, not %r" % variant)
        self.variant = variant

    def load(self):
        if self.variant != "robust":
            from umqtt.simple import MQTTClient
        else:
            from umqtt.robust import MQTTClient
        self.cls = MQTTClient

    def unsupported(self, qos, window, version):
        if version == 5:
            return "MQTT 5 unsupported (3.1.1 only)"
        if qos == 2:
            return "QoS 2 unsupported (publish() has `assert 0` for it)"
        if window > 1:
            return "no window: publish() blocks until its PUBACK (one message in flight)"
        return None

    async def connect(self, host, port, cid, version, window):
        self.c = self.cls(cid, host, port)
        self.c.connect()
        if self.variant == "simple-nodelay":
            self.c.sock.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY

    async def publish(self, topic, payload, qos):
        self.c.publish(topic, payload, qos=qos)

    async def disconnect(self):
        self.c.disconnect()


def make(arg):
    return Peer(arg or "simple")
