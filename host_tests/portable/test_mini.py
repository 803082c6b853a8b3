# The skeleton publisher against a real Mosquitto (started by the fixtures), on both
# interpreters. Also proves the harness passes broker fixtures to MicroPython.
from check import araises, env, eq
from lgmqtt.errors import ConnectorError, AUTHENTICATION_FAILED, CONNECTION_FAILED
from lgmqtt.mini import MiniClient

FIXTURES = ("mosquitto", "mosquitto_auth")


def _broker(prefix="LG_BROKER"):
    return env(prefix + "_HOST"), int(env(prefix + "_PORT"))


async def test_publish_qos0_and_qos1():
    host, port = _broker()
    c = MiniClient(host, port, "lg-test-mini", timeout_ms=5000)
    await c.connect()
    eq(await c.publish("lg/test/mini", b"zero", 0), 0)
    pid1 = await c.publish("lg/test/mini", b"one", 1)
    pid2 = await c.publish("lg/test/mini", b"two", 1)
    eq((pid1, pid2), (1, 2))  # acknowledged in order, ids counted from 1
    await c.close()


async def test_refused_port_is_connection_failed():
    c = MiniClient("127.0.0.1", 1, "lg-test-refused", timeout_ms=3000)
    e = await araises(ConnectorError, c.connect())
    eq(e.error, CONNECTION_FAILED)
    eq(e.details["port"], 1)


async def test_wrong_password_is_authentication_failed():
    host = env("LG_BROKER_AUTH_HOST")
    port = int(env("LG_BROKER_AUTH_PORT"))
    c = MiniClient(host, port, "lg-test-auth", username="device", password="wrong", timeout_ms=5000)
    e = await araises(ConnectorError, c.connect())
    eq(e.error, AUTHENTICATION_FAILED)
    eq(e.details["username"], "device")
    assert "wrong" not in str(e.to_dict()), "the password must not appear in the error"
