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
# in order. Capability handlers live in lgmqtt.connector.ops; remote invocation in lgmqtt.connector.remote.
import asyncio

from lgmqtt.net import client as C
from lgmqtt.compat import const, time_s, unload
from lgmqtt.connector import payloads
from lgmqtt.connector.delivery import Delivery
from lgmqtt.store.records import Message
from lgmqtt.errors import (ConnectorError, CALLBACK_ERROR, CAPABILITY_DISABLED, CONFIG_ERROR, INVALID_PARAMS,
                           NOT_CONNECTED, internal)
from lgmqtt.isotime import format_iso

_CONTENT_TYPE = const(0x03)

_MAX_CALLBACK_TASKS = 16  # coroutine callbacks running at once; beyond that an event is dropped

CAPABILITIES = ("mqtt:publish", "mqtt:subscribe", "mqtt:connection", "mqtt:history", "mqtt:topics")
EVENTS = ("connected", "disconnected", "error", "message-received", "message-published", "publish-error",
          "subscription-error", "debug")


def _validate(doc):
    # The validator is ~20 KB of bytecode used once: load it, use it, let it go.
    from lgmqtt.connector import config

    try:
        return config.validate(doc)
    finally:
        unload("lgmqtt.connector.config")


def _now_iso():
    return format_iso(time_s())


