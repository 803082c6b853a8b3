# Remote invocation: the platform calls a capability on the device over MQTT.
#
# The device subscribes to its request topic (default "lg/{clientId}/rpc"). A request
# is JSON: {"capability": "mqtt:history", "operation": "read", "params": {...}}. On
# MQTT 5 the reply goes to the request's Response Topic with its Correlation Data; on
# 3.1.1 the request carries {"replyTo": topic, "id": ...} and the reply echoes "id".
# The reply is JSON: {"id", "result"} or {"id", "error": {error, message, details}}.
# Only capability.operation pairs listed in `allow` may be called (default: history
# read and connection status: read-only, nothing that spends the device's flash).
# Anyone allowed to publish on the request topic can call them: use broker ACLs, and
# `replyPrefix` to bound where the device may answer. One request is served at a time
# (others are refused "busy"), and a remote history read returns at most
# MAX_REMOTE_LIMIT messages.
#
# Two hooks for the firmware (both unset: the behaviour above, unchanged):
#   remote.commands["lg:led.set"] = async fn(params) -> result
#       calls the application serves itself (still only if listed in `allow`);
#   remote.guard = an object with
#       unwrap(request) -> request   where to read replyTo/id from (a signed request
#                                    carries its request inside; nothing is trusted yet)
#       open(payload) -> (request, authenticated)   verifies; raises ConnectorError
#       check(call, authenticated)   raises ConnectorError to refuse "capability.operation"
#   (lgnode.commands provides both: HMAC-signed state-changing calls.)
import asyncio
import json

from lgmqtt.mqtt import topic as T
from lgmqtt.compat import const, ticks_diff, ticks_ms
from lgmqtt.errors import ConnectorError, CAPABILITY_DISABLED, INTERNAL_ERROR, INVALID_PARAMS, internal

_RESPONSE_TOPIC = const(0x08)
_CORRELATION_DATA = const(0x09)

DEFAULT_ALLOW = ("mqtt:history.read", "mqtt:connection.status")
MAX_REMOTE_LIMIT = 100
BUSY_GAP_MS = const(100)


def _jsonable(x):
    if isinstance(x, (bytes, bytearray, memoryview)):
        try:
            return bytes(x).decode()
        except UnicodeError:
            return list(bytes(x))
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


