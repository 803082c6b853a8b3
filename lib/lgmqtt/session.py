# The client side of an MQTT 3.1.1 / 5.0 session as a sans-I/O state machine.
#
# Rules of this file (everything that affects protocol state lives here):
# - No sockets, no asyncio, no clock. Time comes in as `now_ms` (a ticks_ms value) and
#   bytes go out through ONE outbound buffer: every command and every received packet
#   may append to it, and the driver writes `take_outbound()` with a single call. That is
#   how acks that free the in-flight window release queued publishes, how a resumed
#   session re-sends, and how many small packets coalesce into one write.
# - Commands (connect, publish, subscribe, unsubscribe, ping, disconnect, auth) raise
#   ConnectorError for caller misuse and send nothing in that case.
# - receive_data(bytes, now_ms) and tick(now_ms) return lists of events (small tuples,
#   first item one of the EV_* ints). A broker that breaks the protocol yields exactly
#   one EV_ERROR (with the reason code, and a DISCONNECT queued on 5.0); never an
#   uncaught exception.
# - In-flight QoS 1/2 messages survive connection loss; after CONNACK they are re-sent
#   in their original order (DUP set, or PUBREL) when the broker kept the session, and
#   as new messages when it did not (then a PUBREC'd QoS 2 message counts as delivered:
#   the broker had taken ownership of it).
from lgmqtt import codec
from lgmqtt.compat import const, ticks_diff
from lgmqtt.errors import ConnectorError, NOT_CONNECTED, QOS_ERROR, PAYLOAD_TOO_LARGE, PROTOCOL_ERROR
from lgmqtt import topic as _topic
from lgmqtt.session_rx import Incoming

# states
DISCONNECTED = const(0)
CONNECTING = const(1)
CONNECTED = const(2)
CLOSED = const(3)  # after a protocol error or our DISCONNECT: connect() again to reuse
_STATE_NAMES = ("disconnected", "connecting", "connected", "closed")

# events
EV_CONNACK = const(1)      # (EV_CONNACK, session_present, reason_code, props)
EV_MESSAGE = const(2)      # (EV_MESSAGE, packet)  incoming PUBLISH, delivered once per QoS 2 message
EV_PUBLISHED = const(3)    # (EV_PUBLISHED, pid, reason_code)  QoS 1/2 handshake finished (>=0x80: refused)
EV_SUBACK = const(4)       # (EV_SUBACK, pid, reason_codes, props)
EV_UNSUBACK = const(5)     # (EV_UNSUBACK, pid, reason_codes, props)
EV_DISCONNECT = const(6)   # (EV_DISCONNECT, reason_code, props)  broker sent DISCONNECT (5.0)
EV_AUTH = const(7)         # (EV_AUTH, reason_code, props)
EV_ERROR = const(8)        # (EV_ERROR, reason_code, message)  link must be closed now
EV_PINGRESP = const(9)     # (EV_PINGRESP,)

# in-flight record: [pid, qos, stage, packet_bytes, order, on_wire, sent_ms, ever_sent]
_WAIT_ACK = const(0)       # PUBLISH sent (or queued), waiting for PUBACK / PUBREC
_WAIT_COMP = const(1)      # PUBREL sent, waiting for PUBCOMP

_MAX_PID = const(65535)

# packet types and property ids (codec's public names, folded here at compile time)
_SUBSCRIBE = const(8)
_UNSUBSCRIBE = const(10)
_RECEIVE_MAXIMUM = const(0x21)
_TOPIC_ALIAS_MAXIMUM = const(0x22)
_MAXIMUM_PACKET_SIZE = const(0x27)


