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
from lgmqtt.mqtt.decode import Decoder
from lgmqtt.mqtt.encode import (encode_ack, encode_auth, encode_connect, encode_disconnect, encode_pingreq,
                                encode_publish, encode_subscribe, encode_unsubscribe)
from lgmqtt.mqtt.wire import CodecError, ProtocolError
from lgmqtt.compat import const, ticks_diff
from lgmqtt.errors import (ConnectorError, KEEPALIVE_TIMEOUT, NOT_CONNECTED, QOS_ERROR, PAYLOAD_TOO_LARGE,
                           PROTOCOL_ERROR, TIMEOUT, TOPIC_ERROR, topic_error)
from lgmqtt.mqtt import topic as _topic

_WILDCARD_SUBSCRIPTION_AVAILABLE = const(0x28)
_SUBSCRIPTION_IDENTIFIER_AVAILABLE = const(0x29)
_SHARED_SUBSCRIPTION_AVAILABLE = const(0x2A)
_SUBSCRIPTION_IDENTIFIER = const(0x0B)

# states
DISCONNECTED = const(0)
CONNECTING = const(1)
CONNECTED = const(2)
CLOSED = const(3)  # after a protocol error or our DISCONNECT: connect() again to reuse
_STATE_NAMES = ("disconnected", "connecting", "connected", "closed")
# Incoming QoS 2 messages held between PUBLISH and PUBREL (advertised on 5.0): sized for
# a board, and for any broker's own window (Mosquitto's max_inflight_messages is 20).
RECEIVE_MAXIMUM = const(32)

# events
EV_CONNACK = const(1)      # (EV_CONNACK, session_present, reason_code, props)
EV_MESSAGE = const(2)      # (EV_MESSAGE, packet)  incoming PUBLISH, delivered once per QoS 2 message
EV_PUBLISHED = const(3)    # (EV_PUBLISHED, pid, reason_code)  QoS 1/2 handshake finished (>=0x80: refused)
EV_SUBACK = const(4)       # (EV_SUBACK, pid, reason_codes, props)
EV_UNSUBACK = const(5)     # (EV_UNSUBACK, pid, reason_codes, props)
EV_DISCONNECT = const(6)   # (EV_DISCONNECT, reason_code, props)  broker sent DISCONNECT (5.0)
EV_AUTH = const(7)         # (EV_AUTH, reason_code, props)
EV_ERROR = const(8)        # (EV_ERROR, reason_code, message, error_code)  link must be closed now
EV_PINGRESP = const(9)     # (EV_PINGRESP,)

EV_PUBREC = const(10)      # (EV_PUBREC, pid)  QoS 2 message received by the broker; PUBREL queued
EV_GAVE_UP = const(11)     # (EV_GAVE_UP, pid, strikes)  the link died MAX_STRIKES times with it unacknowledged
EV_ACK_TIMEOUT = const(12)  # (EV_ACK_TIMEOUT, pid)  no acknowledgement within ack_timeout_ms (EV_ERROR follows)
EV_OVERSIZE = const(13)    # (EV_OVERSIZE, topic or None, size, qos)  an incoming PUBLISH over max_packet_size, skipped

# In-flight record: a list indexed by these (one small list per message, no object).
R_PID = const(0)
R_QOS = const(1)
R_STAGE = const(2)         # _WAIT_ACK or _WAIT_COMP
R_PACKET = const(3)        # the bytes to (re-)send: PUBLISH, then PUBREL
R_ORDER = const(4)         # send order (oldest first after a reconnect)
R_ON_WIRE = const(5)       # sent on this connection, counted in the window
R_SENT_MS = const(6)
R_EVER_SENT = const(7)     # went out at least once (a re-send then carries DUP)
R_STRIKES = const(8)       # links that died while it was on the wire, unacknowledged
_WAIT_ACK = const(0)       # PUBLISH sent (or queued), waiting for PUBACK / PUBREC
_WAIT_COMP = const(1)      # PUBREL sent, waiting for PUBCOMP

