# The connector API (the seed's usage examples) against real Mosquitto brokers, on
# both interpreters. Every error code is produced here (or in test_config.py) and its
# details checked.
import asyncio

from check import araises, env, eq
from lgmqtt import Connector, ConnectorError
from lgmqtt.compat import ticks_diff, ticks_ms

FIXTURES = ("mosquitto", "mosquitto_auth", "mosquitto_limits", "free_ports")
TIMEOUT = 240

_n = [0]


def free_port(i):
    return int(env("LG_FREE_PORTS").split(",")[i])


def make(version=4, prefix="LG_BROKER", caps=None, **cfg):
    _n[0] += 1
    c = {"host": env(prefix + "_HOST"), "port": int(env(prefix + "_PORT")), "clientId": "lgc-%d" % _n[0],
         "protocolVersion": version, "reconnectPeriod": 100, "connectTimeout": 5000}
    c.update(cfg)
    doc = {"id": "test-node", "type": "mqtt", "name": "test", "config": c}
    if caps is not None:
        doc["capabilities"] = caps
    return Connector(doc)


class Events:
    def __init__(self, conn, *names):
        self.seen = {n: [] for n in names}
        self.ev = asyncio.Event()
        for n in names:
            conn.on(n, self._cb(n))

    def _cb(self, n):
        def cb(data):
            self.seen[n].append(data)
            self.ev.set()
        return cb

    async def wait(self, name, count=1, timeout=10):
        async def w():
            while len(self.seen[name]) < count:
                self.ev.clear()
                await self.ev.wait()
        await asyncio.wait_for(w(), timeout)
        return self.seen[name]


async def _pair(version=4, **cfg):
    pub, sub = make(version, **cfg), make(version, **cfg)
    await pub.execute("mqtt:connection", "connect")
    await sub.execute("mqtt:connection", "connect")
    return pub, sub


async def test_publish_simple_json_and_receive():
    pub, sub = await _pair()
    ev = Events(sub, "message-received")
    pev = Events(pub, "message-published")
    r = await sub.execute("mqtt:subscribe", "subscribe", {"topic": "lgc/sensors/temperature", "qos": 1})
    eq(r["subscriptions"], [{"topic": "lgc/sensors/temperature", "qos": 1, "success": True}])
    res = await pub.execute("mqtt:publish", "write", {"topic": "lgc/sensors/temperature",
                                                      "payload": {"value": 22.5, "unit": "C"}, "qos": 1})
    eq((res["success"], res["queued"], res["qos"]), (True, False, 1))
    assert isinstance(res["messageId"], int)
    (m,) = await ev.wait("message-received")
    eq(m["payload"], {"value": 22.5, "unit": "C"})
    eq((m["topic"], m["qos"], m["retain"], m["dup"]), ("lgc/sensors/temperature", 1, False, False))
    eq(set(m) >= {"topic", "payload", "qos", "retain", "dup", "messageId", "properties"}, True)
    (p,) = await pev.wait("message-published")
    eq((p["topic"], p["payload"], p["qos"], p["messageId"]), ("lgc/sensors/temperature", {"value": 22.5, "unit": "C"},
                                                              1, res["messageId"]))
    await pub.execute("mqtt:publish", "write", {"topic": "lgc/sensors/temperature", "payload": "21.0 C"})
    await pub.execute("mqtt:publish", "write", {"topic": "lgc/sensors/temperature", "payload": b"\x00\xff", "qos": 2})
    msgs = await ev.wait("message-received", 3)
    eq([m["payload"] for m in msgs[1:]], ["21.0 C", b"\x00\xff"])
    eq(msgs[2]["rawPayload"], b"\x00\xff")
    await pub.execute("mqtt:connection", "disconnect")
    await sub.execute("mqtt:connection", "disconnect")


