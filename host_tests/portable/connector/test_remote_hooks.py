# The remote-invocation hooks the firmware uses (lgmqtt.connector.remote: `commands` and
# `guard`), against a real Mosquitto: a device Connector answers requests that a second
# Connector publishes, on 3.1.1 and 5.0.
import asyncio
import json

from check import env, eq
from lgmqtt import Connector, ConnectorError

FIXTURES = ("mosquitto",)
TIMEOUT = 120

_n = [0]


def _doc(version, allow, **cfg):
    _n[0] += 1
    c = {"host": env("LG_BROKER_HOST"), "port": int(env("LG_BROKER_PORT")), "clientId": "lgr-%d" % _n[0],
         "protocolVersion": version, "reconnectPeriod": 100, "connectTimeout": 5000}
    c.update(cfg)
    if allow is not None:
        c["remote"] = {"allow": allow}
    return {"id": "t", "type": "mqtt", "name": "t", "config": c}


class Caller:
    """The platform's side: publishes requests on the device's topic, collects replies."""

    def __init__(self, version):
        self.conn = Connector(_doc(version, None, remote={"enabled": False}))
        self.replies = {}
        self.ev = asyncio.Event()
        self.conn.on("message-received", self._got)
        self.n = 0

    def _got(self, m):
        body = m["payload"]
        self.replies[body["id"]] = body
        self.ev.set()

    async def start(self):
        await self.conn.execute("mqtt:connection", "connect")
        await self.conn.execute("mqtt:subscribe", "subscribe", {"topic": "reply/%s" % self.conn.cfg["clientId"],
                                                                 "qos": 1})

    async def call(self, device, payload):
        """payload: a dict (a plain request) or text (sent as is, e.g. a signed one)."""
        self.n += 1
        rid = "r%d" % self.n
        if isinstance(payload, dict):
            payload = dict(payload, id=rid, replyTo="reply/%s" % self.conn.cfg["clientId"])
            payload = json.dumps(payload)
        else:
            payload = payload.replace("@ID@", rid).replace("@REPLY@", "reply/%s" % self.conn.cfg["clientId"])
        await self.conn.execute("mqtt:publish", "write", {"topic": "lg/%s/rpc" % device, "payload": payload,
                                                          "qos": 1})

        async def wait():
            while rid not in self.replies:
                self.ev.clear()
                await self.ev.wait()
        await asyncio.wait_for(wait(), 10)
        return self.replies[rid]


class Guard:
    # A stand-in for lgnode.commands' guard: a request is "signed" when it is
    # {"signed": <request>}; calls in `free` need no signature.
    def __init__(self, free):
        self.free = free
        self.checked = []

    def unwrap(self, req):
        return req.get("signed", req) if isinstance(req.get("signed"), dict) else req

    def open(self, payload):
        req = json.loads(payload)
        if "signed" in req:
            if req.get("bad"):
                raise ConnectorError("AUTH_FAILED", "request signature does not match", {})
            return req["signed"], True
        return req, False

    def check(self, call, authenticated):
        self.checked.append((call, authenticated))
        if not authenticated and call not in self.free:
            raise ConnectorError("AUTH_REQUIRED", "%s needs a signed request" % call, {"call": call})


async def _pair(version, allow):
    dev = Connector(_doc(version, allow))
    caller = Caller(version)
    await dev.execute("mqtt:connection", "connect")
    await caller.start()
    await asyncio.sleep(0.2)  # the device's request subscription (a task after connect)
    return dev, caller


async def _close(*conns):
    for c in conns:
        await c.close()


async def _commands(version):
    seen = []

    async def led(params):
        seen.append(params)
        return {"on": params.get("on")}

    dev, caller = await _pair(version, ["lg:led.set", "mqtt:connection.status"])
    dev.serve_remote().commands["lg:led.set"] = led
    dev.serve_remote().commands["lg:other.set"] = led  # registered but not allowed: refused
    try:
        r = await caller.call(dev.cfg["clientId"], {"capability": "lg:led", "operation": "set",
                                                    "params": {"on": True}})
        eq(r["result"], {"on": True})
        eq(seen, [{"on": True}])
        r = await caller.call(dev.cfg["clientId"], {"capability": "lg:other", "operation": "set", "params": {}})
        eq(r["error"]["error"], "CAPABILITY_DISABLED")
        eq(len(seen), 1)
        r = await caller.call(dev.cfg["clientId"], {"capability": "lg:led", "operation": "set", "params": [1]})
        eq(r["error"]["error"], "INVALID_PARAMS")
        r = await caller.call(dev.cfg["clientId"], {"capability": "mqtt:connection", "operation": "status"})
        eq(r["result"]["connected"], True)  # capabilities still go to the connector
        eq(dev.status()["remote"]["served"], 4)
    finally:
        await _close(dev, caller.conn)