# A message after which the link died this many times before its acknowledgement is
# given up (EV_GAVE_UP): a broker that closes the connection on a message it will not
# take (3.1.1 has no way to say why) must not get it again after every reconnect.
# While any message has a strike, the window is one message: the next death then
# names the culprit, not its innocent neighbours in flight.
MAX_STRIKES = const(3)

_MAX_PID = const(65535)

# packet types and property ids (lgmqtt.mqtt.wire's and .props' public names, folded
# here at compile time)
_CONNACK = const(2)
_PUBLISH = const(3)
_PUBACK = const(4)
_PUBREC = const(5)
_PUBREL = const(6)
_PUBCOMP = const(7)
_SUBSCRIBE = const(8)
_SUBACK = const(9)
_UNSUBSCRIBE = const(10)
_UNSUBACK = const(11)
_PINGRESP = const(13)
_DISCONNECT = const(14)
_AUTH = const(15)
_ASSIGNED_CLIENT_IDENTIFIER = const(0x12)
_SERVER_KEEP_ALIVE = const(0x13)
_RECEIVE_MAXIMUM = const(0x21)
_TOPIC_ALIAS_MAXIMUM = const(0x22)
_TOPIC_ALIAS = const(0x23)
_MAXIMUM_QOS = const(0x24)
_RETAIN_AVAILABLE = const(0x25)
_MAXIMUM_PACKET_SIZE = const(0x27)

# The QoS 1/2 flow as a table: what each acknowledgement must answer, indexed by its
# packet type - PUBACK: a QoS 1 message waiting for its ack; PUBREC: a QoS 2 one
# waiting for it (then PUBREL goes out and it waits for PUBCOMP); PUBCOMP: a QoS 2
# one waiting for that. (PUBREL, index 2, never answers our publish.)
_ACK_QOS = b"\x01\x02\x00\x02"
_ACK_STAGE = b"\x00\x00\x00\x01"


def _with_pid(packet, pid):
    # An encoded PUBLISH with packet id `pid` written in (in place when it is a
    # bytearray, the usual case: encode once, no copy): after the fixed header's
    # remaining length and the topic.
    if type(packet) is not bytearray:
        packet = bytearray(packet)
    i = 1
    while packet[i] & 0x80:
        i += 1
    i += 3 + ((packet[i + 1] << 8) | packet[i + 2])
    packet[i] = pid >> 8
    packet[i + 1] = pid & 0xFF
    return packet