async def test_publish_with_v5_properties():
    pub, sub = await _pair(5)
    ev = Events(sub, "message-received")
    await sub.execute("mqtt:subscribe", "subscribe", {"topic": "lgc/v5/#", "qos": 1})
    await pub.execute("mqtt:publish", "write", {
        "topic": "lgc/v5/cmd", "payload": {"on": True}, "qos": 1,
        "properties": {"messageExpiryInterval": 60, "userProperties": {"source": "greenhouse", "tag": ["a", "b"]},
                       "responseTopic": "lgc/v5/reply", "correlationData": b"req-1"}})
    (m,) = await ev.wait("message-received")
    props = m["properties"]
    eq(m["payload"], {"on": True})
    eq(props["contentType"], "application/json")  # set from the dict payload
    eq(props["userProperties"], {"source": "greenhouse", "tag": ["a", "b"]})
    eq((props["responseTopic"], props["correlationData"]), ("lgc/v5/reply", b"req-1"))
    assert 0 < props["messageExpiryInterval"] <= 60
    await pub.execute("mqtt:connection", "disconnect")
    await sub.execute("mqtt:connection", "disconnect")


async def test_subscribe_multiple_and_unsubscribe():
    pub, sub = await _pair(5)
    ev = Events(sub, "message-received")
    r = await sub.execute("mqtt:subscribe", "subscribe", {"topics": [
        {"topic": "lgc/multi/a/+", "qos": 0}, {"topic": "lgc/multi/b/#", "qos": 2, "options": {"nl": True}}]})
    eq([(s["topic"], s["qos"]) for s in r["subscriptions"]], [("lgc/multi/a/+", 0), ("lgc/multi/b/#", 2)])
    await pub.execute("mqtt:publish", "write", {"topic": "lgc/multi/a/x", "payload": "1", "qos": 1})
    await pub.execute("mqtt:publish", "write", {"topic": "lgc/multi/b/y/z", "payload": "2", "qos": 2})
    msgs = await ev.wait("message-received", 2)
    eq(sorted((m["topic"], m["qos"]) for m in msgs), [("lgc/multi/a/x", 0), ("lgc/multi/b/y/z", 2)])
    r = await sub.execute("mqtt:subscribe", "unsubscribe", {"topics": ["lgc/multi/a/+"]})
    eq(r["topics"], ["lgc/multi/a/+"])
    st = await sub.execute("mqtt:connection", "status")
    eq(st["subscriptions"], [{"topic": "lgc/multi/b/#", "qos": 2}] + [])
    await pub.execute("mqtt:connection", "disconnect")
    await sub.execute("mqtt:connection", "disconnect")


async def test_connection_status_and_events():
    c = make(prefix="LG_BROKER_AUTH", username=env("LG_BROKER_AUTH_USER"), password=env("LG_BROKER_AUTH_PASSWORD"))
    ev = Events(c, "connected", "disconnected")
    st = await c.execute("mqtt:connection", "status")
    eq(st["connected"], False)
    await c.execute("mqtt:connection", "connect")
    (e,) = await ev.wait("connected")
    eq(set(e) >= {"clientId", "broker", "timestamp"}, True)
    eq(e["broker"], "%s:%s" % (env("LG_BROKER_AUTH_HOST"), env("LG_BROKER_AUTH_PORT")))
    assert e["timestamp"].endswith("Z") and e["timestamp"][4] == "-"
    st = await c.execute("mqtt:connection", "status")
    eq((st["connected"], st["clientId"], st["broker"]), (True, e["clientId"], e["broker"]))
    assert env("LG_BROKER_AUTH_PASSWORD") not in repr(st)
    await c.execute("mqtt:connection", "disconnect")
    eq((await c.execute("mqtt:connection", "status"))["connected"], False)


async def test_topic_management():
    c = make(caps={"enabled": ["mqtt:topics", "mqtt:publish", "mqtt:connection", "mqtt:subscribe"]})
    await c.execute("mqtt:connection", "connect")
    r = await c.execute("mqtt:topics", "create", {"name": "lgc/reg/state", "description": "pump state",
                                                  "maxQos": 1, "retained": True})
    eq(r["topic"], {"name": "lgc/reg/state", "description": "pump state", "maxQos": 1, "retained": True})
    eq([t["name"] for t in (await c.execute("mqtt:topics", "list"))["topics"]], ["lgc/reg/state"])
    e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "lgc/reg/state", "payload": "on", "qos": 2}))
    eq((e.error, e.details["qos"], e.details["supportedQos"]), ("QOS_ERROR", 2, [0, 1]))
    await c.execute("mqtt:publish", "write", {"topic": "lgc/reg/state", "payload": "on", "qos": 1, "retain": True})
    r = await c.execute("mqtt:topics", "delete", {"name": "lgc/reg/state"})
    eq(r["retainedCleared"], True)
    # the broker no longer holds a retained message there
    probe = make()
    ev = Events(probe, "message-received")
    await probe.execute("mqtt:connection", "connect")
    await probe.execute("mqtt:subscribe", "subscribe", {"topic": "lgc/reg/state", "qos": 1})
    await asyncio.sleep(0.3)
    eq(ev.seen["message-received"], [])
    await probe.execute("mqtt:connection", "disconnect")
    await c.execute("mqtt:connection", "disconnect")


