# Capability handlers: (capability, operation) -> async handler(connector, params).
# Each validates its params before anything is sent or stored, and raises
# ConnectorError with the seed's codes and details on bad input.
import asyncio

from lgmqtt.mqtt.encode import encode_publish
from lgmqtt.store.records import Message
from lgmqtt.compat import const
from lgmqtt.connector import payloads
from lgmqtt.mqtt import topic as T
from lgmqtt.errors import (ConnectorError, INVALID_PARAMS, NOT_CONNECTED, PAYLOAD_TOO_LARGE, QOS_ERROR,
                           TOPIC_ERROR)

_CONTENT_TYPE = const(0x03)

SUPPORTED_QOS = [0, 1, 2]
_PUBLISH = const(3)
_PAYLOAD_FORMAT_INDICATOR = const(0x01)


def _bad(name, value, expected):
    return ConnectorError(INVALID_PARAMS, "%s: expected %s, got %r" % (name, expected, value),
                          {"param": name, "expected": expected})


def _qos(q, limit=2):
    if isinstance(q, bool) or not isinstance(q, int) or q not in SUPPORTED_QOS:
        raise ConnectorError(QOS_ERROR, "qos must be 0, 1 or 2, got %r" % (q,), {"qos": q, "supportedQos": SUPPORTED_QOS})
    if q > limit:
        raise ConnectorError(QOS_ERROR, "qos %d above the maximum %d for this topic" % (q, limit),
                             {"qos": q, "supportedQos": SUPPORTED_QOS[:limit + 1]})
    return q


def _topic_param(params, key="topic"):
    t = params.get(key)
    if not isinstance(t, str):
        raise ConnectorError(TOPIC_ERROR, "%s is required and must be a string" % key,
                             {"topic": t, "reason": "missing or not a string"})
    return t


# ---- mqtt:publish ----------------------------------------------------------------
class Write:
    """One write, validated and encoded once at the boundary; everything below trusts
    it: the PUBLISH in `packet` is what the outbox stores (`msg`, a view of the same
    bytes) and what the session sends. `payload` is the caller's, for the events."""

    def __init__(self, conn, topic, data, qos, retain, props, payload):
        self.topic = topic
        self.qos = qos
        self.retain = retain
        self.payload = payload
        v = conn.cfg["protocolVersion"]
        try:
            # packet id 0: the session writes the one it assigns when it sends
            p = encode_publish(v, topic, data, qos, retain, False, 0 if qos else None, props or None)
        except (ValueError, TypeError) as e:
            raise _bad_props(e)
        self.packet = p
        self.msg = Message.of_packet(v, p)
        limit = conn.cfg.get("maxPacketSize", 65536)
        if len(p) > limit:
            raise ConnectorError(PAYLOAD_TOO_LARGE, "message of %d bytes exceeds maxPacketSize %d" % (len(p), limit),
                                 {"topic": topic, "size": len(p), "limit": limit})


def _prepare(conn, m):
    """Validate one message of a write and encode it; nothing is sent or stored here."""
    if not isinstance(m, dict):
        raise _bad("message", m, "an object with topic and payload")
    topic = T.validate_name(_topic_param(m))
    decl = conn.topics.get(topic) if conn.topics is not None else None
    qos = _qos(m.get("qos", conn.cfg.get("defaultQos", 0)), decl["maxQos"] if decl else 2)
    retain = m.get("retain", False)
    if not isinstance(retain, bool):
        raise _bad("retain", retain, "true or false")
    data, ctype = payloads.encode(m.get("payload"))
    props = None
    v5 = conn.cfg["protocolVersion"] == 5
    if "properties" in m or (v5 and ctype and m.get("payload") is not None):
        props = _props(m, data, ctype, v5)
    return Write(conn, topic, data, qos, retain, props, m.get("payload"))