class Connector:
    def __init__(self, config, store=None, opener=None, history_storage=None):
        """store: a lgmqtt.store.Store to use as is; history_storage: a function
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
        self.store = store
        self.history, self.outbox = store.history, store.outbox
        self._opener = opener
        self.client = None
        self.closed = False
        self.delivery = Delivery(self)
        self._callbacks = 0        # coroutine callbacks running
        self.dropped_events = 0    # events not delivered to a coroutine callback (too many running)
        self.subscriptions = {}    # filter -> qos (the client resubscribes after a reconnect)
        self.topics = None  # the topic registry: made when topics are declared or managed
        if self.cfg.get("topics") or "mqtt:topics" in self.capabilities:
            from lgmqtt.connector.topics import Registry

            self.topics = Registry(self.cfg.get("topics", []))
        # Remote invocation: the request topic (None: off) is subscribed on every
        # connection; the code that serves requests (lgmqtt.connector.remote) loads with
        # the first one, or when the application asks for it (serve_remote()).
        self.remote = None
        self.remote_topic = None
        rcfg = self.cfg.get("remote", {})
        if rcfg.get("enabled", True):
            self.remote_topic = rcfg.get("topic", "lg/{clientId}/rpc").replace("{clientId}",
                                                                                self.cfg.get("clientId", ""))

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

    def now(self):
        return _now_iso()

    def emit(self, event, data):
        for cb in list(self._handlers.get(event, ())):
            try:
                r = cb(data)
                if r is not None and hasattr(r, "send"):  # a coroutine: run it, catch what it raises
                    if self._callbacks >= _MAX_CALLBACK_TASKS:
                        # a flood of events must not become a flood of tasks (RAM)
                        r.close()
                        self.dropped_events += 1
                        raise ConnectorError(CALLBACK_ERROR, "%d %s callbacks still running: event dropped"
                                             % (self._callbacks, event), {"event": event})
                    self._callbacks += 1
                    asyncio.create_task(self._guard(event, r))
            except Exception as e:
                self._callback_failed(event, e)

    async def _guard(self, event, coro):
        try:
            await coro
        except Exception as e:
            self._callback_failed(event, e)
        finally:
            self._callbacks -= 1

    def _callback_failed(self, event, e):
        if event == "error":
            return  # an error handler that fails must not loop
        self.emit("error", {"error": CALLBACK_ERROR, "message": "%s callback failed: %r" % (event, e),
                            "details": {"event": event}, "timestamp": _now_iso()})

    # ---- dispatch -----------------------------------------------------------------
    async def execute(self, capability, operation, params=None):
        from lgmqtt.connector import ops

        if self.closed:
            raise ConnectorError(NOT_CONNECTED, "the connector is closed", {"state": "closed"})
        if not isinstance(capability, str) or capability not in CAPABILITIES:
            raise ConnectorError(CAPABILITY_DISABLED, "unknown capability %r" % capability,
                                 {"capability": capability, "enabled": self.capabilities})
        if capability not in self.capabilities:
            raise ConnectorError(CAPABILITY_DISABLED, "capability %s is disabled" % capability,
                                 {"capability": capability, "enabled": self.capabilities})
        handler = ops.handler(capability, operation) if isinstance(operation, str) else None
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
        except ConnectorError:
            raise
        except (ValueError, TypeError) as e:
            # Input of a shape no check foresaw: still a clear error with a code.
            # (UnicodeError is a ValueError.)
            raise ConnectorError(INVALID_PARAMS, "%s %s: bad parameters: %s" % (capability, operation, e),
                                 {"capability": capability, "operation": operation})
        except Exception as e:  # MemoryError on a board, or a bug: a code, never a crash of the caller
            raise internal("%s %s" % (capability, operation), e)

    # ---- connection ---------------------------------------------------------------
    @property
    def connected(self):
        return self.client is not None and self.client.connected

    async def connect(self):
        if self.client is None:
            from lgmqtt.connector.clientcfg import client_config

            self.client = C.Client(client_config(self.cfg), self._on_client_event, self._opener)
            self.delivery.attach(self.client)
        await self.client.connect()
        return {"success": True, "connected": True, "clientId": self.client.session.client_id,
                "broker": self.client.brokers.current_name()}

    async def disconnect(self):
        if self.client is not None:
            await self.client.disconnect()
        self.delivery.release()
        self.store.sync()
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
            # the old session's in-flight messages go again from the outbox; QoS 2 ones
            # resume from their journal state with clean: false (Delivery.attach)
            self.delivery.release()
        self.doc, self.cfg = new, new["config"]
        self.delivery.persist = not self.cfg.get("clean", True)
        if was:
            await self.connect()
        return {"success": True}

    def _on_client_event(self, kind, info):
        if kind == C.MESSAGE:
            return self._on_message(info)
        d = self.delivery
        if kind == C.PUBLISHED:
            return d.on_published(info["pid"], info["reasonCode"])
        if kind == C.PUBREC:
            return d.on_pubrec(info["pid"])
        if kind == C.GAVE_UP:
            return d.on_gave_up(info["pid"], info["strikes"])
        if kind == C.ACK_TIMEOUT:
            return d.on_ack_timeout(info["pid"])
        cid = self.client.session.client_id if self.client else self.cfg.get("clientId")
        if kind == C.CONNECTED:
            self.emit("connected", {"clientId": cid, "broker": info["broker"], "sessionPresent": info["sessionPresent"],
                                    "timestamp": _now_iso()})
            if self.remote_topic is not None:
                asyncio.create_task(self._subscribe_rpc())
            d.on_connected()
        elif kind == C.DISCONNECTED:
            d.release()
            self.emit("disconnected", {"clientId": cid, "reason": info["reason"], "timestamp": _now_iso()})
        elif kind == C.ERROR:
            self.emit("error", {"error": info.error, "message": info.message, "details": info.details,
                                "timestamp": _now_iso()})
        elif kind == C.WARNING:
            self._debug(info["message"])
            self.emit("error", {"error": "TLS_WARNING", "message": info["message"], "timestamp": _now_iso()})

    def _on_message(self, pkt):
        if pkt.topic == self.remote_topic:
            self.serve_remote().handle(pkt)
            return
        props = pkt.props or {}
        if self.history.wants(pkt.topic):
            b = pkt.body
            if b is not None and b[0] | b[1]:  # stored as it arrived
                self.history.record_message("received", Message(self.client.session.version, 0x30 | (pkt.qos << 1) |
                                                                pkt.retain, b))
            else:  # its topic came from a 5.0 topic alias: encoded with the topic
                self.history.record("received", pkt.topic, pkt.payload, pkt.qos, pkt.retain, props or None)
        value, err = payloads.decode_checked(pkt.payload, props.get(_CONTENT_TYPE))
        m = {"topic": pkt.topic, "payload": value, "rawPayload": bytes(pkt.payload), "qos": pkt.qos,
             "retain": pkt.retain, "dup": pkt.dup, "messageId": pkt.pid,
             "properties": payloads.props_from_wire(props), "timestamp": _now_iso()}
        if err is not None:
            m["payloadError"] = err
        self.emit("message-received", m)

    def serve_remote(self):
        """-> the remote invocation server (lgmqtt.connector.remote.Remote: its `commands`
        and `guard` hooks), loaded now; None when remote invocation is off."""
        if self.remote is None and self.remote_topic is not None:
            from lgmqtt.connector.remote import Remote

            self.remote = Remote(self, self.cfg.get("remote", {}))
        return self.remote

    async def _subscribe_rpc(self):
        client = self.client
        if client is None:
            return
        if client.session.session_present and not self.cfg.get("clean", True):
            # the broker kept the session (clean: false), and with it the subscription
            # made on an earlier connection: a node that wakes from deep sleep saves the
            # round trip, and requests sent while it slept are delivered to it
            return
        try:
            await client.subscribe([(self.remote_topic, 1)])
        except ConnectorError as e:
            self.emit("subscription-error", {"topic": self.remote_topic, "error": e.error, "message": e.message})
        except Exception as e:  # noqa: B902 - MemoryError: the next connection subscribes again
            err = internal("remote subscribe", e)
            self.emit("error", {"error": err.error, "message": err.message, "timestamp": _now_iso()})

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
        if self.remote_topic is not None:
            st["remote"] = self.remote.stats() if self.remote else {"served": 0, "refused": 0, "failed": 0,
                                                                    "busy": False, "lastFailure": None}
        st["timestamp"] = _now_iso()
        return st

    async def close(self):
        if self.closed:
            return
        await self.disconnect()
        self.delivery.stop()
        self.closed = True
        self.store.close()
