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
# `replyPrefix` to bound where the device may answer. One request is served at a time,
# and a remote history read returns at most MAX_REMOTE_LIMIT messages.
import asyncio
import json

from lgmqtt import codec
from lgmqtt import topic as T
from lgmqtt.errors import ConnectorError, CAPABILITY_DISABLED, INTERNAL_ERROR, INVALID_PARAMS

DEFAULT_ALLOW = ("mqtt:history.read", "mqtt:connection.status")
MAX_REMOTE_LIMIT = 100


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
    def __init__(self, conn, cfg):
        self.conn = conn
        cid = conn.cfg.get("clientId", "")
        self.topic = T.validate_name(cfg.get("topic", "lg/{clientId}/rpc").replace("{clientId}", cid))
        self.allow = tuple(cfg.get("allow", DEFAULT_ALLOW))
        self.reply_prefix = cfg.get("replyPrefix")
        self.served = 0
        self.busy = False

    def on_connected(self):
        asyncio.create_task(self._subscribe())

    async def _subscribe(self):
        if self.conn.client is None:
            return
        try:
            await self.conn.client.subscribe([(self.topic, 1)])
        except ConnectorError as e:
            self.conn.emit("subscription-error", {"topic": self.topic, "error": e.error, "message": e.message})

    def handles(self, pkt):
        if pkt.topic != self.topic:
            return False
        if self.busy:  # one request at a time: a board has no RAM for a queue of them
            asyncio.create_task(self._serve(pkt, ConnectorError(INVALID_PARAMS, "busy: one request at a time",
                                                                {"retry": True})))
        else:
            self.busy = True
            asyncio.create_task(self._serve(pkt))
        return True

    async def _serve(self, pkt, refuse=None):
        try:
            await self._answer(pkt, refuse)
        finally:
            if refuse is None:
                self.busy = False

    async def _answer(self, pkt, refuse):
        props = pkt.props or {}
        reply_to = props.get(codec.RESPONSE_TOPIC)
        corr = props.get(codec.CORRELATION_DATA)
        rid = None
        try:
            try:
                req = json.loads(pkt.payload)
            except ValueError:
                raise ConnectorError(INVALID_PARAMS, "request is not JSON", {})
            if not isinstance(req, dict):
                raise ConnectorError(INVALID_PARAMS, "request must be a JSON object", {})
            rid = req.get("id")
            reply_to = reply_to or req.get("replyTo")
            cap, op = req.get("capability"), req.get("operation")
            if "%s.%s" % (cap, op) not in self.allow:
                raise ConnectorError(CAPABILITY_DISABLED, "%s.%s is not remotely callable" % (cap, op),
                                     {"capability": cap, "operation": op, "allowed": list(self.allow)})
            if refuse is not None:
                raise refuse
            params = req.get("params") or {}
            if isinstance(params, dict) and cap == "mqtt:history":
                # bound what one remote call may pull into RAM
                params = dict(params, limit=min(params.get("limit", 20) if isinstance(params.get("limit", 20), int)
                                                else 20, MAX_REMOTE_LIMIT))
            body = {"id": rid, "result": _jsonable(await self.conn.execute(cap, op, params))}
        except ConnectorError as e:
            body = {"id": rid, "error": e.to_dict()}
        except Exception as e:  # MemoryError and the like: answer, do not die silently
            body = {"id": rid, "error": {"error": INTERNAL_ERROR, "message": repr(e), "details": {}}}
        self.served += 1
        if not reply_to or not self.conn.connected:
            return  # nobody to answer, or no link to answer on
        if not isinstance(reply_to, str) or reply_to == self.topic or (
                self.reply_prefix and not reply_to.startswith(self.reply_prefix)):
            return  # never publish where a request could make the device talk to itself or elsewhere
        if not isinstance(rid, (str, int, type(None))):
            body["id"] = None
        try:
            T.validate_name(reply_to)
            rprops = {codec.CORRELATION_DATA: corr} if corr is not None and self.conn.cfg["protocolVersion"] == 5 else None
            # QoS 0: a lost reply only makes the caller retry, and a QoS 0 publish has no
            # packet id to confuse with the outbox's acknowledgements
            await self.conn.client.publish(reply_to, json.dumps(body).encode(), 0, False, rprops)
        except ConnectorError as e:
            self.conn.emit("error", {"error": e.error, "message": "remote reply failed: " + e.message,
                                     "details": e.details})