async def test_topics_disabled_by_default():
    c = make()
    e = await araises(ConnectorError, c.execute("mqtt:topics", "list"))
    eq((e.error, e.details["capability"]), ("CAPABILITY_DISABLED", "mqtt:topics"))


async def test_history_read_and_clear():
    c = make(5)
    await c.execute("mqtt:connection", "connect")
    await c.execute("mqtt:subscribe", "subscribe", {"topic": "lgc/h/#", "qos": 1})
    ev = Events(c, "message-received")
    for i in range(5):
        await c.execute("mqtt:publish", "write", {"topic": "lgc/h/%s" % ("a" if i % 2 else "b"), "payload": {"i": i}, "qos": 1})
    await ev.wait("message-received", 5)
    r = await c.execute("mqtt:history", "read", {"topic": "lgc/h/a", "limit": 10})
    eq([(m["direction"], m["payload"]["i"]) for m in r["messages"]],
       [("received", 3), ("published", 3), ("received", 1), ("published", 1)])
    r = await c.execute("mqtt:history", "read", {"topic": "lgc/h/#", "limit": 2, "order": "oldest"})
    eq([(m["direction"], m["payload"]) for m in r["messages"]], [("published", {"i": 0}), ("received", {"i": 0})])
    first = r["messages"][0]
    eq(set(first) >= {"id", "topic", "payload", "qos", "retain", "direction", "timestamp"}, True)
    r = await c.execute("mqtt:history", "read", {"since": first["id"], "topic": "lgc/h/b", "order": "oldest"})
    eq([m["payload"]["i"] for m in r["messages"]], [0, 2, 2, 4, 4])
    r = await c.execute("mqtt:history", "read", {"since": "2000-01-01T00:00:00Z", "topic": "lgc/h/#"})
    eq(r["count"], 10)
    r = await c.execute("mqtt:history", "read", {"since": "2999-01-01T00:00:00Z"})
    eq(r["count"], 0)
    await c.execute("mqtt:history", "clear", {"topic": "lgc/h/a"})
    r = await c.execute("mqtt:history", "read", {"topic": "lgc/h/#"})
    eq(sorted(set(m["topic"] for m in r["messages"])), ["lgc/h/b"])
    await c.execute("mqtt:history", "clear")
    eq((await c.execute("mqtt:history", "read"))["count"], 0)
    e = await araises(ConnectorError, c.execute("mqtt:history", "read", {"since": "yesterday"}))
    eq((e.error, e.details["param"]), ("INVALID_PARAMS", "since"))
    await c.execute("mqtt:connection", "disconnect")


async def test_batching():
    pub, sub = await _pair()
    ev = Events(sub, "message-received")
    await sub.execute("mqtt:subscribe", "subscribe", {"topic": "lgc/batch/#", "qos": 1})
    msgs = [{"topic": "lgc/batch/%d" % i, "payload": {"n": i}, "qos": 1} for i in range(7)]
    r = await pub.execute("mqtt:publish", "write", {"messages": msgs, "batchSize": 3, "batchDelay": 20})
    eq((r["success"], r["published"], r["failed"], len(r["results"])), (True, 7, 0, 7))
    got = await ev.wait("message-received", 7)
    eq(sorted(m["payload"]["n"] for m in got), list(range(7)))
    # one bad message: nothing of the batch is sent
    bad = msgs[:2] + [{"topic": "lgc/batch/#", "payload": 1}]
    e = await araises(ConnectorError, pub.execute("mqtt:publish", "write", {"messages": bad}))
    eq(e.error, "TOPIC_ERROR")
    await asyncio.sleep(0.2)
    eq(len(ev.seen["message-received"]), 7)
    await pub.execute("mqtt:connection", "disconnect")
    await sub.execute("mqtt:connection", "disconnect")