class Session(Incoming):
    def __init__(self, client_id="", version=4, keepalive=60, clean_start=True, username=None, password=None,
                 will=None, connect_props=None, max_packet_size=65536, receive_maximum=65535,
                 topic_alias_maximum=16, max_inflight=20, ack_timeout_ms=0):
        if version not in (4, 5):
            raise ConnectorError("CONFIG_ERROR", "protocolVersion must be 4 or 5", {"protocolVersion": version})
        self.client_id = client_id
        self.version = version
        self.keepalive = keepalive          # as configured; the broker may override (5.0)
        self.clean_start = clean_start
        self.username = username
        self._password = password           # never exposed in status or events
        self.will = will
        self.connect_props = connect_props or {}
        self.max_packet_size = max_packet_size
        self.receive_maximum = receive_maximum
        self.topic_alias_maximum = topic_alias_maximum if version == 5 else 0
        self.max_inflight = max_inflight
        self.ack_timeout_ms = ack_timeout_ms  # 0: only keepalive decides the link is dead
        self.state = DISCONNECTED
        self._out = []
        self.outbound_size = 0    # bytes waiting in the outbound buffer
        self._next_pid = 1
        self._order = 0
        self._inflight = {}       # pid -> record, QoS 1/2 publishes (sent or waiting for window)
        self._acks = {}           # pid -> kind (SUBSCRIBE/UNSUBSCRIBE) waiting for SUBACK/UNSUBACK
        self._in_qos2 = {}        # pid -> True: QoS 2 received, PUBREL not yet
        self._in_aliases = {}
        self._reset_link_limits()
        self.session_present = False
        self.assigned_client_id = None
        self.connack_props = {}
        self.decoder = None

    # ---- status -------------------------------------------------------------------
    def _reset_link_limits(self):
        self.broker_receive_maximum = 65535
        self.broker_max_packet_size = 0      # 0 = no limit announced
        self.broker_max_qos = 2
        self.retain_available = True
        self.effective_keepalive = self.keepalive
        self._sent_in_window = 0
        self._last_send = self._last_recv = None
        self._ping_sent = None

    def state_name(self):
        return _STATE_NAMES[self.state]

    def inflight_count(self):
        return len(self._inflight)

    def window(self):
        """How many more QoS 1/2 PUBLISH packets may be on the wire right now."""
        return min(self.broker_receive_maximum, self.max_inflight) - self._sent_in_window

    def take_outbound(self):
        """All bytes queued for the broker, as one object for one write (b"" if none)."""
        out = self._out
        if not out:
            return b""
        self._out = []
        self.outbound_size = 0
        return out[0] if len(out) == 1 else b"".join(out)

    def _send(self, data, now_ms):
        self._out.append(data)
        self.outbound_size += len(data)
        self._last_send = now_ms

    # ---- commands -----------------------------------------------------------------
    def connect(self, now_ms):
        """Start a new network connection's handshake: CONNECT goes to the outbound buffer."""
        props = dict(self.connect_props)
        if self.version == 5:
            if self.receive_maximum != 65535:
                props[_RECEIVE_MAXIMUM] = self.receive_maximum
            if self.max_packet_size:
                props[_MAXIMUM_PACKET_SIZE] = self.max_packet_size
            if self.topic_alias_maximum:
                props[_TOPIC_ALIAS_MAXIMUM] = self.topic_alias_maximum
        self._out = []
        self.outbound_size = 0
        self._reset_link_limits()
        self._in_aliases = {}
        self.decoder = codec.Decoder(self.version, self.max_packet_size or 268435460)
        self.state = CONNECTING
        self._last_recv = now_ms
        self._send(codec.encode_connect(self.version, self.client_id, self.keepalive, self.clean_start,
                                        self.username, self._password, self.will, props), now_ms)

    def connection_lost(self):
        """The transport is gone (EOF, reset, timeout). In-flight messages are kept."""
        self.state = DISCONNECTED
        self._out = []
        self.outbound_size = 0
        self._sent_in_window = 0
        for rec in self._inflight.values():
            rec[5] = False  # not on the wire any more
        self._acks = {}

    def _alloc_pid(self):
        for _ in range(_MAX_PID):
            pid = self._next_pid
            self._next_pid = pid % _MAX_PID + 1
            if pid not in self._inflight and pid not in self._acks:
                return pid
        raise ConnectorError(QOS_ERROR, "all 65535 packet ids are in flight", {})

    def publish(self, topic, payload, qos=0, retain=False, props=None, now_ms=0):
        """Queue a PUBLISH. Returns its packet id (None for QoS 0). QoS 1/2 may be
        accepted while disconnected or with the window full: it goes out when it can."""
        if qos not in (0, 1, 2):
            raise ConnectorError(QOS_ERROR, "qos must be 0, 1 or 2", {"qos": qos, "supportedQos": [0, 1, 2]})
        if qos > self.broker_max_qos:
            raise ConnectorError(QOS_ERROR, "broker supports qos up to %d" % self.broker_max_qos,
                                 {"qos": qos, "supportedQos": list(range(self.broker_max_qos + 1))})
        if retain and not self.retain_available:
            raise ConnectorError(PROTOCOL_ERROR, "broker does not support retained messages", {"topic": topic})
        _topic.validate_name(topic)
        if qos == 0 and self.state != CONNECTED:
            raise ConnectorError(NOT_CONNECTED, "not connected (qos 0 messages are not queued here)", {"topic": topic})
        pid = self._alloc_pid() if qos else None
        try:
            data = codec.encode_publish(self.version, topic, payload, qos, retain, False, pid,
                                        props if self.version == 5 else None)
        except ValueError as e:
            raise ConnectorError(PAYLOAD_TOO_LARGE if "too" in str(e) else PROTOCOL_ERROR, str(e), {"topic": topic})
        limit = self.broker_max_packet_size
        if limit and len(data) > limit:
            raise ConnectorError(PAYLOAD_TOO_LARGE, "packet of %d bytes exceeds the broker's maximum of %d"
                                 % (len(data), limit), {"topic": topic, "size": len(data), "limit": limit})
        if qos == 0:
            self._send(data, now_ms)
            return None
        self._order += 1
        # [pid, qos, stage, packet, order, on_wire, sent_ms, ever_sent]
        rec = [pid, qos, _WAIT_ACK, data, self._order, False, now_ms, False]
        self._inflight[pid] = rec
        if self.state == CONNECTED and self.window() > 0:
            self._put_on_wire(rec, now_ms, False)
        return pid

    def _put_on_wire(self, rec, now_ms, dup):
        data = rec[3]
        if dup and rec[7] and rec[2] == _WAIT_ACK:  # DUP only if it went out before
            data = bytearray(data)
            data[0] |= 0x08
            data = bytes(data)
        if not rec[5]:
            # Counts against Receive Maximum from PUBLISH until PUBACK / PUBCOMP.
            self._sent_in_window += 1
            rec[5] = True
        rec[6] = now_ms
        rec[7] = True
        self._send(data, now_ms)

    def _release_window(self, now_ms):
        # Oldest first: a queued message never overtakes an earlier one.
        if self.state != CONNECTED:
            return
        waiting = [r for r in self._inflight.values() if not r[5]]
        if not waiting:
            return
        waiting.sort(key=lambda r: r[4])
        for rec in waiting:
            if rec[2] == _WAIT_ACK and self.window() <= 0:
                break
            self._put_on_wire(rec, now_ms, False)

    def _need_connected(self, what):
        if self.state != CONNECTED:
            raise ConnectorError(NOT_CONNECTED, "cannot %s: session is %s" % (what, self.state_name()), {})

    def subscribe(self, topics, props=None, now_ms=0):
        """topics: [(filter, options)] (options: qos | no_local<<2 | rap<<3 | rh<<4). Returns pid."""
        self._need_connected("subscribe")
        if not topics:
            raise ConnectorError("TOPIC_ERROR", "no topics to subscribe", {"topic": None, "reason": "empty list"})
        for filt, opts in topics:
            _topic.validate_filter(filt)
            if opts & 3 == 3 or opts & 0xC0 or (opts >> 4) & 3 == 3:
                raise ConnectorError(QOS_ERROR, "invalid subscription options %d" % opts,
                                     {"qos": opts & 3, "supportedQos": [0, 1, 2]})
            if self.version == 4 and opts & ~3:
                raise ConnectorError("CONFIG_ERROR", "subscription options need MQTT 5", {"topic": filt})
        pid = self._alloc_pid()
        self._send(codec.encode_subscribe(self.version, pid, topics, props if self.version == 5 else None), now_ms)
        self._acks[pid] = _SUBSCRIBE
        return pid

    def unsubscribe(self, topics, props=None, now_ms=0):
        self._need_connected("unsubscribe")
        for filt in topics:
            _topic.validate_filter(filt)
        pid = self._alloc_pid()
        self._send(codec.encode_unsubscribe(self.version, pid, topics, props if self.version == 5 else None), now_ms)
        self._acks[pid] = _UNSUBSCRIBE
        return pid

    def ping(self, now_ms):
        self._need_connected("ping")
        self._ping_sent = now_ms
        self._send(codec.encode_pingreq(), now_ms)

    def disconnect(self, reason_code=0, props=None, now_ms=0):
        """Clean close: DISCONNECT queued; the state is CLOSED (in-flight messages kept)."""
        if self.state == CONNECTED:
            self._send(codec.encode_disconnect(self.version, reason_code, props if self.version == 5 else None),
                       now_ms)
        self.state = CLOSED

    def auth(self, reason_code, props, now_ms=0):
        if self.version != 5:
            raise ConnectorError(PROTOCOL_ERROR, "AUTH needs MQTT 5", {})
        if self.state not in (CONNECTING, CONNECTED):
            raise ConnectorError(NOT_CONNECTED, "cannot auth: session is %s" % self.state_name(), {})
        self._send(codec.encode_auth(reason_code, props), now_ms)

    # ---- timers -------------------------------------------------------------------
    def next_timeout(self, now_ms):
        """Milliseconds until tick() has something to do (None: nothing timed)."""
        if self.state not in (CONNECTING, CONNECTED):
            return None
        ka = self.effective_keepalive * 1000
        cands = []
        if ka:
            cands.append(ka - ticks_diff(now_ms, self._last_send))
            cands.append(ka + ka // 2 - ticks_diff(now_ms, self._last_recv))
        if self.ack_timeout_ms and self._inflight:
            oldest = min((r[6] for r in self._inflight.values() if r[5]), default=None)
            if oldest is not None:
                cands.append(self.ack_timeout_ms - ticks_diff(now_ms, oldest))
        if not cands:
            return None
        return max(0, min(cands))

    def tick(self, now_ms):
        """Keepalive and timeouts. Returns events (EV_ERROR when the link is dead)."""
        if self.state not in (CONNECTING, CONNECTED):
            return []
        ka = self.effective_keepalive * 1000
        if ka and ticks_diff(now_ms, self._last_recv) >= ka + ka // 2:
            # [MQTT-3.1.2-24] the server does this to us; we do it to a silent server
            return self._fail(0x8D, "keepalive timeout: nothing from the broker for %d ms"
                              % ticks_diff(now_ms, self._last_recv), send=False)
        if self.ack_timeout_ms:
            for rec in self._inflight.values():
                if rec[5] and ticks_diff(now_ms, rec[6]) >= self.ack_timeout_ms:
                    # MQTT 5 allows re-sending only on a new connection: drop this one;
                    # the reconnect re-sends with DUP.
                    return self._fail(0x8D, "no acknowledgement for packet %d in %d ms"
                                      % (rec[0], self.ack_timeout_ms), send=False)
        if ka and self.state == CONNECTED and ticks_diff(now_ms, self._last_send) >= ka and self._ping_sent is None:
            self.ping(now_ms)
        return []

    # ---- incoming -----------------------------------------------------------------
    def _fail(self, reason_code, message, send=True):
        if send and self.version == 5 and self.state in (CONNECTING, CONNECTED):
            self._out = []
            self.outbound_size = 0
            self._send(codec.encode_disconnect(5, reason_code), self._last_send)
        self.state = CLOSED
        return [(EV_ERROR, reason_code, message)]

    def receive_data(self, data, now_ms):
        if self.state not in (CONNECTING, CONNECTED):
            return []
        self._last_recv = now_ms
        events = []
        try:
            self.decoder.feed(data)
            while self.state in (CONNECTING, CONNECTED):
                pkt = self.decoder.next_packet()
                if pkt is None:
                    break
                self._handle(pkt, now_ms, events)
        except codec.ProtocolError as e:
            events += self._fail(e.reason_code, e.message)
        return events

    def _done(self, rec, reason_code, events, now_ms):
        del self._inflight[rec[0]]
        self._sent_in_window -= 1
        events.append((EV_PUBLISHED, rec[0], reason_code))
        self._release_window(now_ms)
