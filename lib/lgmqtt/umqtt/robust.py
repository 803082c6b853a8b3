# umqtt.robust 1.0.3's MQTTClient (DELAY, DEBUG, delay(i), log(in_reconnect, e),
# reconnect(), and publish / wait_msg / check_msg that reconnect on OSError) on
# lgmqtt.umqtt.simple, without its failure modes:
# - a QoS 1/2 publish is queued in the session once; when the link dies or its ack does
#   not come within ACK_TIMEOUT, reconnect() re-sends that same message (same packet id,
#   DUP set) and the wait goes on: no duplicate under a new id, no hang on a lost PUBACK;
# - reconnect() backs off (DELAY, doubling up to MAX_DELAY) and re-subscribes what
#   subscribe() was given when the broker did not keep the session;
# - only link failures are retried: a refused login, a bad topic or qos raise at once
#   (umqtt.robust got those as non-OSError exceptions, which it did not catch either).
import time

from lgmqtt.errors import CONNECTION_FAILED, KEEPALIVE_TIMEOUT, NOT_CONNECTED, PROTOCOL_ERROR, TIMEOUT
from lgmqtt.umqtt import simple

_RETRY = (CONNECTION_FAILED, TIMEOUT, KEEPALIVE_TIMEOUT, NOT_CONNECTED, PROTOCOL_ERROR)


def _retry(e):
    # a plain OSError (a socket's) is a link failure; an MQTTException says by its code
    return getattr(e, "error", CONNECTION_FAILED) in _RETRY


class MQTTClient(simple.MQTTClient):
    DELAY = 2
    DEBUG = False
    MAX_DELAY = 30  # seconds: the backoff's ceiling

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._topics = {}  # filter -> qos, re-subscribed after a reconnect that lost the session

    def delay(self, i):
        # i: failed attempts in a row (1, 2, ...): DELAY, 2 DELAY, 4 DELAY ... MAX_DELAY
        time.sleep(min(self.DELAY * (1 << min(i - 1, 10)), self.MAX_DELAY))

    def log(self, in_reconnect, e):
        if self.DEBUG:
            if in_reconnect:
                print("mqtt reconnect: %r" % e)
            else:
                print("mqtt: %r" % e)

    def reconnect(self):
        i = 0
        while 1:
            try:
                # self.connect may be a subclass's (umqtt's example_resubscribe_robust.py)
                present = self.connect(False)
                if not present:
                    for t in self._topics:
                        simple.MQTTClient.subscribe(self, t, self._topics[t])
                return present
            except OSError as e:
                if not _retry(e):
                    raise
                self.log(True, e)
                i += 1
                self.delay(i)

    def subscribe(self, topic, qos=0):
        while 1:
            try:
                super().subscribe(topic, qos)
                self._topics[topic] = qos
                return
            except OSError as e:
                if not _retry(e):
                    raise
                self.log(False, e)
            self.reconnect()

    def publish(self, topic, msg, retain=False, qos=0, props=None):
        if not qos:
            while 1:
                try:
                    return super().publish(topic, msg, retain, qos, props)
                except OSError as e:
                    if not _retry(e):
                        raise
                    self.log(False, e)
                self.reconnect()
        if self._s is None:  # never connected: umqtt would fail on its socket too
            self._need()
        # once: the session owns the message from here on, across reconnects
        pid = self._queue(topic, msg, retain, qos, props)
        while 1:
            try:
                self._flush()  # nothing to send when disconnected: the next CONNACK re-sends
                if self.sock is None:
                    self._need()
                return self._wait_ack(pid)
            except OSError as e:
                if not _retry(e):
                    raise
                self.log(False, e)
            self.reconnect()

    def wait_msg(self):
        while 1:
            try:
                return super().wait_msg()
            except OSError as e:
                if not _retry(e):
                    raise
                self.log(False, e)
            self.reconnect()

    def check_msg(self, attempts=2):
        while attempts:
            try:
                return super().check_msg()
            except OSError as e:
                if not _retry(e):
                    raise
                self.log(False, e)
            self.reconnect()
            attempts -= 1