async def test_recovery_by_reconnect_and_offline_queue():
    pub, sub = await _pair()
    ev = Events(sub, "message-received")
    pev = Events(pub, "connected", "disconnected")
    await sub.execute("mqtt:subscribe", "subscribe", {"topic": "lgc/rec", "qos": 1})
    await pub.client._drop_link("test: network cut")  # what a Wi-Fi drop looks like to the client
    r = await pub.execute("mqtt:publish", "write", {"topic": "lgc/rec", "payload": "while-down", "qos": 1})
    eq(r["queued"], True)
    e = await araises(ConnectorError, pub.execute("mqtt:publish", "write", {"topic": "lgc/rec", "payload": "q0"}))
    eq(e.error, "NOT_CONNECTED")
    eq(len(pev.seen["disconnected"]), 1)
    assert "network cut" in pev.seen["disconnected"][0]["reason"]
    await pev.wait("connected", 1, timeout=10)  # reconnected by itself
    (m,) = await ev.wait("message-received")
    eq(m["payload"], "while-down")
    for _ in range(100):  # its PUBACK may still be on the way back to the publisher
        st = await pub.execute("mqtt:connection", "status")
        if st["outbox"]["pending"] == 0:
            break
        await asyncio.sleep(0.02)
    eq((st["outbox"]["pending"], st["reconnects"]), (0, 1))
    await pub.execute("mqtt:connection", "disconnect")
    await sub.execute("mqtt:connection", "disconnect")


async def test_new_credentials_recover_from_authentication_failed():
    c = make(prefix="LG_BROKER_AUTH", username=env("LG_BROKER_AUTH_USER"), password="not-the-password",
             authRetryPeriod=200)
    ev = Events(c, "error", "connected")
    e = await araises(ConnectorError, c.execute("mqtt:connection", "connect"))
    eq(e.error, "AUTHENTICATION_FAILED")
    eq(e.details["username"], env("LG_BROKER_AUTH_USER"))
    assert e.details["reason"]
    await c.update_config({"password": env("LG_BROKER_AUTH_PASSWORD")})
    await ev.wait("connected")
    eq((await c.execute("mqtt:connection", "status"))["connected"], True)
    assert "not-the-password" not in repr(ev.seen) + repr(await c.execute("mqtt:connection", "status"))
    await c.execute("mqtt:connection", "disconnect")


async def test_error_codes_with_details():
    c = make(maxPacketSize=256)
    e = await araises(ConnectorError, c.execute("mqtt:subscribe", "subscribe", {"topic": "a"}))
    eq((e.error, e.details["state"]), ("NOT_CONNECTED", "disconnected"))
    await c.execute("mqtt:connection", "connect")
    e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "a/+/b", "payload": 1}))
    eq((e.error, e.details), ("TOPIC_ERROR", {"topic": "a/+/b", "reason": "wildcards not allowed in topic name"}))
    e = await araises(ConnectorError, c.execute("mqtt:subscribe", "subscribe", {"topic": "a/#/b"}))
    eq((e.error, e.details["reason"]), ("TOPIC_ERROR", "wildcard in middle of topic"))
    e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "a", "payload": 1, "qos": 3}))
    eq((e.error, e.details), ("QOS_ERROR", {"qos": 3, "supportedQos": [0, 1, 2]}))
    e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "a", "payload": "x" * 300}))
    eq((e.error, e.details["limit"]), ("PAYLOAD_TOO_LARGE", 256))
    e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "a", "payload": object()}))
    eq((e.error, e.details["param"]), ("INVALID_PARAMS", "payload"))
    for bad in ({"topicAlias": 3}, {"messageExpiryInterval": "60"}, {"nosuch": 1}, [1], {"userProperties": "ab"}):
        e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "a", "payload": 1, "properties": bad}))
        eq(e.error, "INVALID_PARAMS", repr(bad))
    e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "a", "payload": {"b": b"x"}}))
    eq(e.error, "INVALID_PARAMS")
    e = await araises(ConnectorError, c.execute("mqtt:publish", ["write"]))
    eq(e.error, "INVALID_PARAMS")
    eq(c.outbox.stats()["pending"], 0)  # nothing refused went into the outbox
    e = await araises(ConnectorError, c.execute("mqtt:nosuch", "read"))
    eq(e.error, "CAPABILITY_DISABLED")
    e = await araises(ConnectorError, c.execute("mqtt:publish", "nosuch"))
    eq((e.error, sorted(e.details["operations"])), ("INVALID_PARAMS", ["discard", "pending", "retry", "write"]))
    eq((e.to_dict()["error"], set(e.to_dict())), ("INVALID_PARAMS", {"error", "message", "details"}))
    await c.execute("mqtt:connection", "disconnect")
    down = make(port=1, maxReconnectAttempts=1)
    e = await araises(ConnectorError, down.execute("mqtt:connection", "connect"))
    eq((e.error, e.details["host"], e.details["port"]), ("CONNECTION_FAILED", env("LG_BROKER_HOST"), 1))
    assert e.details["reason"]
    await down.execute("mqtt:connection", "disconnect")