class Remote:
    # Under a flood of requests: one is served at a time (one task); while it runs,
    # further requests are refused "busy" from the reader itself, with no task and at
    # most one reply per BUSY_GAP_MS (the rest are dropped), so no flood can make the
    # node allocate without bound. Every outcome is counted (status()["remote"]).
    def __init__(self, conn, cfg):
        cid = conn.cfg.get("clientId", "")
        self.conn = conn
        self.topic = T.validate_name(cfg.get("topic", "lg/{clientId}/rpc").replace("{clientId}", cid))
        self.allow = tuple(cfg.get("allow", DEFAULT_ALLOW))
        self.reply_prefix = cfg.get("replyPrefix")
        self.served = 0      # requests answered (result or error)
        self.refused = 0     # refused busy (answered or dropped)
        self.failed = 0      # replies that could not be sent
        self.busy = False
        self._last_busy = None
        self.last_failure = None
        self.commands = {}   # "capability.operation" -> async fn(params): served by the application
        self.guard = None    # authentication hook (see the header)

    def stats(self):
        return {"served": self.served, "refused": self.refused, "failed": self.failed, "busy": self.busy,
                "lastFailure": self.last_failure}

    def _failed(self, e):
        self.failed += 1
        try:
            self.last_failure = "%s: %s" % (type(e).__name__, getattr(e, "message", e))
        except MemoryError:
            self.last_failure = "MemoryError"

    def handle(self, pkt):
        """A request arrived on the request topic (the connector subscribes it)."""
        if not self.busy:
            self.busy = True
            try:
                asyncio.create_task(self._serve(pkt))
            except Exception as e:  # noqa: B902 - no RAM for the task: this request is dropped, counted
                self.busy = False
                self._failed(e)
            return
        self.refused += 1
        now = ticks_ms()
        if self._last_busy is None or ticks_diff(now, self._last_busy) >= BUSY_GAP_MS:
            self._last_busy = now
            try:
                self._busy_reply(pkt)
            except Exception as e:  # noqa: B902 - bad request, no link, no RAM: the caller retries
                self._failed(e)

    def _busy_reply(self, pkt):
        req, reply_to, corr, rid = self._parse(pkt)
        body = {"id": rid, "error": {"error": INVALID_PARAMS, "message": "busy: one request at a time",
                                     "details": {"retry": True}}}
        if self._may_answer(reply_to, rid, body) and self.conn.connected:
            # synchronous (QoS 0 into the session's outbound buffer): no task per refusal
            from lgmqtt.mqtt.encode import encode_publish

            self.conn.client.publish_packet_nowait(encode_publish(self.conn.cfg["protocolVersion"], reply_to,
                                                                  json.dumps(body).encode(), 0, False, False, None,
                                                                  self._rprops(corr)))

    def _parse(self, pkt):
        props = pkt.props or {}
        reply_to = props.get(_RESPONSE_TOPIC)
        corr = props.get(_CORRELATION_DATA)
        try:
            req = json.loads(pkt.payload)
        except (ValueError, RuntimeError):  # RuntimeError: nested too deep
            return None, reply_to, corr, None
        if not isinstance(req, dict):
            return None, reply_to, corr, None
        if self.guard is not None:
            req = self.guard.unwrap(req)
        return req, reply_to or req.get("replyTo"), corr, req.get("id")

    def _may_answer(self, reply_to, rid, body):
        if not reply_to or not isinstance(reply_to, str) or reply_to == self.topic or (
                self.reply_prefix and not reply_to.startswith(self.reply_prefix)):
            return False  # never publish where a request could make the device talk to itself or elsewhere
        try:
            T.validate_name(reply_to)
        except ConnectorError:
            return False
        if not isinstance(rid, (str, int, type(None))):
            body["id"] = None
        return True

    def _rprops(self, corr):
        return {_CORRELATION_DATA: corr} if corr is not None and self.conn.cfg["protocolVersion"] == 5 else None

    async def _serve(self, pkt):
        try:
            await self._answer(pkt)
        except Exception as e:  # noqa: B902 - whatever happens, the next request is served
            self._failed(e)
        finally:
            self.busy = False

    async def _answer(self, pkt):
        req, reply_to, corr, rid = self._parse(pkt)
        try:
            if req is None:
                raise ConnectorError(INVALID_PARAMS, "request must be a JSON object", {})
            authenticated = False
            if self.guard is not None:
                req, authenticated = self.guard.open(pkt.payload)
            cap, op = req.get("capability"), req.get("operation")
            call = "%s.%s" % (cap, op)
            if call not in self.allow:
                raise ConnectorError(CAPABILITY_DISABLED, "%s.%s is not remotely callable" % (cap, op),
                                     {"capability": cap, "operation": op, "allowed": list(self.allow)})
            if self.guard is not None:
                self.guard.check(call, authenticated)
            params = req.get("params") or {}
            if isinstance(params, dict) and cap == "mqtt:history":
                # bound what one remote call may pull into RAM
                params = dict(params, limit=min(params.get("limit", 20) if isinstance(params.get("limit", 20), int)
                                                else 20, MAX_REMOTE_LIMIT))
            fn = self.commands.get(call)
            if fn is not None:
                if not isinstance(params, dict):
                    raise ConnectorError(INVALID_PARAMS, "params must be an object", {"call": call})
                result = await fn(params)
            else:
                result = await self.conn.execute(cap, op, params)
            body = {"id": rid, "result": _jsonable(result)}
        except ConnectorError as e:
            body = {"id": rid, "error": e.to_dict()}
        except Exception as e:  # noqa: B902 - MemoryError and the like: answer, do not die silently
            body = {"id": rid, "error": internal("remote call", e).to_dict()}
        self.served += 1
        if not self.conn.connected or not self._may_answer(reply_to, rid, body):
            return  # nobody to answer, or no link to answer on
        try:
            # QoS 0: a lost reply only makes the caller retry, and a QoS 0 publish has no
            # packet id to confuse with the outbox's acknowledgements
            await self.conn.client.publish(reply_to, json.dumps(body).encode(), 0, False, self._rprops(corr))
        except Exception as e:  # noqa: B902 - counted and reported; never a dead task
            self._failed(e)
            self.conn.emit("error", {"error": getattr(e, "error", INTERNAL_ERROR),
                                     "message": "remote reply failed: %s" % getattr(e, "message", repr(e)),
                                     "details": getattr(e, "details", {})})
