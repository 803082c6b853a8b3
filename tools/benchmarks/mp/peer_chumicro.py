# chumicro-mqtt 0.30.3 (+ chumicro-sockets, chumicro-timing): a tick-loop client, no
# asyncio, MQTT 3.1.1, QoS 0 and 1. Driven as its README shows (check/handle per tick)
# with nothing else in the loop: handle() runs back to back, so it never sleeps.
# publish() queues (at most 20 packets, MQTTBackpressureError beyond) and handle()
# sends one packet per tick; a QoS 1 message is complete when its on_publish fires.
_CONNECT_MS = 10000


class Peer:
    def __init__(self):
        self.acked = 0

    def load(self):
        import chumicro_mqtt
        from chumicro_sockets.sockets_factory import fixed_connector_factory
        from chumicro_timing import ticks_diff, ticks_ms

        self.mod = chumicro_mqtt
        self.Client = chumicro_mqtt.MQTTClient
        self.factory = fixed_connector_factory
        self.ticks_ms, self.ticks_diff = ticks_ms, ticks_diff

    def unsupported(self, qos, window, version):
        if version == 5:
            return "MQTT 5 unsupported (3.1.1 only)"
        if qos == 2:
            return "QoS 2 unsupported (UnsupportedQoSError: 'QoS 2 is reserved-not-implemented')"
        return None

    def _on_publish(self, topic, payload):
        self.acked += 1

    async def connect(self, host, port, cid, version, window):
        c = self.c = self.Client(transport_factory=self.factory(host, port), client_id=cid,
                                 max_tx_queue_size=max(window, 20))
        c.connect()
        t0 = self.ticks_ms()
        while c.state != "connected":
            if c.state == "failed" or self.ticks_diff(self.ticks_ms(), t0) > _CONNECT_MS:
                raise OSError("chumicro connect failed (%s): %s" % (c.state, c.last_error))
            c.handle(self.ticks_ms())

    def _tick_until(self, target):
        c, now = self.c, self.ticks_ms
        while self.acked < target:
            if c.state != "connected":
                raise OSError("chumicro link %s: %s" % (c.state, c.last_error))
            c.handle(now())

    async def publish(self, topic, payload, qos):
        c, busy = self.c, self.mod.MQTTBackpressureError
        target = self.acked + 1
        while True:
            try:
                c.publish(topic, payload, qos=qos, on_publish=self._on_publish)
                break
            except busy:  # a stream's last packets still queued
                c.handle(self.ticks_ms())
        self._tick_until(target)

    async def serial(self, topic, payload, qos, n, expired):
        c, now, busy = self.c, self.ticks_ms, self.mod.MQTTBackpressureError
        sent = 0
        if qos == 0:  # a stream: queue until the queue is full, then tick
            while sent < n:
                try:
                    c.publish(topic, payload, qos=0)
                    sent += 1
                except busy:
                    c.handle(now())
                if not sent & 15 and expired():
                    break
            return sent  # the driver's QoS 1 `done` publish ticks the queue out
        cb = self._on_publish
        while sent < n:
            target = self.acked + 1
            c.publish(topic, payload, qos=1, on_publish=cb)
            self._tick_until(target)
            sent += 1
            if not sent & 15 and expired():
                break
        return sent

    async def window(self, topic, payload, qos, n, w, expired):
        c, now, busy, cb = self.c, self.ticks_ms, self.mod.MQTTBackpressureError, self._on_publish
        base = self.acked
        issued = 0
        stop = False
        while True:
            while not stop and issued - (self.acked - base) < w:
                if issued >= n or expired():
                    stop = True
                    break
                try:
                    c.publish(topic, payload, qos=qos, on_publish=cb)
                    issued += 1
                except busy:
                    break
            if stop and self.acked - base >= issued:
                return issued
            if c.state != "connected":
                raise OSError("chumicro link %s: %s" % (c.state, c.last_error))
            c.handle(now())

    async def disconnect(self):
        self.c.disconnect()


def make(arg):
    return Peer()