async def test_timeout_when_broker_never_answers():
    async def silent(reader, writer):
        await asyncio.sleep(5)

    port = free_port(0)
    server = await asyncio.start_server(silent, "127.0.0.1", port)
    c = make(port=port, connectTimeout=300, maxReconnectAttempts=1)
    e = await araises(ConnectorError, c.execute("mqtt:connection", "connect"))
    eq((e.error, e.details["port"]), ("TIMEOUT", port))
    await c.execute("mqtt:connection", "disconnect")
    server.close()


async def test_callback_errors_become_error_events():
    pub, sub = await _pair()
    errors = []
    sub.on("error", errors.append)

    def bad(m):
        raise ValueError("user bug")

    async def bad_async(m):
        raise KeyError("async user bug")

    ok = Events(sub, "message-received")
    sub.on("message-received", bad)
    sub.on("message-received", bad_async)
    await sub.execute("mqtt:subscribe", "subscribe", {"topic": "lgc/cb", "qos": 1})
    await pub.execute("mqtt:publish", "write", {"topic": "lgc/cb", "payload": "1", "qos": 1})
    await pub.execute("mqtt:publish", "write", {"topic": "lgc/cb", "payload": "2", "qos": 1})
    await ok.wait("message-received", 2)
    await asyncio.sleep(0.05)
    eq(len(errors), 4)
    assert "user bug" in errors[0]["message"]
    sub.off("message-received", bad)
    eq((await sub.execute("mqtt:connection", "status"))["connected"], True)
    await pub.execute("mqtt:connection", "disconnect")
    await sub.execute("mqtt:connection", "disconnect")


async def test_debug_events():
    c = make()
    dbg = []
    c.on("debug", dbg.append)
    await c.execute("mqtt:connection", "status")
    eq(dbg, [])
    c.set_debug_mode(True)
    await c.execute("mqtt:connection", "status")
    eq(dbg[0]["capability"], "mqtt:connection")


async def test_protocol_error_from_a_broken_broker():
    async def broken(reader, writer):
        await reader.read(100)
        writer.write(b"\xf0\x00")  # AUTH on MQTT 3.1.1 does not exist
        await writer.drain()
        await asyncio.sleep(2)

    port = free_port(1)
    server = await asyncio.start_server(broken, "127.0.0.1", port)
    c = make(port=port, maxReconnectAttempts=1)
    e = await araises(ConnectorError, c.execute("mqtt:connection", "connect"))
    eq((e.error, e.details["port"]), ("PROTOCOL_ERROR", port))
    assert e.details["reasonCode"] >= 0x80
    await c.execute("mqtt:connection", "disconnect")
    server.close()


