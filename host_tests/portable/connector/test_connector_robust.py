# The connector under failures and bad input (issue 9): nothing escapes as a raw
# exception, every code is the same on both interpreters, no secret is ever shown.
import asyncio

from check import araises, env, eq, raises
from lgmqtt import Connector, ConnectorError

FIXTURES = ("mosquitto",)
TIMEOUT = 240

_n = [0]


def cfg(**kw):
    _n[0] += 1
    c = {"host": env("LG_BROKER_HOST"), "port": int(env("LG_BROKER_PORT")), "clientId": "lgr-%d" % _n[0],
         "reconnectPeriod": 100, "connectTimeout": 3000}
    c.update(kw)
    return {"id": "robust", "type": "mqtt", "config": c}


class _Exhausted(dict):
    # a payload whose first look inside fails as an allocation on a full heap would
    def items(self):
        raise MemoryError("memory allocation failed")


async def test_memory_error_inside_a_call_is_internal_error_and_the_connector_goes_on():
    c = Connector(cfg())
    await c.execute("mqtt:connection", "connect")
    e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "lgr/m", "payload": _Exhausted(a=1)}))
    eq(e.error, "INTERNAL_ERROR")
    r = await c.execute("mqtt:publish", "write", {"topic": "lgr/m", "payload": {"ok": 1}, "qos": 1})
    eq(r["queued"], False)
    await c.close()
    e = await araises(ConnectorError, c.execute("mqtt:connection", "status"))  # after close: a code, not AttributeError
    eq((e.error, e.details["state"]), ("NOT_CONNECTED", "closed"))


def test_default_store_is_small_and_allocated_as_needed():
    import gc

    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    cs = [Connector(cfg()) for _ in range(4)]  # four connectors without a history section
    gc.collect()
    used = (gc.mem_alloc() - before) if hasattr(gc, "mem_alloc") else 0
    st = cs[0].outbox.log.stats
    eq(st["capacity"], 16384)  # 4 x 4 KB in RAM
    if hasattr(gc, "mem_alloc"):
        assert used < 4 * 16384, used  # not all segments allocated up front
    e = raises(ConnectorError, cs[0].outbox.put, "t", b"x" * 5000, 1)
    eq(e.error, "PAYLOAD_TOO_LARGE")
    assert "config.history.size" in e.message and "4080" in e.message, e.message


def test_credentials_and_client_ids_that_can_never_work_are_config_errors():
    bad = [({"password": "p"}, "config.password"),                       # no username on 3.1.1
           ({"username": "u", "password": "x" * 70000}, "config.password"),
           ({"clientId": "a\x00b"}, "config.clientId"),
           ({"clientId": "c" * 70000}, "config.clientId"),
           ({"clientId": "a+b"}, "config.remote.topic"),
           ({"username": "u", "password": "sec\udcffret"}, "config.password")]
    for extra, path in bad:
        e = raises(ConnectorError, Connector, cfg(**extra))
        eq((e.error, e.details["path"].split(" ")[0]), ("CONFIG_ERROR", path))
        assert "secret" not in e.message and "xxxxx" not in e.message, e.message  # never the value
    Connector(cfg(password="p", protocolVersion=5))  # 5.0 allows a password alone


async def test_same_bad_input_same_code_on_both_interpreters():
    c = Connector(cfg())
    lone = "a/\udcff"
    e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": lone, "payload": "x"}))
    eq(e.error, "TOPIC_ERROR")
    e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "t", "payload": "x\udcff", "qos": 1}))
    eq(e.error, "INVALID_PARAMS")
    eq(c.outbox.stats()["pending"], 0)


async def test_deeply_nested_json_is_a_payload_error_with_the_raw_payload_kept():
    from lgmqtt.connector import payloads

    raw = b"[" * 20000 + b"]" * 20000
    v, err = payloads.decode_checked(raw)
    assert v == raw.decode() and "nested deeper" in err, err  # (no repr of what may be deep)
    v, err = payloads.decode_checked(b'{"a": 1', "application/json")
    eq((v, err is not None), ('{"a": 1', True))
    eq(payloads.decode_checked(b'{"a": 1}'), ({"a": 1}, None))


async def test_small_input_checks():
    c = Connector(dict(cfg(protocolVersion=5), capabilities={"enabled": ["mqtt:publish", "mqtt:topics"]}))
    for params, code in (({"name": "t/1", "retained": "false"}, "INVALID_PARAMS"),
                         ({"name": "t/2", "colour": "red"}, "INVALID_PARAMS")):
        e = await araises(ConnectorError, c.execute("mqtt:topics", "create", params))
        eq(e.error, code)
    for props in ({"userProperties": {"k": {"nested": 1}}}, {"userProperties": {"k": [1, [2]]}},
                  {"responseTopic": "replies/+"}, {"payloadFormatIndicator": 1}):
        e = await araises(ConnectorError, c.execute("mqtt:publish", "write", {"topic": "t", "payload": b"\xff\xfe",
                                                                          "properties": props, "qos": 1}))
        eq(e.error, "INVALID_PARAMS")
    eq(c.outbox.stats()["pending"], 0)
    await c.close()


async def test_history_retained_uses_names_and_content_type_like_read():
    c = Connector(cfg(protocolVersion=5))
    await c.execute("mqtt:connection", "connect")
    await c.execute("mqtt:subscribe", "subscribe", {"topic": "lgr/ret/#", "qos": 1})
    await c.execute("mqtt:publish", "write", {"topic": "lgr/ret/a", "payload": {"v": 1}, "qos": 1, "retain": True,
                                              "properties": {"userProperties": {"k": "v"}}})
    for _ in range(100):
        r = await c.execute("mqtt:history", "retained", {"topic": "lgr/ret/#"})
        if r["count"]:
            break
        await asyncio.sleep(0.02)
    m = r["messages"][0]
    eq(m["payload"], {"v": 1})
    eq((m["properties"]["contentType"], m["properties"]["userProperties"]), ("application/json", {"k": "v"}))
    read = (await c.execute("mqtt:history", "read", {"topic": "lgr/ret/a", "limit": 1}))["messages"][0]
    eq((read["payload"], read["properties"]), (m["payload"], m["properties"]))
    await c.execute("mqtt:publish", "write", {"topic": "lgr/ret/a", "payload": "", "qos": 1, "retain": True})
    await c.close()
