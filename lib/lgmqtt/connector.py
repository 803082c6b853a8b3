# The Looking Glass connector on the device:
#
#   connector = Connector(config)          # parsed config.json (seed shape); store=(history, outbox) optional
#   connector.on("message-received", cb)   # plain function or coroutine function
#   result = await connector.execute("mqtt:publish", "write", {"topic": ..., "payload": ..., "qos": 1})
#
# It owns the pieces and the promises between them: a QoS 1/2 message (and QoS 0 with
# queueQoSZero while the link is down) is in the persistent outbox before `write`
# returns; it is sent when connected and acknowledged in the outbox when the broker
# acknowledges it; after a reconnect or a reboot, what is not acknowledged is re-sent
# in order. Capability handlers live in lgmqtt.ops; remote invocation in lgmqtt.remote.
import asyncio

from lgmqtt import client as C
from lgmqtt import codec
from lgmqtt import payloads
from lgmqtt.compat import time_s
from lgmqtt.errors import (ConnectorError, CAPABILITY_DISABLED, CONFIG_ERROR, INTERNAL_ERROR, INVALID_PARAMS,
                           NOT_CONNECTED, OUTBOX_FULL, PROTOCOL_ERROR)
from lgmqtt.isotime import format_iso

CAPABILITIES = ("mqtt:publish", "mqtt:subscribe", "mqtt:connection", "mqtt:history", "mqtt:topics")
EVENTS = ("connected", "disconnected", "error", "message-received", "message-published", "publish-error",
          "subscription-error", "debug")


def _validate(doc):
    # The validator is ~20 KB of bytecode used once: load it, use it, let it go.
    import sys
    from lgmqtt import config

    try:
        return config.validate(doc)
    finally:
        sys.modules.pop("lgmqtt.config", None)
        import lgmqtt

        lgmqtt.__dict__.pop("config", None)


def _now_iso():
    return format_iso(time_s())


class _Pending:
    # A publish handed to the client: what the message-published event needs, and the
    # write() caller waiting for the acknowledgement (if any).
    def __init__(self, oid, topic, payload, qos, retain):
        self.oid, self.topic, self.payload, self.qos, self.retain = oid, topic, payload, qos, retain
        self.done = None  # asyncio.Event when a caller waits
        self.result = None
        self.pid = None


