# The body of a message record in the ring log: what the history answers with and what
# the outbox needs to resend a PUBLISH after a reboot. Compact (3 bytes + topic, +2 +
# properties when there are any, then the payload as is):
#
#   flags u8 (bits 0-1 qos, bit 2 retain, bit 3 properties present)
#   topic length u16 (big-endian) | topic (UTF-8)
#   [properties length u16 | properties: MQTT 5 property bytes as the codec encodes them]
#   payload (the rest)
#
#   parts = pack_message("a/b", b"21.5", qos=1)   # (head, payload): no payload copy
#   seq = log.append(KIND, parts)
#   topic, payload, qos, retain, props = unpack_message(body)
#   peek_topic(body) -> "a/b" without copying the payload (for history filters)
from lgmqtt.compat import const
from lgmqtt.errors import PROTOCOL_ERROR, QOS_ERROR, TOPIC_ERROR, ConnectorError

_RETAIN = const(4)
_PROPS = const(8)


def pack_message(topic, payload, qos=0, retain=False, props=None):
    """-> (head, payload) to pass to RingLog.append as the body."""
    if isinstance(topic, str):
        topic = topic.encode()
    if isinstance(payload, str):
        payload = payload.encode()
    if not 0 <= qos <= 2:
        raise ConnectorError(QOS_ERROR, "qos must be 0, 1 or 2", {"qos": qos})
    if len(topic) > 0xFFFF:
        raise ConnectorError(TOPIC_ERROR, "topic longer than 65535 bytes", {})
    flags = qos | (_RETAIN if retain else 0)
    n = 3 + len(topic)
    if props:
        flags |= _PROPS
        n += 2 + len(props)
    head = bytearray(n)
    head[0] = flags
    head[1] = len(topic) >> 8
    head[2] = len(topic) & 0xFF
    head[3:3 + len(topic)] = topic
    if props:
        p = 3 + len(topic)
        head[p] = len(props) >> 8
        head[p + 1] = len(props) & 0xFF
        head[p + 2:] = props
    return (head, payload)


def _bad(why):
    return ConnectorError(PROTOCOL_ERROR, "bad message record: " + why, {})


def _topic_end(body):
    if len(body) < 3:
        raise _bad("too short")
    end = 3 + ((body[1] << 8) | body[2])
    if end > len(body):
        raise _bad("topic past the end")
    return end


def peek_topic(body):
    """The record's topic as str."""
    return str(bytes(body[3:_topic_end(body)]), "utf-8")


def unpack_message(body):
    """-> (topic str, payload bytes, qos, retain, props bytes or None)."""
    end = _topic_end(body)
    flags = body[0]
    topic = str(bytes(body[3:end]), "utf-8")
    props = None
    if flags & _PROPS:
        if end + 2 > len(body):
            raise _bad("properties past the end")
        n = (body[end] << 8) | body[end + 1]
        if end + 2 + n > len(body):
            raise _bad("properties past the end")
        props = bytes(body[end + 2:end + 2 + n])
        end += 2 + n
    return topic, bytes(body[end:]), flags & 3, bool(flags & _RETAIN), props
