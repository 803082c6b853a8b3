# umqtt.simple 1.8.0's MQTTClient (micropython-lib) on lgmqtt's sans-I/O session and one
# blocking socket: the same constructor, methods, return values and callback
# f(topic, msg) with bytes, so that moving over is the import line. What differs, and why:
# - every failure is an MQTTException: an OSError, so umqtt code's `except OSError` (and
#   umqtt.robust's retry loop) still catch it, with lgmqtt's error code in e.error;
#   umqtt raised AssertionError or a bare Exception for most of these;
# - a QoS 1/2 publish, a subscribe and connect wait at most ACK_TIMEOUT seconds for the
#   broker's answer (umqtt: forever), then the link is dropped (TIMEOUT); the message
#   stays in the session and the next connect() re-sends it with DUP (robust.py builds
#   its no-hang, no-loss publish on that);
# - with keepalive set, waiting (wait_msg, check_msg, an ack) sends PINGREQ when due and
#   notices a dead link (KEEPALIVE_TIMEOUT) instead of blocking on it forever;
# - opt-ins that leave the umqtt API alone: qos=2, version=5 with props= on publish
#   (received properties in msg_props during the callback), ca= for a verifying TLS
#   context built here.
# No asyncio, no connector, no store, no config: this loads lgmqtt.mqtt's session stack.
import select
import socket

from lgmqtt.compat import MICROPYTHON, const, ticks_diff, ticks_ms
from lgmqtt.errors import (AUTHENTICATION_FAILED, CONNECTION_FAILED, INVALID_PARAMS, NOT_CONNECTED, PUBLISH_REFUSED,
                           QOS_ERROR, TIMEOUT, TOPIC_ERROR, ConnectorError)
from lgmqtt.mqtt.session import Session
from lgmqtt.mqtt.wire import Will

# lgmqtt.mqtt.session's event kinds (public there), folded at compile time here
_EV_CONNACK = const(1)
_EV_MESSAGE = const(2)
_EV_PUBLISHED = const(3)
_EV_SUBACK = const(4)
_EV_UNSUBACK = const(5)
_EV_DISCONNECT = const(6)
_EV_ERROR = const(8)
_EV_GAVE_UP = const(11)
_CONNACK_WAIT = const(-1)  # key in _acks for the CONNACK (packet ids are 1..65535)
_PINGRESP_BYTE = const(0xD0)  # the whole first byte (type 13 << 4), not the type
_CHUNK = const(256)  # an oversized packet is fed to the session in pieces this big


class MQTTException(OSError):
    """An OSError with lgmqtt's ConnectorError interface: error (the code), message,
    details, to_dict(). Not a ConnectorError subclass: MicroPython refuses a class with
    two native exception bases ("multiple bases have instance lay-out conflict")."""

    def __init__(self, error, message, details=None):
        super().__init__(error, message)
        self.error = error
        self.message = message
        self.details = {} if details is None else details

    def __str__(self):
        return "%s: %s" % (self.error, self.message)

    def to_dict(self):
        return {"error": self.error, "message": self.message, "details": self.details}


def _text(s):
    # umqtt takes bytes or str for topics and ids; the session takes str
    return s.decode() if isinstance(s, (bytes, bytearray)) else s


def _refused(rc, version):
    # a CONNACK refusal: bad credentials / not authorised cannot be fixed by retrying
    if rc in ((4, 5) if version == 4 else (0x86, 0x87, 0x8C)):
        return MQTTException(AUTHENTICATION_FAILED, "broker refused the credentials (reason code %d)" % rc,
                             {"reasonCode": rc})
    return MQTTException(CONNECTION_FAILED, "broker refused the connection (reason code %d)" % rc,
                         {"reasonCode": rc})