def _props(m, data, ctype, v5):
    """A write's MQTT 5 properties (wire form), or None on 3.1.1 (checked all the same)."""
    props = {}
    if "properties" in m:
        # checked on both versions (bad input is an error either way), sent only on 5.0
        props = payloads.props_to_wire(m["properties"])
        if props.get(_PAYLOAD_FORMAT_INDICATOR) == 1:
            from lgmqtt.mqtt.wire import utf8_ok

            if not utf8_ok(data, 0, len(data)):  # 5.0 3.3.2.3.2: then the payload MUST be UTF-8
                raise _bad("properties.payloadFormatIndicator", 1, "0 for a payload that is not UTF-8")
    if v5:
        if ctype and _CONTENT_TYPE not in props and m.get("payload") is not None:
            props[_CONTENT_TYPE] = ctype
        return props
    if props:
        from lgmqtt.mqtt.props import encode_props

        try:
            encode_props(props, _PUBLISH)
        except (ValueError, TypeError) as e:
            raise _bad_props(e)
    return None


def _bad_props(e):
    return ConnectorError(INVALID_PARAMS, "properties: %s" % e,
                          {"param": "properties", "expected": "valid MQTT 5 property values"})


def _publish_one(conn, w, wait=True):
    # -> the awaitable that publishes it (one coroutine per write, not two)
    if w.qos or (not conn.connected and conn.cfg.get("queueQoSZero")):
        return conn.delivery.send(w, wait)
    return _publish_qos0(conn, w)


async def _publish_qos0(conn, w):
    if not conn.connected:
        raise ConnectorError(NOT_CONNECTED, "not connected: QoS 0 messages are not queued (set queueQoSZero)",
                             {"topic": w.topic, "qos": 0})
    await conn.client.send_packet(w.packet)
    if conn.history.wants(w.topic):
        conn.history.record_message("published", w.msg)
    conn.emit("message-published", {"topic": w.topic, "payload": w.payload, "qos": 0, "retain": w.retain,
                                    "messageId": None})
    return {"success": True, "queued": False, "messageId": None, "topic": w.topic, "qos": 0}


async def publish_write(conn, params):
    if "messages" not in params:
        try:
            return await _publish_one(conn, _prepare(conn, params))
        except ConnectorError as e:
            conn.emit("publish-error", {"topic": params.get("topic"), "error": e.error, "message": e.message,
                                        "details": e.details})
            raise
    msgs = params["messages"]
    if not isinstance(msgs, list) or not msgs:
        raise _bad("messages", msgs, "a non-empty list of messages")
    size = params.get("batchSize", conn.cfg.get("batchSize", 10))
    delay = params.get("batchDelay", conn.cfg.get("batchDelay", 0))
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise _bad("batchSize", size, "an integer >= 1")
    if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
        raise _bad("batchDelay", delay, "an integer >= 0 (ms)")
    # all or nothing on bad input: nothing is sent if one message is invalid
    prepared = [_prepare(conn, m) for m in msgs]
    results = []
    for k in range(0, len(prepared), size):
        if k and delay:
            await asyncio.sleep(delay / 1000)
        group = prepared[k:k + size]
        outs = await asyncio.gather(*[_safe(conn, m) for m in group])
        results += outs
    failed = sum(1 for r in results if not r.get("success"))
    return {"success": failed == 0, "published": len(results) - failed, "failed": failed, "results": results}


async def _safe(conn, w):
    try:
        return await _publish_one(conn, w)
    except ConnectorError as e:
        conn.emit("publish-error", {"topic": w.topic, "error": e.error, "message": e.message, "details": e.details})
        return {"success": False, "topic": w.topic, "error": e.to_dict()}


# ---- mqtt:subscribe --------------------------------------------------------------
def _sub_options(o, v5):
    if o is None:
        return 0
    if not isinstance(o, dict):
        raise _bad("options", o, "an object")
    nl = o.get("nl", o.get("noLocal", False))
    rap = o.get("rap", o.get("retainAsPublished", False))
    rh = o.get("rh", o.get("retainHandling", 0))
    if isinstance(rh, bool) or not isinstance(rh, int) or rh not in (0, 1, 2):
        raise _bad("options.retainHandling", rh, "0, 1 or 2")
    bits = (4 if nl else 0) | (8 if rap else 0) | (rh << 4)
    if bits and not v5:
        raise _bad("options", o, "no subscription options on MQTT 3.1.1 (protocolVersion 5 has them)")
    return bits


