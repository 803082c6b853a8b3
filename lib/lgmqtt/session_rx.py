# The incoming half of the session (see session.py, whose rules hold here too): what
# each packet from the broker does to the session state. Session inherits it; split
# out only to keep each file readable. Protocol violations raise ProtocolError, which
# Session.receive_data turns into one EV_ERROR.
from lgmqtt import codec
from lgmqtt.compat import const
from lgmqtt.wire import ProtocolError

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
            self._send(codec.encode_ack(_PUBCOMP, self.version, pkt.pid, rc), now_ms)
            return
        if t == _SUBACK or t == _UNSUBACK:
            kind = self._acks.pop(pkt.pid, None)
            want = _SUBSCRIBE if t == _SUBACK else _UNSUBSCRIBE
            if kind != want:
                raise ProtocolError(0x82, "%s for unknown packet id %d" % (
                    "SUBACK" if t == _SUBACK else "UNSUBACK", pkt.pid))
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
            if _SERVER_KEEP_ALIVE in props:
                self.effective_keepalive = props[_SERVER_KEEP_ALIVE]
            if _ASSIGNED_CLIENT_IDENTIFIER in props:
                self.assigned_client_id = props[_ASSIGNED_CLIENT_IDENTIFIER]
                self.client_id = self.assigned_client_id
        if not pkt.session_present:
            self._in_qos2 = {}
            # The broker has no state: a PUBREC'd QoS 2 message was already delivered
            # by it, so it is complete; unacknowledged PUBLISHes go again as new.
            for rec in sorted(self._inflight.values(), key=lambda r: r[4]):
                if rec[2] == _WAIT_COMP:
                    del self._inflight[rec[0]]
                    events.append((_EV_PUBLISHED, rec[0], 0))
        events.append((_EV_CONNACK, pkt.session_present, 0, props))
        # Re-send what is in flight, oldest first: PUBLISH with DUP (on a resumed
        # session), PUBREL as is; then whatever waited for the window.
        for rec in sorted(self._inflight.values(), key=lambda r: r[4]):
            if rec[2] == _WAIT_COMP:
                self._put_on_wire(rec, now_ms, False)
            elif self.window() > 0:
                self._put_on_wire(rec, now_ms, pkt.session_present)

    def _on_publish(self, pkt, now_ms, events):
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
            self._send(codec.encode_ack(_PUBACK, self.version, pkt.pid), now_ms)
        else:
            if pkt.pid not in self._in_qos2:
                if self.version == 5 and len(self._in_qos2) >= self.receive_maximum:
                    raise ProtocolError(0x93, "broker exceeded our receive maximum %d" % self.receive_maximum)
                self._in_qos2[pkt.pid] = True
                events.append((_EV_MESSAGE, pkt))
            # a duplicate before PUBREL is acknowledged again but not delivered again
            self._send(codec.encode_ack(_PUBREC, self.version, pkt.pid), now_ms)

    def _on_pub_ack(self, pkt, now_ms, events):
        t = pkt.type
        rec = self._inflight.get(pkt.pid)
        if rec is None or not rec[5]:
            raise ProtocolError(0x82, "acknowledgement for packet id %d not in flight" % pkt.pid)
        if t == _PUBACK:
            if rec[1] != 1 or rec[2] != _WAIT_ACK:
                raise ProtocolError(0x82, "PUBACK for a QoS %d message" % rec[1])
            self._done(rec, pkt.reason_code, events, now_ms)
        elif t == _PUBREC:
            if rec[1] != 2:
                raise ProtocolError(0x82, "PUBREC for a QoS 1 message")
            if rec[2] == _WAIT_COMP:  # a repeated PUBREC: answer it again
                self._send(rec[3], now_ms)
                return
            if pkt.reason_code >= 0x80:
                return self._done(rec, pkt.reason_code, events, now_ms)
            rec[2] = _WAIT_COMP
            rec[3] = codec.encode_ack(_PUBREL, self.version, rec[0])
            self._put_on_wire(rec, now_ms, False)  # still counted in the window until PUBCOMP
        else:
            if rec[2] != _WAIT_COMP:
                raise ProtocolError(0x82, "PUBCOMP before PUBREC for packet id %d" % pkt.pid)
            self._done(rec, pkt.reason_code, events, now_ms)