class MQTTClient:
    ACK_TIMEOUT = 10  # seconds for CONNACK, PUBACK/PUBCOMP, SUBACK before the link is dropped

    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0, ssl=None,
                 ssl_params={}, version=4, ca=None):
        if port == 0:
            port = 8883 if ssl or ca is not None else 1883
        self.client_id = client_id
        self.sock = None
        self.server = server
        self.port = port
        self.ssl = ssl
        self.ssl_params = ssl_params
        self.ca = ca  # PEM or DER CA certificate(s): TLS that verifies the broker and its name
        self.cb = None
        self.user = user
        self.pswd = password
        self.keepalive = keepalive
        self.version = version
        self.msg_props = None  # MQTT 5: properties of the message being delivered
        self._will = None
        self._s = None  # the Session, made at the first connect; it outlives the sockets
        self._acks = {}  # packet id (or _CONNACK_WAIT) -> the session event that answered it
        self._poll = None
        self._rx = self._tx = None  # the socket's read-into and write-all methods
        self._ctx = None

    # ---- umqtt.simple's API --------------------------------------------------------
    def set_callback(self, f):
        self.cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        if qos not in (0, 1, 2):
            raise MQTTException(QOS_ERROR, "will qos must be 0, 1 or 2", {"qos": qos})
        if not topic:
            raise MQTTException(TOPIC_ERROR, "will topic must not be empty", {"topic": topic})
        self._will = Will(_text(topic), msg, qos, retain)
        if self._s:
            self._s.will = self._will

    def connect(self, clean_session=True, timeout=None):
        """Open the link and wait for CONNACK; returns 1 when the broker kept the session
        (umqtt's session-present bit), else 0."""
        self._close()
        s = self._s
        if s is None:
            s = self._s = self._call(Session, _text(self.client_id), self.version, self.keepalive, clean_session,
                                     _text(self.user) if self.user else None, self.pswd if self.user else None,
                                     self._will)
        s.clean_start = clean_session
        self._acks = {}
        try:
            ai = socket.getaddrinfo(self.server, self.port)[0]
            sock = socket.socket(ai[0], socket.SOCK_STREAM)
            self.sock = sock  # closed by _close on failure
            sock.settimeout(timeout)
            sock.connect(ai[-1])
            self.sock = self._wrap(sock)
        except (OSError, ValueError) as e:  # MicroPython: a failed certificate check is a ValueError
            self._close()
            if isinstance(e, MQTTException):
                raise
            raise MQTTException(CONNECTION_FAILED, "cannot connect to %s:%d: %s" % (self.server, self.port, _why(e)),
                                {"host": self.server, "port": self.port})
        p = self._poll = select.poll()
        p.register(self.sock, select.POLLIN)
        # MicroPython's sockets (plain and TLS) are streams; CPython's have recv_into/sendall
        sock = self.sock
        self._rx, self._tx = (sock.readinto, sock.write) if MICROPYTHON else (sock.recv_into, sock.sendall)
        s.connect(ticks_ms())
        self._flush()
        ev = self._wait_for(_CONNACK_WAIT, "CONNACK")
        if ev[2]:
            self._close()
            raise _refused(ev[2], self.version)
        return 1 if ev[1] else 0

    def disconnect(self):
        if self.sock is not None and self._s.state == 2:  # CONNECTED
            self._s.disconnect(0, None, ticks_ms())
            try:
                self._flush()
            except OSError:
                pass  # closing anyway
        self._close()

    def ping(self):
        self._call(self._need().ping, ticks_ms())
        self._flush()

    def publish(self, topic, msg, retain=False, qos=0, props=None):
        """QoS 0: sent. QoS 1/2: returns once the broker acknowledged it (PUBACK, PUBCOMP)."""
        self._need()
        pid = self._queue(topic, msg, retain, qos, props)
        self._flush()
        if qos:
            self._wait_ack(pid)

    def subscribe(self, topic, qos=0):
        if self.cb is None:
            raise MQTTException(INVALID_PARAMS, "Subscribe callback is not set", {})
        s = self._need()
        pid = self._call(s.subscribe, [(_text(topic), qos)], None, ticks_ms())
        self._flush()
        ev = self._wait_for(pid, "SUBACK")
        if ev[2] and ev[2][0] >= 0x80:
            raise MQTTException(TOPIC_ERROR, "broker refused the subscription (reason code %d)" % ev[2][0],
                                {"topic": topic, "reasonCode": ev[2][0]})

    def unsubscribe(self, topic):
        pid = self._call(self._need().unsubscribe, [_text(topic)], None, ticks_ms())
        self._flush()
        self._wait_for(pid, "UNSUBACK")

    def wait_msg(self):
        """Wait for one packet from the broker and handle it (a PUBLISH goes to the
        callback). Returns its first byte, None for PINGRESP (as umqtt.simple)."""
        self._need()
        return self._step(True)

    def check_msg(self, attempts=2):
        """wait_msg() if a packet is there, else None at once. (attempts: umqtt.robust's
        argument; robust.py uses it.)"""
        self._need()
        return self._step(False)

    # ---- the session and the socket ----------------------------------------------
    def _call(self, fn, *args):
        # the session's caller errors become MQTTException (an OSError) with their code
        try:
            return fn(*args)
        except ConnectorError as e:
            raise MQTTException(e.error, e.message, e.details)
        except ValueError as e:  # the codec's CodecError: a ValueError with its code
            raise MQTTException(getattr(e, "error", INVALID_PARAMS), str(e), {})

    def _need(self):
        if self.sock is None:
            raise MQTTException(NOT_CONNECTED, "not connected: call connect() first", {})
        return self._s

    def _queue(self, topic, msg, retain, qos, props):
        """The PUBLISH into the session (QoS 1/2: kept there until acknowledged, sent or
        re-sent whenever connected); its packet id."""
        if props is not None and self.version != 5:
            raise MQTTException(INVALID_PARAMS, "publish properties need version=5", {})
        return self._call(self._s.publish, _text(topic), msg, qos, retain, props, ticks_ms())

    def _wait_ack(self, pid):
        ev = self._wait_for(pid, "PUBACK")
        if ev[0] == _EV_GAVE_UP or ev[2] >= 0x80:
            raise MQTTException(PUBLISH_REFUSED, "broker refused packet %d (%s)" % (
                pid, "the link died with it %d times" % ev[2] if ev[0] == _EV_GAVE_UP else "reason code %d" % ev[2]),
                {"packetId": pid})

    def _wait_for(self, key, what):
        """Handle packets until the session answered `key` (a packet id); the link is
        dropped after ACK_TIMEOUT seconds without the answer."""
        t0 = ticks_ms()
        limit = int(self.ACK_TIMEOUT * 1000)
        acks = self._acks
        while key not in acks:
            left = limit - ticks_diff(ticks_ms(), t0)
            if left <= 0:
                self._lost(MQTTException(TIMEOUT, "no %s from the broker in %d ms" % (what, limit), {}))
            self._step(True, left)
        return acks.pop(key)

    def _step(self, block, limit=None):
        """Read and handle at most one packet: its first byte (None for PINGRESP or when
        none came). block: wait for one (up to `limit` ms; None: as long as the session's
        keepalive allows); else only what is there now. The session's timers run here:
        PINGREQ when due, a dead link noticed."""
        s = self._s
        while True:
            now = ticks_ms()
            self._events(s.tick(now))
            self._flush()
            t = s.next_timeout(now) if block else 0
            if limit is not None and (t is None or t > limit):
                t = limit
            if self._ready(t):
                return self._packet()
            if not block or limit is not None:
                return None

    def _ready(self, ms):
        sock = self.sock
        # CPython's SSLSocket may hold decrypted bytes that poll() cannot see
        if not MICROPYTHON and getattr(sock, "pending", None) and sock.pending():
            return True
        return bool(self._poll.poll(-1 if ms is None else ms))

    def _packet(self):
        """One whole packet from the socket into the session; its first byte."""
        hdr = bytearray(5)
        self._read(hdr, 0, 1)
        n, rl, sh = 1, 0, 0
        while True:
            self._read(hdr, n, n + 1)
            b = hdr[n]
            n += 1
            rl |= (b & 0x7F) << sh
            sh += 7
            if not b & 0x80 or n == 5:  # a 5th length byte: the session reports it malformed
                break
        s = self._s
        now = ticks_ms()
        if n + rl <= s.max_packet_size:
            buf = bytearray(n + rl)
            buf[:n] = memoryview(hdr)[:n]
            self._read(buf, n, n + rl)
            self._events(s.receive_data(buf, now))
        else:  # the session skips it (3.1.1) or fails the link (5.0): never buffered whole
            self._events(s.receive_data(hdr[:n], now))
            chunk = bytearray(_CHUNK)
            while rl and self.sock is not None:
                k = min(rl, _CHUNK)
                self._read(chunk, 0, k)
                rl -= k
                self._events(s.receive_data(memoryview(chunk)[:k], ticks_ms()))
        self._flush()  # the acks the packet called for
        return None if hdr[0] == _PINGRESP_BYTE else hdr[0]

    def _read(self, buf, a, b):
        mv = memoryview(buf)
        try:
            while a < b:
                k = self._rx(mv[a:b])
                if not k:
                    raise MQTTException(CONNECTION_FAILED, "connection closed by the broker", {})
                a += k
        except OSError as e:
            self._lost(e)

    def _flush(self):
        if self._s is None:
            return
        out = self._s.take_outbound()
        if out:
            if self.sock is None:
                raise MQTTException(NOT_CONNECTED, "not connected", {})
            try:
                self._tx(out)
            except OSError as e:
                self._lost(e)

    def _events(self, events):
        for ev in events:
            k = ev[0]
            if k == _EV_MESSAGE:
                p = ev[1]
                self.msg_props = p.props or None
                try:
                    self.cb(p.topic.encode(), p.payload)
                finally:
                    self.msg_props = None
            elif k == _EV_PUBLISHED or k == _EV_SUBACK or k == _EV_UNSUBACK or k == _EV_GAVE_UP:
                self._acks[ev[1]] = ev
            elif k == _EV_CONNACK:
                self._acks[_CONNACK_WAIT] = ev
            elif k == _EV_ERROR:
                self._flush_quietly()  # 5.0: the DISCONNECT with the reason
                self._lost(MQTTException(ev[3], ev[2], {"reasonCode": ev[1]}))
            elif k == _EV_DISCONNECT:
                self._lost(MQTTException(CONNECTION_FAILED, "broker sent DISCONNECT (reason code %d)" % ev[1],
                                         {"reasonCode": ev[1]}))

    def _flush_quietly(self):
        try:
            self._flush()
        except OSError:
            pass

    def _lost(self, e):
        """The link is dead: close it, tell the session (in-flight messages stay for the
        next connect; each one on the wire gets a strike), raise an MQTTException."""
        for ev in self._close(True):
            self._acks[ev[1]] = ev  # EV_GAVE_UP: its answer, for whoever waits on it
        if isinstance(e, MQTTException):
            raise e
        raise MQTTException(CONNECTION_FAILED, "connection lost: %s" % _why(e), {})

    def _close(self, strike=False):
        sock, self.sock, self._poll = self.sock, None, None
        self._rx = self._tx = None
        if sock is None:
            return ()
        try:
            sock.close()
        except OSError:
            pass
        # whatever state the session reached (a broker's DISCONNECT, a protocol error):
        # nothing is on the wire any more
        return self._s.connection_lost(strike)

    def _wrap(self, sock):
        if self.ca is not None:
            if self._ctx is None:
                from lgmqtt.net.tls import tls_context  # loaded only for TLS

                self._ctx = self._call(tls_context, self.ca)
            return self._ctx.wrap_socket(sock, server_hostname=self.server)
        if self.ssl is True:  # umqtt's legacy ssl=True, ssl_params={...}
            import ssl

            return ssl.wrap_socket(sock, **self.ssl_params)
        if self.ssl:  # an SSLContext, as umqtt.simple 1.8.0 takes it
            return self.ssl.wrap_socket(sock, server_hostname=self.server)
        return sock


def _why(e):
    # short text for an I/O or TLS failure: errno number on MicroPython, text on CPython
    vm = getattr(e, "verify_message", None)
    if vm or isinstance(e, ValueError):
        return "certificate verify failed: %s" % (vm or e)
    return "%s %s" % (type(e).__name__, e)