class Connector:
    def __init__(self, config, store=None, opener=None, history_storage=None):
        """store: (History, Outbox) to use as is; history_storage: a function
        segment_size -> storage or None, for a board's raw flash partition."""
        self.doc = _validate(config)
        self.cfg = self.doc["config"]
        caps = self.doc["capabilities"]
        self.capabilities = [c for c in caps["enabled"] if c not in caps["disabled"]]
        self._handlers = {}
        self.debug = False
        if store is None:
            from lgmqtt.store import check_config, open_store

            hist = check_config(self.cfg.get("history", {}))
            raw = history_storage(hist["size"] // hist["segments"]) if history_storage else None
            store = open_store(hist, storage=raw)
        self.history, self.outbox = store
        self._opener = opener
        self.client = None
        self._by_pid = {}          # packet id -> _Pending
        self._sent_oids = set()    # outbox ids handed to the client in this process
        self._waiting = {}         # outbox id -> (_Pending, data, props): written, not yet handed over
        self._refused = set()      # outbox ids this connection's broker refused (retried on the next one)
        self._drain_from_start = False
        self._drainer = None
        self._drain_again = False
        self.subscriptions = {}    # filter -> qos (the client resubscribes after a reconnect)
        from lgmqtt.ops import Registry

        self.topics = Registry(self.cfg.get("topics", []))
        self.remote = None
        rcfg = self.cfg.get("remote", {})
        if rcfg.get("enabled", True):
            from lgmqtt.remote import Remote

            self.remote = Remote(self, rcfg)

    # ---- events -------------------------------------------------------------------
    def on(self, event, callback):
        if event not in EVENTS:
            raise ConnectorError(INVALID_PARAMS, "unknown event %r" % event, {"event": event, "known": list(EVENTS)})
        self._handlers.setdefault(event, []).append(callback)

    def off(self, event, callback=None):
        cbs = self._handlers.get(event, [])
        if callback is None:
            cbs.clear()
        elif callback in cbs:
            cbs.remove(callback)

    def set_debug_mode(self, flag):
        self.debug = bool(flag)

    def _debug(self, message, **info):
        if self.debug:
            info["message"] = message
            info["timestamp"] = _now_iso()
            self.emit("debug", info)

    def emit(self, event, data):
        for cb in list(self._handlers.get(event, ())):
            try:
                r = cb(data)
                if r is not None and hasattr(r, "send"):  # a coroutine: run it, catch what it raises
                    asyncio.create_task(self._guard(event, r))
            except Exception as e:
                self._callback_failed(event, e)

    async def _guard(self, event, coro):
        try:
            await coro
        except Exception as e:
            self._callback_failed(event, e)

    def _callback_failed(self, event, e):
        if event == "error":
            return  # an error handler that fails must not loop
        self.emit("error", {"error": PROTOCOL_ERROR, "message": "%s callback failed: %r" % (event, e),
                            "timestamp": _now_iso()})

    # ---- dispatch -----------------------------------------------------------------
    async def execute(self, capability, operation, params=None):
        from lgmqtt import ops

        if not isinstance(capability, str) or capability not in CAPABILITIES:
            raise ConnectorError(CAPABILITY_DISABLED, "unknown capability %r" % capability,
                                 {"capability": capability, "enabled": self.capabilities})
        if capability not in self.capabilities:
            raise ConnectorError(CAPABILITY_DISABLED, "capability %s is disabled" % capability,
                                 {"capability": capability, "enabled": self.capabilities})
        handler = ops.HANDLERS.get((capability, operation)) if isinstance(operation, str) else None
        if handler is None:
            raise ConnectorError(INVALID_PARAMS, "%s has no operation %r" % (capability, operation),
                                 {"capability": capability, "operation": operation,
                                  "operations": [o for c, o in ops.HANDLERS if c == capability]})
        if params is not None and not isinstance(params, dict):
            raise ConnectorError(INVALID_PARAMS, "params must be an object", {"params": type(params).__name__})
        if self.debug:
            self._debug("execute", capability=capability, operation=operation)
        try:
            return await handler(self, params or {})
        except (ValueError, TypeError) as e:
            # Input of a shape no check foresaw: still a clear error with a code.
            # (UnicodeError is a ValueError.)
            raise ConnectorError(INVALID_PARAMS, "%s %s: bad parameters: %s" % (capability, operation, e),
                                 {"capability": capability, "operation": operation})

    # ---- connection ---------------------------------------------------------------
    @property
    def connected(self):
        return self.client is not None and self.client.connected

    async def connect(self):
        if self.client is None:
            from lgmqtt.clientcfg import client_config

            self.client = C.Client(client_config(self.cfg), self._on_client_event, self._opener)
        await self.client.connect()
        return {"success": True, "connected": True, "clientId": self.client.session.client_id,
                "broker": self.client.brokers.current_name()}

    async def disconnect(self):
        if self.client is not None:
            await self.client.disconnect()
        self._release_waiters()
        self.outbox.sync()
        return {"success": True, "connected": False}

    async def update_config(self, partial):
        """Merge `partial` into config (one level deep for dicts), validate, reconnect."""
        part = partial.get("config", partial) if isinstance(partial, dict) else None
        if not isinstance(part, dict):
            raise ConnectorError(CONFIG_ERROR, "update_config takes an object of config keys",
                                 {"path": "config", "expected": "an object"})
        doc = dict(self.doc)
        cfg = dict(self.cfg)
        for k, v in part.items():
            cfg[k] = dict(cfg.get(k) or {}, **v) if isinstance(v, dict) and isinstance(cfg.get(k), dict) else v
        doc["config"] = cfg
        new = _validate(doc)  # raises CONFIG_ERROR, nothing changed
        was = self.client is not None
        if was:
            await self.client.disconnect()
            self.client = None
            # the old session's in-flight messages go again from the outbox (QoS 2 ones
            # that had their PUBREC may then arrive twice: see the README's guarantees)
            self._release_waiters()
            self._by_pid = {}
            self._sent_oids = set()
        self.doc, self.cfg = new, new["config"]
        if was:
            await self.connect()
        return {"success": True}

    def _on_client_event(self, kind, info):
        if kind == C.MESSAGE:
            return self._on_message(info)
        if kind == C.PUBLISHED:
            return self._on_published(info["pid"], info["reasonCode"])
        cid = self.client.session.client_id if self.client else self.cfg.get("clientId")
        if kind == C.CONNECTED:
            self.emit("connected", {"clientId": cid, "broker": info["broker"], "sessionPresent": info["sessionPresent"],
                                    "timestamp": _now_iso()})
            if self.remote is not None:
                self.remote.on_connected()
            self._refused = set()
            self._start_drain(True)
        elif kind == C.DISCONNECTED:
            self._release_waiters()
            self.emit("disconnected", {"clientId": cid, "reason": info["reason"], "timestamp": _now_iso()})
        elif kind == C.ERROR:
            self.emit("error", {"error": info.error, "message": info.message, "details": info.details,
                                "timestamp": _now_iso()})
        elif kind == C.WARNING:
            self._debug(info["message"])
            self.emit("error", {"error": "TLS_WARNING", "message": info["message"], "timestamp": _now_iso()})

    def _on_message(self, pkt):
        if self.remote is not None and self.remote.handles(pkt):
            return
        props = pkt.props or {}
        if self.history.wants(pkt.topic):
            self.history.record("received", pkt.topic, pkt.payload, pkt.qos, pkt.retain, props or None)
        self.emit("message-received", {
            "topic": pkt.topic, "payload": payloads.decode(pkt.payload, props.get(codec.CONTENT_TYPE)),
            "rawPayload": bytes(pkt.payload), "qos": pkt.qos, "retain": pkt.retain, "dup": pkt.dup,
            "messageId": pkt.pid, "properties": payloads.props_from_wire(props), "timestamp": _now_iso()})

    # ---- the outbox path ----------------------------------------------------------
    # One mechanism for every message that goes through the outbox: write() puts it
    # (durable), and the drain task hands pending messages to the client in outbox order
    # -- fresh ones from RAM, older ones (queued offline, or from before a reboot) read
    # back from the log. So a backlog is never overtaken by new writes.
    async def send(self, topic, data, qos, retain, props, user_payload, wait, size=None):
        """Put through the outbox (QoS >= 1, or QoS 0 queued offline) and send if connected."""
        if self.connected:
            self._check_broker_limits(topic, data, qos, retain, props, size)
        oid = self.outbox.put(topic, data, qos, retain, props or None)
        if self.debug:
            self._debug("outbox put", outboxId=oid, topic=topic)
        queued = {"success": True, "queued": True, "outboxId": oid, "messageId": None, "topic": topic, "qos": qos}
        if not self.connected:
            return queued
        p = _Pending(oid, topic, user_payload, qos, retain)
        if wait:
            p.done = asyncio.Event()
        self._waiting[oid] = (p, data, props)
        self._start_drain()
        if not wait:
            return queued
        await p.done.wait()
        if isinstance(p.result, ConnectorError):
            raise p.result
        if p.result == "queued":
            return queued
        return {"success": True, "queued": False, "outboxId": oid, "messageId": p.result, "topic": topic, "qos": qos}

    def _check_broker_limits(self, topic, data, qos, retain, props, size):
        # What this broker announced it cannot take is refused before it enters the
        # outbox: otherwise it would sit there, re-sent and refused after every reconnect.
        s = self.client.session
        if qos > s.broker_max_qos:
            raise ConnectorError("QOS_ERROR", "broker supports qos up to %d" % s.broker_max_qos,
                                 {"qos": qos, "supportedQos": list(range(s.broker_max_qos + 1))})
        if retain and not s.retain_available:
            raise ConnectorError(PROTOCOL_ERROR, "broker does not support retained messages", {"topic": topic})
        limit = s.broker_max_packet_size
        if limit:
            if size is None:  # callers that did not encode it already (ops._prepare does)
                size = len(codec.encode_publish(s.version, topic, data, qos, retain, False, 1 if qos else None,
                                                props or None))
            if size > limit:
                raise ConnectorError("PAYLOAD_TOO_LARGE", "packet of %d bytes exceeds the broker's maximum of %d"
                                     % (size, limit), {"topic": topic, "size": size, "limit": limit})

    async def _hand_over(self, p, data, props):
        """Give one outbox message to the client. Returns False when it stays pending
        for a later connection."""
        client = self.client
        await client.window_ready(p.qos)
        if self.client is not client or not client.connected:
            return False  # the link (or the whole client) changed while we waited
        try:
            # synchronous: the packet id is mapped to its message before any yield, so
            # its acknowledgement can never arrive unannounced
            pid = client.publish_nowait(p.topic, data, p.qos, p.retain, props or None)
        except ConnectorError as e:
            # This broker cannot take it (limits it announced): keep it for another
            # connection or broker, skip it on this one, and say so.
            self._refused.add(p.oid)
            self.emit("publish-error", {"topic": p.topic, "error": e.error, "message": e.message,
                                        "details": e.details, "outboxId": p.oid, "timestamp": _now_iso()})
            self._finish(p, e)
            return True
        if pid is None:  # QoS 0 from the outbox: written, nothing more will come
            self.outbox.ack(p.oid)
            self._published(p, None)
            return True
        p.pid = pid
        self._sent_oids.add(p.oid)
        self._by_pid[pid] = p
        return True

    def _on_published(self, pid, rc):
        p = self._by_pid.pop(pid, None)
        if p is None:
            return  # not an outbox message (nothing else publishes QoS 1/2 here)
        self.outbox.ack(p.oid)
        if p.qos == 2:
            self.outbox.sync()  # exactly-once across a power cut needs this ack durable
        self._sent_oids.discard(p.oid)
        if rc >= 0x80:
            from lgmqtt.reasons import reason_name

            err = ConnectorError(PROTOCOL_ERROR, "broker refused the message: %s" % reason_name(rc),
                                 {"topic": p.topic, "reasonCode": rc})
            self.emit("publish-error", {"topic": p.topic, "error": err.error, "message": err.message,
                                        "details": err.details, "timestamp": _now_iso()})
            self._finish(p, err)
            return
        self._published(p, pid)

    def _published(self, p, pid):
        self.emit("message-published", {"topic": p.topic, "payload": p.payload, "qos": p.qos, "retain": p.retain,
                                        "messageId": pid, "timestamp": _now_iso()})
        self._finish(p, pid)

    def _finish(self, p, result):
        p.result = result
        if p.done is not None:
            p.done.set()

    def _release_waiters(self, queued=True):
        # The link went down under write() callers: their messages stay in the outbox
        # (and in the session); tell the callers "queued" rather than keep them waiting.
        for p in list(self._by_pid.values()) + [w[0] for w in self._waiting.values()]:
            if p.done is not None and not p.done.is_set():
                p.result = "queued"
                p.done.set()
        self._waiting = {}

    def _start_drain(self, from_start=False):
        self._drain_from_start = self._drain_from_start or from_start
        if self._drainer is None:
            self._drain_again = False
            self._drainer = asyncio.create_task(self._drain())
        else:
            self._drain_again = True

    async def _drain(self):
        try:
            after = 0
            while self.connected:
                if self._drain_from_start:  # a new connection: everything pending is due again
                    self._drain_from_start = False
                    after = 0
                pending = self.outbox.pending_ids()
                self._finish_dropped(pending)
                ids = [i for i in pending if i > after and i not in self._sent_oids and i not in self._refused]
                if not ids:
                    if self._drain_again:
                        self._drain_again = False
                        continue
                    break
                for oid in ids:
                    if not self.connected or self._drain_from_start:
                        break
                    after = oid
                    w = self._waiting.get(oid)
                    if w is None:
                        rows = self.outbox.pending(oid - 1, 1)
                        if not rows or rows[0][0] != oid:
                            continue
                        _, topic, payload, qos, retain, props = rows[0]
                        if self.debug:
                            self._debug("outbox resend", outboxId=oid, topic=topic)
                        w = (_Pending(oid, topic, payloads.decode(payload), qos, retain), payload, props)
                    # stays in _waiting (reachable by _release_waiters) until handed over
                    if await self._hand_over(*w):
                        self._waiting.pop(oid, None)
        except Exception as e:  # MemoryError included: report it, the next connection retries
            self.emit("error", {"error": getattr(e, "error", INTERNAL_ERROR), "message": "outbox drain failed: %r" % e,
                                "timestamp": _now_iso()})
            self._release_waiters()
        finally:
            self._drainer = None

    def _finish_dropped(self, pending):
        # A write whose message the outbox policy dropped before it was sent must not wait.
        if not self._waiting:
            return
        live = set(pending)
        for oid in [o for o in self._waiting if o not in live]:
            p = self._waiting.pop(oid)[0]
            self._finish(p, ConnectorError(OUTBOX_FULL, "dropped by the outbox policy before it was sent",
                                           {"outboxId": oid, "topic": p.topic}))

    def require_connected(self, what):
        if not self.connected:
            raise ConnectorError(NOT_CONNECTED, "cannot %s: not connected" % what,
                                 {"state": self.client.session.state_name() if self.client else "disconnected"})

    def status(self):
        c = self.client
        st = c.status() if c else {"connected": False, "state": "disconnected", "broker": None,
                                   "clientId": self.cfg.get("clientId"), "protocolVersion": self.cfg["protocolVersion"],
                                   "reconnects": 0, "inflight": 0, "lastError": None}
        st["outbox"] = self.outbox.stats()
        st["subscriptions"] = [{"topic": t, "qos": q} for t, q in self.subscriptions.items()]
        st["capabilities"] = list(self.capabilities)
        st["timestamp"] = _now_iso()
        return st

    async def close(self):
        await self.disconnect()
        self.history.close()
