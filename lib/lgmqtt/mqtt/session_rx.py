# The incoming half of the session (see session.py, whose rules hold here too): what
# each packet from the broker does to the session state. Session inherits it; split
# out only to keep each file readable. Protocol violations raise ProtocolError, which
# Session.receive_data turns into one EV_ERROR.
from lgmqtt.mqtt.encode import encode_ack
from lgmqtt.compat import const
from lgmqtt.mqtt.wire import ProtocolError

# session.py's public states and events, folded here at compile time
_DISCONNECTED = const(0)
_CONNECTING = const(1)
_CONNECTED = const(2)
_CLOSED = const(3)
_EV_CONNACK = const(1)
_EV_MESSAGE = const(2)
_EV_PUBLISHED = const(3)
_EV_SUBACK = const(4)
_EV_UNSUBACK = const(5)
_EV_DISCONNECT = const(6)
_EV_AUTH = const(7)
_EV_PINGRESP = const(9)
_EV_PUBREC = const(10)
_EV_OVERSIZE = const(13)
_R_PID = const(0)
_R_QOS = const(1)
_R_STAGE = const(2)
_R_PACKET = const(3)
_R_ORDER = const(4)
_R_ON_WIRE = const(5)

_WAIT_ACK = const(0)
_WAIT_COMP = const(1)

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
_TOPIC_ALIAS = const(0x23)
_MAXIMUM_QOS = const(0x24)
_RETAIN_AVAILABLE = const(0x25)
_RECEIVE_MAXIMUM = const(0x21)
_MAXIMUM_PACKET_SIZE = const(0x27)
_WILDCARD_SUBSCRIPTION_AVAILABLE = const(0x28)
_SUBSCRIPTION_IDENTIFIER_AVAILABLE = const(0x29)
_SHARED_SUBSCRIPTION_AVAILABLE = const(0x2A)


class Incoming:
    """Session's base: one handler per packet type the broker may send."""

    def _handle(self, pkt, now_ms, events):
        t = pkt.type
        if self.state == _CONNECTING:
            if t == _CONNACK:
                return self._on_connack(pkt, now_ms, events)
            if t == _AUTH:
                events.append((_EV_AUTH, pkt.reason_code, pkt.props))
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
            events.append((_EV_SUBACK if t == _SUBACK else _EV_UNSUBACK, pkt.pid, pkt.reason_codes, pkt.props))
            return
        if t == _PINGRESP:
            self._ping_sent = None
            events.append((_EV_PINGRESP,))
            return
        if t == _DISCONNECT:
            self.state = _DISCONNECTED
            events.append((_EV_DISCONNECT, pkt.reason_code, pkt.props))
            return
        if t == _AUTH:
            events.append((_EV_AUTH, pkt.reason_code, pkt.props))
            return
        raise ProtocolError(0x82, "unexpected packet type %d from the broker" % t)

    def _on_connack(self, pkt, now_ms, events):
        rc = pkt.reason_code
        props = pkt.props
        # a 3.1.1-only broker answers a 5.0 CONNECT with a 3.1.1 CONNACK: its code is a
        # 3.1.1 return code (1 = unacceptable protocol version, not "Granted QoS 1")
        self.connack_version = pkt.proto_level if pkt.proto_level == 4 else self.version
        if rc:
            self.state = _CLOSED
            events.append((_EV_CONNACK, False, rc, props))
            return
        if pkt.session_present and self.clean_start and self.version == 4:
            raise ProtocolError(0x82, "session present on a clean session")
        self.state = _CONNECTED
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
            for rec in sorted(self._inflight.values(), key=lambda r: r[_R_ORDER]):
                if rec[_R_STAGE] == _WAIT_COMP:
                    del self._inflight[rec[_R_PID]]
                    events.append((_EV_PUBLISHED, rec[_R_PID], 0))
            self._update_probe()
        events.append((_EV_CONNACK, pkt.session_present, 0, props))
        # Re-send what is in flight, oldest first: PUBLISH with DUP, PUBREL as is; then
        # whatever waited for the window.
        for rec in sorted(self._inflight.values(), key=lambda r: r[_R_ORDER]):
            if rec[_R_STAGE] == _WAIT_COMP or self.window() > 0:
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
            events.append((_EV_MESSAGE, pkt))
        elif qos == 1:
            events.append((_EV_MESSAGE, pkt))
            self._send(encode_ack(_PUBACK, self.version, pkt.pid), now_ms)
        else:
            if pkt.pid not in self._in_qos2:
                if self.version == 5 and len(self._in_qos2) >= self.receive_maximum:
                    raise ProtocolError(0x93, "broker exceeded our receive maximum %d" % self.receive_maximum)
                self._in_qos2[pkt.pid] = True
                events.append((_EV_MESSAGE, pkt))
            # a duplicate before PUBREL is acknowledged again but not delivered again
            self._send(encode_ack(_PUBREC, self.version, pkt.pid), now_ms)

    def _on_oversize(self, pkt, now_ms, events):
        # Skipped by the decoder (its body was never buffered): acknowledge it so the
        # broker does not redeliver it, report it once, stay connected.
        qos, pid = pkt.qos, pkt.pid
        if qos == 1 and pid:
            self._send(encode_ack(_PUBACK, self.version, pid), now_ms)
        elif qos == 2 and pid:
            if pid in self._in_qos2:
                pid = None  # a duplicate before PUBREL: acknowledged again, not reported again
            self._in_qos2[pkt.pid] = True
            self._send(encode_ack(_PUBREC, self.version, pkt.pid), now_ms)
        if pid or not qos:
            events.append((_EV_OVERSIZE, pkt.topic, pkt.oversize, qos))

    def _on_pub_ack(self, pkt, now_ms, events):
        t = pkt.type
        rec = self._inflight.get(pkt.pid)
        if rec is None or not rec[_R_ON_WIRE]:
            raise ProtocolError(0x82, "acknowledgement for packet id %d not in flight" % pkt.pid)
        if t == _PUBACK:
            if rec[_R_QOS] != 1 or rec[_R_STAGE] != _WAIT_ACK:
                raise ProtocolError(0x82, "PUBACK for a QoS %d message" % rec[_R_QOS])
            self._done(rec, pkt.reason_code, events, now_ms)
        elif t == _PUBREC:
            if rec[_R_QOS] != 2:
                raise ProtocolError(0x82, "PUBREC for a QoS 1 message")
            if rec[_R_STAGE] == _WAIT_COMP:  # a repeated PUBREC: answer it again
                self._send(rec[_R_PACKET], now_ms)
                return
            if pkt.reason_code >= 0x80:
                return self._done(rec, pkt.reason_code, events, now_ms)
            rec[_R_STAGE] = _WAIT_COMP
            rec[_R_PACKET] = encode_ack(_PUBREL, self.version, rec[_R_PID])
            # the driver persists this before the PUBREL below reaches the wire
            events.append((_EV_PUBREC, rec[_R_PID]))
            self._put_on_wire(rec, now_ms)  # still counted in the window until PUBCOMP
        else:
            if rec[_R_STAGE] != _WAIT_COMP:
                raise ProtocolError(0x82, "PUBCOMP before PUBREC for packet id %d" % pkt.pid)
            # The PUBREC already meant "delivered"; a PUBCOMP reason (only 0x92, Packet
            # Identifier not found, exists) is no refusal: 5.0 section 3.7.2.1 calls it
            # normal during recovery, when our PUBREL was a re-send.
            self._done(rec, 0, events, now_ms)