def _topic_list(params, with_qos):
    if "topics" in params:
        items = params["topics"]
        if not isinstance(items, list) or not items:
            raise ConnectorError(TOPIC_ERROR, "topics must be a non-empty list", {"topic": items, "reason": "empty"})
    else:
        items = [params]
    out = []
    for it in items:
        if isinstance(it, str):
            it = {"topic": it, "qos": params.get("qos", 0)}
        if not isinstance(it, dict):
            raise _bad("topics[]", it, "a topic string or {topic, qos}")
        f = T.validate_filter(_topic_param(it))
        if with_qos:
            out.append((f, _qos(it.get("qos", params.get("qos", 0))), it.get("options", params.get("options"))))
        else:
            out.append(f)
    return out


async def subscribe(conn, params):
    v5 = conn.cfg["protocolVersion"] == 5
    items = _topic_list(params, True)
    topics = [(f, q | _sub_options(o, v5)) for f, q, o in items]
    conn.require_connected("subscribe")
    codes = await conn.client.subscribe(topics)
    subs = []
    for (f, opts), rc in zip(topics, codes):
        ok = rc < 0x80
        subs.append({"topic": f, "qos": rc if ok else None, "success": ok})
        if ok:
            conn.subscriptions[f] = rc
        else:
            from lgmqtt.mqtt.names import reason_name

            conn.emit("subscription-error", {"topic": f, "error": "SUBSCRIPTION_REFUSED", "reasonCode": rc,
                                             "message": "broker refused %s: %s" % (f, reason_name(rc))})
    return {"success": all(s["success"] for s in subs), "subscriptions": subs}


async def unsubscribe(conn, params):
    filters = _topic_list(params, False)
    conn.require_connected("unsubscribe")
    await conn.client.unsubscribe(filters)
    for f in filters:
        conn.subscriptions.pop(f, None)
    return {"success": True, "topics": filters}


# ---- mqtt:connection -------------------------------------------------------------
async def connection_connect(conn, params):
    return await conn.connect()


async def connection_disconnect(conn, params):
    return await conn.disconnect()


async def connection_status(conn, params):
    return conn.status()


# ---- mqtt:history ----------------------------------------------------------------


# (capability, operation) -> (module, function): a handler's module loads on its first
# call, so a node that never reads history or manages topics never holds that code.
HANDLERS = {
    ("mqtt:publish", "write"): ("ops", "publish_write"),
    ("mqtt:publish", "pending"): ("outboxops", "pending"),
    ("mqtt:publish", "discard"): ("outboxops", "discard"),
    ("mqtt:publish", "retry"): ("outboxops", "retry"),
    ("mqtt:subscribe", "subscribe"): ("ops", "subscribe"),
    ("mqtt:subscribe", "unsubscribe"): ("ops", "unsubscribe"),
    ("mqtt:connection", "connect"): ("ops", "connection_connect"),
    ("mqtt:connection", "disconnect"): ("ops", "connection_disconnect"),
    ("mqtt:connection", "status"): ("ops", "connection_status"),
    ("mqtt:history", "read"): ("historyops", "history_read"),
    ("mqtt:history", "clear"): ("historyops", "history_clear"),
    ("mqtt:history", "retained"): ("historyops", "history_retained"),
    ("mqtt:topics", "list"): ("topics", "topics_list"),
    ("mqtt:topics", "create"): ("topics", "topics_create"),
    ("mqtt:topics", "delete"): ("topics", "topics_delete"),
}


def handler(capability, operation):
    """The handler function of a (capability, operation), or None."""
    where = HANDLERS.get((capability, operation))
    if where is None:
        return None
    return getattr(__import__("lgmqtt.connector." + where[0], None, None, (where[1],)), where[1])