async def test_broker_limits_checked_before_the_outbox_and_bad_messages_do_not_jam_it():
    lim = dict(prefix="LG_BROKER_LIMITS", version=5)
    c = make(lim["version"], lim["prefix"])
    perr = Events(c, "publish-error")
    await c.execute("mqtt:connection", "connect")
    e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "lgc/lim", "payload": 1, "qos": 2}))
    eq((e.error, e.details["supportedQos"]), ("QOS_ERROR", [0, 1]))
    eq(c.outbox.stats()["pending"], 0)
    sub = make(lim["version"], lim["prefix"])
    got = Events(sub, "message-received")
    await sub.execute("mqtt:connection", "connect")
    await sub.execute("mqtt:subscribe", "subscribe", {"topic": "lgc/lim", "qos": 1})
    await c.client._drop_link("test: offline")
    # queued offline: the broker's limits are unknown until it answers again
    for m in ({"payload": "q2", "qos": 2}, {"payload": "a", "qos": 1}, {"payload": "b", "qos": 1}):
        r = await c.execute("mqtt:publish", "write", dict(m, topic="lgc/lim"))
        eq(r["queued"], True)
    await c.client.wait_connected(5000)
    msgs = await got.wait("message-received", 2)
    eq([m["payload"] for m in msgs], ["a", "b"])
    errs = await perr.wait("publish-error", 2)  # the refused online write, then the queued one
    eq([(e["error"], "outboxId" in e) for e in errs], [("QOS_ERROR", False), ("QOS_ERROR", True)])
    for _ in range(100):  # the last PUBACK may still be on its way back
        if c.outbox.stats()["pending"] == 1:
            break
        await asyncio.sleep(0.02)
    # the refused QoS 2 message is kept for another connection or broker, not lost
    eq(c.outbox.stats()["pending"], 1)
    await c.execute("mqtt:connection", "disconnect")
    await sub.execute("mqtt:connection", "disconnect")


async def test_backlog_is_not_overtaken_by_new_writes():
    pub, sub = await _pair()
    ev = Events(sub, "message-received")
    await sub.execute("mqtt:subscribe", "subscribe", {"topic": "lgc/order", "qos": 1})
    await pub.client._drop_link("test: offline")
    for i in range(3):
        await pub.execute("mqtt:publish", "write", {"topic": "lgc/order", "payload": "old-%d" % i, "qos": 1})
    await pub.client.wait_connected(5000)
    await pub.execute("mqtt:publish", "write", {"topic": "lgc/order", "payload": "new", "qos": 1})
    msgs = await ev.wait("message-received", 4)
    eq([m["payload"] for m in msgs], ["old-0", "old-1", "old-2", "new"])
    await pub.execute("mqtt:connection", "disconnect")
    await sub.execute("mqtt:connection", "disconnect")


async def test_a_write_dropped_by_the_outbox_policy_does_not_hang():
    c = make(history={"size": 65536, "maxPending": 2})
    await c.execute("mqtt:connection", "connect")
    msgs = [{"topic": "lgc/drop", "payload": i, "qos": 1} for i in range(5)]
    r = await asyncio.wait_for(c.execute("mqtt:publish", "write", {"messages": msgs, "batchSize": 5}), 10)
    eq(r["published"] + r["failed"], 5)
    for res in r["results"]:
        if not res["success"]:
            eq(res["error"]["error"], "OUTBOX_FULL")
    st = await c.execute("mqtt:connection", "status")
    eq(st["outbox"]["dropped"], r["failed"])
    await c.execute("mqtt:connection", "disconnect")


async def test_reconnect_period_zero_does_not_spin():
    from lgmqtt.net.client import Client

    c = Client({"host": "127.0.0.1", "port": 1, "clientId": "lgc-spin", "reconnectPeriod": 0,
                "maxReconnectPeriod": 0, "connectTimeout": 1000})
    t0 = ticks_ms()
    try:
        await c.connect()
    except ConnectorError:
        pass
    await asyncio.sleep(1)
    attempts, ms = c.attempts, ticks_diff(ticks_ms(), t0)
    await c.disconnect()
    # the floor is 100 ms, and the back-off sleeps half of it plus jitter: at least 50 ms
    # between attempts, however long the loop took to come back (a spin makes thousands)
    assert 2 <= attempts <= 2 + ms // 45, (attempts, ms)  # (45: a timer may wake a little early)
