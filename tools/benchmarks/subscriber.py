"""The independent subscriber that decides what was delivered: paho-mqtt (a pinned
dependency) in its own network thread, subscribed to `PREFIX/#` at QoS 2, so that each
message arrives at the QoS it was published with. A message the broker never
forwarded is not counted, whatever the publisher believed it sent.

    sub = Subscriber(host, port, "lgb/run-1").start()
    delivered = sub.settle("lgb/run-1/7", sent)   # waits until all arrived or none come
    sub.stop()
"""
import threading
import time
import uuid

import paho.mqtt.client as mqtt


class Subscriber:
    def __init__(self, host, port, prefix):
        self.host, self.port, self.prefix = host, port, prefix
        self.counts = {}
        self._cv = threading.Condition()
        self._subscribed = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="lgb-sub-" + uuid.uuid4().hex[:8],
                             protocol=mqtt.MQTTv311)
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self._subscribed.set()

    def _on_message(self, client, userdata, msg):
        with self._cv:
            self.counts[msg.topic] = self.counts.get(msg.topic, 0) + 1
            self._cv.notify_all()

    def start(self, timeout=10):
        self.c.connect(self.host, self.port, keepalive=60)
        self.c.loop_start()
        self.c.subscribe(self.prefix + "/#", qos=2)
        if not self._subscribed.wait(timeout):
            self.stop()
            raise RuntimeError("subscriber: no SUBACK from %s:%d in %ss" % (self.host, self.port, timeout))
        return self

    def count(self, topic):
        with self._cv:
            return self.counts.get(topic, 0)

    def settle(self, topic, expected, quiet=0.5, timeout=20.0):
        """Messages received on `topic`, once `expected` have come or none has come
        for `quiet` seconds (the broker may still be forwarding a burst)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            last = self.counts.get(topic, 0)
            quiet_until = time.monotonic() + quiet
            while last < expected:
                now = time.monotonic()
                if now >= quiet_until or now >= deadline:
                    break
                self._cv.wait(min(quiet_until, deadline) - now)
                n = self.counts.get(topic, 0)
                if n != last:
                    last, quiet_until = n, time.monotonic() + quiet
            return last

    def stop(self):
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()