class Session:
    def __init__(self, client_id="", version=4, keepalive=60, clean_start=True, username=None, password=None,
                 will=None, connect_props=None, max_packet_size=65536, receive_maximum=RECEIVE_MAXIMUM,
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
        self._inflight = {}       # pid -> record (R_* fields), QoS 1/2 publishes (sent or waiting for window)
        self._probe = False       # some message in flight has a strike: window of one
        self._acks = {}           # pid -> (SUBSCRIBE/UNSUBSCRIBE, number of filters) waiting for its ack
        self._in_qos2 = {}        # pid -> True: QoS 2 received, PUBREL not yet
        self._in_aliases = {}
        self._valid_topic = None  # the last topic publish() validated (see publish)
        # 3.1.1 cannot tell a broker "too large": an oversized PUBLISH is skipped (read,
        # discarded, acknowledged). 5.0 disconnects with 0x95 as the spec says -- once:
        # a broker that sends it again after the reconnect gets it skipped instead.
        self._skip_oversize = version == 4
        self._reset_link_limits()
        self.session_present = False
        self.assigned_client_id = None
        self.connack_props = {}
        self.connack_version = version
        self.decoder = None

    # ---- status -------------------------------------------------------------------
    def _reset_link_limits(self):
        self.broker_receive_maximum = 65535
        self.broker_max_packet_size = 0      # 0 = no limit announced
        self.broker_max_qos = 2
        self.retain_available = True
        self.wildcard_available = True
        self.shared_available = True
        self.subid_available = True
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
        w = 1 if self._probe else min(self.broker_receive_maximum, self.max_inflight)
        return w - self._sent_in_window

    def take_outbound(self):
        """The bytes queued for the broker, as one object for one write (b"" if none):
        all of them, or the oldest packet alone when the heap has no room to join them
        (outbound_size is then still > 0)."""
        out = self._out
        if not out:
            return b""
        if len(out) == 1:
            data = out[0]
        else:
            try:
                data = b"".join(out)
            except MemoryError:
                # no room for one buffer of it all (a fragmented heap): one packet now,
                # the rest stays queued for the next take. Nothing queued is lost, and
                # the link does not die of an allocation it did not need.
                data = out.pop(0)
                self.outbound_size -= len(data)
                return data
        out.clear()  # (no new list: that could fail too, after the join)
        self.outbound_size = 0
        return data

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
                props[_RECEIVE_MAXIMUM] = self.receive_maximum  # 65535 is the spec's default
            if self.max_packet_size:
                props[_MAXIMUM_PACKET_SIZE] = self.max_packet_size
            if self.topic_alias_maximum:
                props[_TOPIC_ALIAS_MAXIMUM] = self.topic_alias_maximum
        self._out = []
        self.outbound_size = 0
        self._reset_link_limits()
        self._in_aliases = {}
        self.decoder = Decoder(self.version, self.max_packet_size or 268435460)
        self.decoder.skip_oversize = self._skip_oversize
        self.state = CONNECTING
        self._last_recv = now_ms
        self._send(encode_connect(self.version, self.client_id, self.keepalive, self.clean_start,
                                        self.username, self._password, self.will, props), now_ms)

    def connection_lost(self, strike=True):
        """The transport is gone (EOF, reset, timeout). In-flight messages are kept.
        strike: the link died (not our own clean close): every PUBLISH that was on the
        wire unacknowledged gets a strike. Returns events: EV_GAVE_UP for each message
        that reached MAX_STRIKES (it leaves the session)."""
        self.state = DISCONNECTED
        self._out = []
        self.outbound_size = 0
        self._sent_in_window = 0
        events = []
        for rec in list(self._inflight.values()):
            if strike and rec[R_ON_WIRE] and rec[R_STAGE] == _WAIT_ACK:
                rec[R_STRIKES] += 1
                if rec[R_STRIKES] >= MAX_STRIKES:
                    del self._inflight[rec[R_PID]]
                    events.append((EV_GAVE_UP, rec[R_PID], rec[R_STRIKES]))
            rec[R_ON_WIRE] = False  # not on the wire any more
        self._update_probe()
        self._acks = {}
        return events

    def _update_probe(self):
        p = False
        for rec in self._inflight.values():
            p = p or rec[R_STRIKES] > 0
        self._probe = p

    def _alloc_pid(self):
        for _ in range(_MAX_PID):
            pid = self._next_pid
            self._next_pid = pid % _MAX_PID + 1
            if pid not in self._inflight and pid not in self._acks:
                return pid
        raise ConnectorError(QOS_ERROR, "all 65535 packet ids are in flight", {})

    def publish(self, topic, payload, qos=0, retain=False, props=None, now_ms=0):
        """Encode and queue a PUBLISH (see publish_packet). Returns its packet id (None
        for QoS 0)."""
        if qos not in (0, 1, 2):
            raise ConnectorError(QOS_ERROR, "qos must be 0, 1 or 2", {"qos": qos, "supportedQos": [0, 1, 2]})
        if topic is not self._valid_topic:
            # a str is immutable: the same object as the last valid one needs no second look
            _topic.validate_name(topic)
            self._valid_topic = topic
        try:
            packet = encode_publish(self.version, topic, payload, qos, retain, False, 0 if qos else None,
                                    props if self.version == 5 else None)
        except CodecError as e:  # the codec says which code
            raise ConnectorError(e.error, e.message, {"topic": topic})
        return self.publish_packet(packet, now_ms)

    def publish_packet(self, packet, now_ms=0):
        """Queue an encoded PUBLISH: what encode_publish made with packet id 0 for QoS 1/2
        (the session writes the id it assigns into the packet, in place when it is a
        bytearray). Returns the packet id (None for QoS 0). The packet was checked when
        it was encoded; what is checked here is what this broker said it takes. QoS 1/2
        may be accepted while disconnected or with the window full: it goes out when it
        can; QoS 0 needs the link."""
        first = packet[0]
        qos = (first >> 1) & 3
        self.check_limits(None, qos, first & 1, len(packet))
        if not qos:
            if self.state != CONNECTED:
                raise ConnectorError(NOT_CONNECTED, "not connected (qos 0 messages are not queued here)", {})
            self._send(packet, now_ms)
            return None
        pid = self._alloc_pid()
        packet = _with_pid(packet, pid)
        self._add(pid, qos, _WAIT_ACK, packet, False)
        if self.state == CONNECTED and self.window() > 0:
            self._put_on_wire(self._inflight[pid], now_ms)
        return pid

    def check_limits(self, topic, qos, retain, size):
        """Raise what this broker said it cannot take (5.0 CONNACK: Maximum QoS, Retain
        Available, Maximum Packet Size) for a PUBLISH of `size` bytes."""
        if qos > self.broker_max_qos:
            raise ConnectorError(QOS_ERROR, "broker supports qos up to %d" % self.broker_max_qos,
                                 {"qos": qos, "supportedQos": list(range(self.broker_max_qos + 1))})
        if retain and not self.retain_available:
            raise ConnectorError(PROTOCOL_ERROR, "broker does not support retained messages", {"topic": topic})
        limit = self.broker_max_packet_size
        if limit and size > limit:
            raise ConnectorError(PAYLOAD_TOO_LARGE, "packet of %d bytes exceeds the broker's maximum of %d"
                                 % (size, limit), {"topic": topic, "size": size, "limit": limit})

    def _add(self, pid, qos, stage, packet, ever_sent):
        self._order += 1
        self._inflight[pid] = [pid, qos, stage, packet, self._order, False, 0, ever_sent, 0]

    def restore(self, pid, qos, stage, packet):
        """Put back a message that was in flight before a reset (its state came from
        flash): a PUBLISH `packet` already sent with packet id `pid` (stage 0: waiting
        for PUBACK/PUBREC), or one the broker PUBREC'd (stage 1: PUBREL is due). Only
        while disconnected; after CONNACK it is resumed like any in-flight message."""
        if self.state == CONNECTED or pid in self._inflight or qos not in (1, 2) or not 0 < pid <= _MAX_PID:
            raise ConnectorError(PROTOCOL_ERROR, "cannot restore packet id %r: session is %s (restore before "
                                 "connecting, a free id, QoS 1 or 2)" % (pid, self.state_name()),
                                 {"packetId": pid, "state": self.state_name()})
        if stage == _WAIT_COMP:
            packet = encode_ack(_PUBREL, self.version, pid)
        else:
            packet = _with_pid(packet, pid)  # ours: DUP is set in place
        self._add(pid, qos, stage, packet, True)

    def _put_on_wire(self, rec, now_ms):
        data = rec[R_PACKET]
        # A PUBLISH that went out before is a re-delivery: DUP set (also on a new session,
        # where the broker may have had it: the flag is information, never dedup). The
        # record's packet is ours (a bytearray): set in place, no copy.
        if rec[R_EVER_SENT] and rec[R_STAGE] == _WAIT_ACK:
            data[0] |= 0x08
        if not rec[R_ON_WIRE]:
            # Counts against Receive Maximum from PUBLISH until PUBACK / PUBCOMP.
            self._sent_in_window += 1
            rec[R_ON_WIRE] = True
        rec[R_SENT_MS] = now_ms
        rec[R_EVER_SENT] = True
        self._send(data, now_ms)

    def _release_window(self, now_ms):
        # Oldest first: a queued message never overtakes an earlier one.
        if self.state != CONNECTED:
            return
        for r in self._inflight.values():  # (the common case, all on the wire: no list)
            if not r[R_ON_WIRE]:
                break
        else:
            return
        waiting = [r for r in self._inflight.values() if not r[R_ON_WIRE]]
        waiting.sort(key=lambda r: r[R_ORDER])
        for rec in waiting:
            if rec[R_STAGE] == _WAIT_ACK and self.window() <= 0:
                break
            self._put_on_wire(rec, now_ms)

    def _need_connected(self, what):
        if self.state != CONNECTED:
            raise ConnectorError(NOT_CONNECTED, "cannot %s: session is %s, not connected" % (what, self.state_name()),
                                 {"state": self.state_name(), "allowed": "connected"})

    def check_filter(self, filt):
        """Raise TOPIC_ERROR unless `filt` is a filter this broker accepts (5.0 CONNACK
        may say it has no wildcard or shared subscriptions)."""
        _topic.validate_filter(filt)
        if not self.shared_available and filt.startswith("$share/"):
            raise topic_error(filt, "this broker does not support shared subscriptions")
        if not self.wildcard_available and ("+" in filt or "#" in filt):
            raise topic_error(filt, "this broker does not support wildcard subscriptions")

    def subscribe(self, topics, props=None, now_ms=0):
        """topics: [(filter, options)] (options: qos | no_local<<2 | rap<<3 | rh<<4). Returns pid."""
        self._need_connected("subscribe")
        if not topics:
            raise ConnectorError(TOPIC_ERROR, "no topics to subscribe", {"topic": None, "reason": "empty list"})
        for filt, opts in topics:
            self.check_filter(filt)
            if opts & 3 == 3 or opts & 0xC0 or (opts >> 4) & 3 == 3:
                raise ConnectorError(QOS_ERROR, "invalid subscription options %d" % opts,
                                     {"qos": opts & 3, "supportedQos": [0, 1, 2]})
            if self.version == 4 and opts & ~3:
                raise ConnectorError("CONFIG_ERROR", "subscription options need MQTT 5", {"topic": filt})
        if props and _SUBSCRIPTION_IDENTIFIER in props and not self.subid_available:
            raise ConnectorError(PROTOCOL_ERROR, "this broker does not support subscription identifiers", {})
        pid = self._alloc_pid()
        self._send(encode_subscribe(self.version, pid, topics, props if self.version == 5 else None), now_ms)
        self._acks[pid] = (_SUBSCRIBE, len(topics))
        return pid

    def unsubscribe(self, topics, props=None, now_ms=0):
        self._need_connected("unsubscribe")
        for filt in topics:
            _topic.validate_filter(filt)
        pid = self._alloc_pid()
        self._send(encode_unsubscribe(self.version, pid, topics, props if self.version == 5 else None), now_ms)
        self._acks[pid] = (_UNSUBSCRIBE, len(topics))
        return pid

    def ping(self, now_ms):
        self._need_connected("ping")
        self._ping_sent = now_ms
        self._send(encode_pingreq(), now_ms)

    def disconnect(self, reason_code=0, props=None, now_ms=0):
        """Clean close: DISCONNECT queued; the state is CLOSED (in-flight messages kept)."""
        if self.state == CONNECTED:
            self._send(encode_disconnect(self.version, reason_code, props if self.version == 5 else None),
                       now_ms)
        self.state = CLOSED

    def auth(self, reason_code, props, now_ms=0):
        if self.version != 5:
            raise ConnectorError(PROTOCOL_ERROR, "AUTH needs MQTT 5", {})
        if self.state not in (CONNECTING, CONNECTED):
            raise ConnectorError(NOT_CONNECTED, "cannot auth: session is %s, not connecting or connected"
                                 % self.state_name(), {"state": self.state_name()})
        self._send(encode_auth(reason_code, props), now_ms)

    # ---- timers -------------------------------------------------------------------
    # Keepalive: a PINGREQ goes out when we sent nothing for a keepalive interval, or
    # received nothing for one (a device that only publishes QoS 0 hears nothing back
    # otherwise). The link is dead when no COMPLETE packet arrived for 1.5 intervals:
    # bytes that trickle in without ever making a packet do not keep it alive.
    def next_timeout(self, now_ms):
        """Milliseconds until tick() has something to do (None: nothing timed)."""
        if self.state not in (CONNECTING, CONNECTED):
            return None
        ka = self.effective_keepalive * 1000
        cands = []
        if ka:
            if self._ping_sent is None:
                cands.append(ka - ticks_diff(now_ms, self._last_send))
                cands.append(ka - ticks_diff(now_ms, self._last_recv))
            cands.append(ka + ka // 2 - ticks_diff(now_ms, self._last_recv))
        if self.ack_timeout_ms and self._inflight:
            oldest = None
            for r in self._inflight.values():
                if r[R_ON_WIRE] and (oldest is None or ticks_diff(r[R_SENT_MS], oldest) < 0):
                    oldest = r[R_SENT_MS]
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
            return self._fail(0x8D, "keepalive timeout: no complete packet from the broker for %d ms"
                              % ticks_diff(now_ms, self._last_recv), send=False, code=KEEPALIVE_TIMEOUT)
        if self.ack_timeout_ms:
            for rec in self._inflight.values():
                if rec[R_ON_WIRE] and ticks_diff(now_ms, rec[R_SENT_MS]) >= self.ack_timeout_ms:
                    # MQTT 5 allows re-sending only on a new connection: drop this one;
                    # the reconnect re-sends with DUP.
                    return [(EV_ACK_TIMEOUT, rec[R_PID])] + self._fail(
                        0x8D, "no acknowledgement for packet %d in %d ms" % (rec[R_PID], self.ack_timeout_ms),
                        send=False, code=TIMEOUT)
        if ka and self.state == CONNECTED and self._ping_sent is None and (
                ticks_diff(now_ms, self._last_send) >= ka or ticks_diff(now_ms, self._last_recv) >= ka):
            self.ping(now_ms)
        return []

    # ---- incoming -----------------------------------------------------------------
    def _fail(self, reason_code, message, send=True, code=PROTOCOL_ERROR):
        if send and self.version == 5 and self.state in (CONNECTING, CONNECTED):
            self._out = []
            self.outbound_size = 0
            self._send(encode_disconnect(5, reason_code), self._last_send)
        if reason_code == 0x95:
            self._skip_oversize = True  # the next connection skips such packets instead
        self.state = CLOSED
        return [(EV_ERROR, reason_code, message, code)]

    def receive_data(self, data, now_ms):
        if self.state not in (CONNECTING, CONNECTED):
            return []
        events = []
        try:
            self.decoder.feed(data)
            while self.state in (CONNECTING, CONNECTED):
                pkt = self.decoder.next_packet()
                if pkt is None:
                    break
                self._last_recv = now_ms  # only whole packets prove the broker alive
                self._handle(pkt, now_ms, events)
        except ProtocolError as e:
            events += self._fail(e.reason_code, e.message)
        return events

    def _done(self, rec, reason_code, events, now_ms):
        del self._inflight[rec[R_PID]]
        self._sent_in_window -= 1
        if rec[R_STRIKES]:
            self._update_probe()
        events.append((EV_PUBLISHED, rec[R_PID], reason_code))
        self._release_window(now_ms)

    # ---- incoming: one handler per packet type the broker may send --------------------
    def _handle(self, pkt, now_ms, events):
        t = pkt.type
        if self.state == CONNECTING:
            if t == _CONNACK:
                return self._on_connack(pkt, now_ms, events)
            if t == _AUTH:
                events.append((EV_AUTH, pkt.reason_code, pkt.props))
                return
            raise ProtocolError(0x82, "expected CONNACK, got packet type %d" % t)
        if t == _PUBLISH:
            return self._on_publish(pkt, now_ms, events)
        if t == _PUBACK or t == _PUBREC or t == _PUBCOMP:
            return self._on_pub_ack(pkt, now_ms, events)
        if t == _PUBREL:
            rc = 0
            if self._in_qos2.pop(pkt.pid, None) is None:
                rc = 0x92 if self.version == 5 else 0  # packet identifier not found: still complete it
            self._send(encode_ack(_PUBCOMP, self.version, pkt.pid, rc), now_ms)
            return
        if t == _SUBACK or t == _UNSUBACK:
            kind, n = self._acks.pop(pkt.pid, (None, 0))
            want = _SUBSCRIBE if t == _SUBACK else _UNSUBSCRIBE
            name = "SUBACK" if t == _SUBACK else "UNSUBACK"
            if kind != want:
                raise ProtocolError(0x82, "%s for unknown packet id %d" % (name, pkt.pid))
            codes = pkt.reason_codes
            if codes and len(codes) != n:
                # one code per filter: a short one would make a topic silently vanish
                raise ProtocolError(0x82, "%s with %d reason codes for %d topics" % (name, len(codes), n))
            events.append((EV_SUBACK if t == _SUBACK else EV_UNSUBACK, pkt.pid, pkt.reason_codes, pkt.props))
            return
        if t == _PINGRESP:
            self._ping_sent = None
            events.append((EV_PINGRESP,))
            return
        if t == _DISCONNECT:
            self.state = DISCONNECTED
            events.append((EV_DISCONNECT, pkt.reason_code, pkt.props))
            return
        if t == _AUTH:
            events.append((EV_AUTH, pkt.reason_code, pkt.props))
            return
        raise ProtocolError(0x82, "unexpected packet type %d from the broker" % t)

    def _on_connack(self, pkt, now_ms, events):
        rc = pkt.reason_code
        props = pkt.props
        # a 3.1.1-only broker answers a 5.0 CONNECT with a 3.1.1 CONNACK: its code is a
        # 3.1.1 return code (1 = unacceptable protocol version, not "Granted QoS 1")
        self.connack_version = pkt.proto_level if pkt.proto_level == 4 else self.version
        if rc:
            self.state = CLOSED
            events.append((EV_CONNACK, False, rc, props))
            return
        if pkt.session_present and self.clean_start and self.version == 4:
            raise ProtocolError(0x82, "session present on a clean session")
        self.state = CONNECTED
        self.session_present = pkt.session_present
        self.connack_props = props
        if props:
            self.broker_receive_maximum = props.get(_RECEIVE_MAXIMUM, 65535)
            self.broker_max_packet_size = props.get(_MAXIMUM_PACKET_SIZE, 0)
            self.broker_max_qos = props.get(_MAXIMUM_QOS, 2)
            self.retain_available = bool(props.get(_RETAIN_AVAILABLE, 1))
            self.wildcard_available = bool(props.get(_WILDCARD_SUBSCRIPTION_AVAILABLE, 1))
            self.shared_available = bool(props.get(_SHARED_SUBSCRIPTION_AVAILABLE, 1))
            self.subid_available = bool(props.get(_SUBSCRIPTION_IDENTIFIER_AVAILABLE, 1))
            if _SERVER_KEEP_ALIVE in props:
                self.effective_keepalive = props[_SERVER_KEEP_ALIVE]
            if _ASSIGNED_CLIENT_IDENTIFIER in props:
                self.assigned_client_id = props[_ASSIGNED_CLIENT_IDENTIFIER]
                self.client_id = self.assigned_client_id
        if not pkt.session_present:
            self._in_qos2 = {}
            # The broker has no state: a PUBREC'd QoS 2 message was already delivered
            # by it, so it is complete; unacknowledged PUBLISHes go again as new.
            for rec in sorted(self._inflight.values(), key=lambda r: r[R_ORDER]):
                if rec[R_STAGE] == _WAIT_COMP:
                    del self._inflight[rec[R_PID]]
                    events.append((EV_PUBLISHED, rec[R_PID], 0))
            self._update_probe()
        events.append((EV_CONNACK, pkt.session_present, 0, props))
        # Re-send what is in flight, oldest first: PUBLISH with DUP, PUBREL as is; then
        # whatever waited for the window.
        for rec in sorted(self._inflight.values(), key=lambda r: r[R_ORDER]):
            if rec[R_STAGE] == _WAIT_COMP or self.window() > 0:
                self._put_on_wire(rec, now_ms)

    def _on_publish(self, pkt, now_ms, events):
        if pkt.oversize:
            return self._on_oversize(pkt, now_ms, events)
        props = pkt.props
        alias = props.get(_TOPIC_ALIAS) if props else None
        if alias is not None:
            if alias == 0 or alias > self.topic_alias_maximum:
                raise ProtocolError(0x94, "topic alias %d out of range 1..%d" % (alias, self.topic_alias_maximum))
            if pkt.topic:
                self._in_aliases[alias] = pkt.topic
            else:
                t = self._in_aliases.get(alias)
                if t is None:
                    raise ProtocolError(0x82, "unknown topic alias %d" % alias)
                pkt.topic = t
        elif not pkt.topic:
            raise ProtocolError(0x82, "PUBLISH without topic name or alias")
        qos = pkt.qos
        if qos == 0:
            events.append((EV_MESSAGE, pkt))
        elif qos == 1:
            events.append((EV_MESSAGE, pkt))
            self._send(encode_ack(_PUBACK, self.version, pkt.pid), now_ms)
        else:
            if pkt.pid not in self._in_qos2:
                self._hold_qos2(pkt.pid)
                events.append((EV_MESSAGE, pkt))
            # a duplicate before PUBREL is acknowledged again but not delivered again
            self._send(encode_ack(_PUBREC, self.version, pkt.pid), now_ms)

    def _hold_qos2(self, pid):
        # An incoming QoS 2 id is held until its PUBREL. A broker that never sends PUBREL
        # must not make the device hold 65535 of them: past receive_maximum the link
        # closes (5.0 says so with 0x93; 3.1.1 has no limit on the wire, but a broker
        # inside its own inflight window, 20 on Mosquitto, never comes near it).
        if len(self._in_qos2) >= self.receive_maximum:
            raise ProtocolError(0x93, "broker exceeded our receive maximum %d" % self.receive_maximum)
        self._in_qos2[pid] = True

    def _on_oversize(self, pkt, now_ms, events):
        # Skipped by the decoder (its body was never buffered): acknowledge it so the
        # broker does not redeliver it, report it once, stay connected.
        qos, pid = pkt.qos, pkt.pid
        if qos == 1 and pid:
            self._send(encode_ack(_PUBACK, self.version, pid), now_ms)
        elif qos == 2 and pid:
            if pid in self._in_qos2:
                pid = None  # a duplicate before PUBREL: acknowledged again, not reported again
            else:
                self._hold_qos2(pkt.pid)
            self._send(encode_ack(_PUBREC, self.version, pkt.pid), now_ms)
        if pid or not qos:
            events.append((EV_OVERSIZE, pkt.topic, pkt.oversize, qos))

    def _on_pub_ack(self, pkt, now_ms, events):
        t = pkt.type
        rec = self._inflight.get(pkt.pid)
        if rec is None or not rec[R_ON_WIRE]:
            raise ProtocolError(0x82, "acknowledgement for packet id %d not in flight" % pkt.pid)
        if rec[R_QOS] != _ACK_QOS[t - _PUBACK]:
            raise ProtocolError(0x82, "packet type %d for a QoS %d message" % (t, rec[R_QOS]))
        if rec[R_STAGE] != _ACK_STAGE[t - _PUBACK]:
            if t == _PUBREC:  # a repeated PUBREC: answer it again
                self._send(rec[R_PACKET], now_ms)
                return
            raise ProtocolError(0x82, "PUBCOMP before PUBREC for packet id %d" % pkt.pid)
        if t == _PUBREC and pkt.reason_code < 0x80:
            rec[R_STAGE] = _WAIT_COMP
            rec[R_PACKET] = encode_ack(_PUBREL, self.version, rec[R_PID])
            # the driver persists this before the PUBREL below reaches the wire
            events.append((EV_PUBREC, rec[R_PID]))
            self._put_on_wire(rec, now_ms)  # still counted in the window until PUBCOMP
            return
        # The PUBREC already meant "delivered"; a PUBCOMP reason (only 0x92, Packet
        # Identifier not found, exists) is no refusal: 5.0 section 3.7.2.1 calls it
        # normal during recovery, when our PUBREL was a re-send.
        self._done(rec, 0 if t == _PUBCOMP else pkt.reason_code, events, now_ms)
