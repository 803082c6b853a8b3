# Remote invocation: the platform calls a capability on the device over MQTT.
#
# The device subscribes to its request topic (default "lg/{clientId}/rpc"). A request
# is JSON: {"capability": "mqtt:history", "operation": "read", "params": {...}}. On
# MQTT 5 the reply goes to the request's Response Topic with its Correlation Data; on
# 3.1.1 the request carries {"replyTo": topic, "id": ...} and the reply echoes "id".
# The reply is JSON: {"id", "result"} or {"id", "error": {error, message, details}}.
# Only capability.operation pairs listed in `allow` may be called (default: history
# read and connection status: read-only, nothing that spends the device's flash).
import asyncio
import json

from lgmqtt import codec
from lgmqtt import topic as T
from lgmqtt.errors import ConnectorError, CAPABILITY_DISABLED, INVALID_PARAMS

DEFAULT_ALLOW = ("mqtt:history.read", "mqtt:connection.status")


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
        self.served = 0

    def on_connected(self):
        asyncio.create_task(self._subscribe())

    async def _subscribe(self):
        try:
            await self.conn.client.subscribe([(self.topic, 1)])
        except ConnectorError as e:
            self.conn.emit("subscription-error", {"topic": self.topic, "error": e.error, "message": e.message})

    def handles(self, pkt):
        if pkt.topic != self.topic:
            return False
        asyncio.create_task(self._serve(pkt))
        return True

    async def _serve(self, pkt):
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
            body = {"id": rid, "result": _jsonable(await self.conn.execute(cap, op, req.get("params")))}
        except ConnectorError as e:
            body = {"id": rid, "error": e.to_dict()}
        self.served += 1
        if not reply_to:
            return  # nobody to answer
        try:
            T.validate_name(reply_to)
            rprops = {codec.CORRELATION_DATA: corr} if corr is not None and self.conn.cfg["protocolVersion"] == 5 else None
            await self.conn.client.publish(reply_to, json.dumps(body).encode(), 1, False, rprops)
        except ConnectorError as e:
            self.conn.emit("error", {"error": e.error, "message": "remote reply failed: " + e.message,
                                     "details": e.details})