async def test_remote_commands_are_served_by_the_application_311():
    await _commands(4)


async def test_remote_commands_are_served_by_the_application_v5():
    await _commands(5)


async def test_remote_guard_authenticates_and_refuses():
    dev, caller = await _pair(4, ["lg:led.set", "mqtt:connection.status"])
    guard = Guard(free=("mqtt:connection.status",))
    dev.serve_remote().guard = guard

    async def led(params):
        return {"on": params["on"]}
    dev.serve_remote().commands["lg:led.set"] = led
    cid = dev.cfg["clientId"]
    req = {"capability": "lg:led", "operation": "set", "params": {"on": False}}
    try:
        r = await caller.call(cid, req)
        eq(r["error"]["error"], "AUTH_REQUIRED")
        eq(r["error"]["details"], {"call": "lg:led.set"})
        r = await caller.call(cid, {"capability": "mqtt:connection", "operation": "status"})
        eq(r["result"]["connected"], True)  # a free call without a signature
        # signed: the reply address is inside the signed request (unwrap)
        signed = json.dumps({"signed": dict(req, id="@ID@", replyTo="@REPLY@")})
        r = await caller.call(cid, signed)
        eq(r["result"], {"on": False})
        bad = json.dumps({"signed": dict(req, id="@ID@", replyTo="@REPLY@"), "bad": True})
        r = await caller.call(cid, bad)
        eq(r["error"]["error"], "AUTH_FAILED")
        # the allow-list is checked before the guard: what is not callable is not checked
        r = await caller.call(cid, {"capability": "mqtt:history", "operation": "clear"})
        eq(r["error"]["error"], "CAPABILITY_DISABLED")
        eq(guard.checked, [("lg:led.set", False), ("mqtt:connection.status", False), ("lg:led.set", True)])
    finally:
        await _close(dev, caller.conn)


async def _kept_session(version):
    from lgmqtt.net import client as C

    props = {"properties": {"sessionExpiryInterval": 300}} if version == 5 else {}
    import sys

    # the broker outlives this process (the other interpreters run against it too)
    cid = "lgr-kept-%d-%s-%d" % (version, sys.implementation.name, 64 if sys.maxsize > 2 ** 32 else 32)
    subs = []
    orig = C.Client.subscribe

    async def counting(self, topics, props=None):
        if topics[0][0].endswith("/rpc"):
            subs.append([t for t, _ in topics])
        return await orig(self, topics, props)

    C.Client.subscribe = counting
    caller = Caller(version)
    await caller.start()
    try:
        dev = Connector(_doc(version, ["mqtt:connection.status"], clientId=cid, clean=False, **props))
        await dev.execute("mqtt:connection", "connect")
        await asyncio.sleep(0.2)
        eq(subs, [["lg/%s/rpc" % cid]])  # a new session: the device subscribes
        await dev.close()
        # a request published while the device is away: the broker keeps it in the session
        pending = asyncio.create_task(caller.call(cid, {"capability": "mqtt:connection", "operation": "status"}))
        await asyncio.sleep(0.3)
        dev = Connector(_doc(version, ["mqtt:connection.status"], clientId=cid, clean=False, **props))
        await dev.execute("mqtt:connection", "connect")
        r = await pending
        eq(r["result"]["sessionPresent"], True)
        eq(len(subs), 1)  # the session kept the subscription: no SUBSCRIBE this time
        await dev.close()
    finally:
        C.Client.subscribe = orig
        await caller.conn.close()


async def test_remote_keeps_its_subscription_in_a_kept_session_311():
    await _kept_session(4)


async def test_remote_keeps_its_subscription_in_a_kept_session_v5():
    await _kept_session(5)
