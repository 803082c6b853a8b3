# lgmqtt.net.transport against real Mosquitto brokers (plain, TLS, mutual TLS), under both
# interpreters. MQTT bytes are hand-written here so this runs before the codec exists.
import socket

from check import araises, env, eq
from lgmqtt import compat
from lgmqtt.net import transport
from lgmqtt.errors import CONFIG_ERROR, CONNECTION_FAILED, ConnectorError
from lgmqtt import errors

FIXTURES = ("mosquitto", "mosquitto_tls", "mosquitto_mtls")
TIMEOUT = 120  # seconds for the MicroPython run (errors.TIMEOUT is the error code)

# CONNECT v3.1.1, clean session, keepalive 60, empty client id (Mosquitto allows it with clean).
CONNECT = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"
CONNACK_OK = b"\x20\x02\x00\x00"


def _plain():
    return env("LG_BROKER_HOST"), int(env("LG_BROKER_PORT"))


def _tls_port():
    return int(env("LG_BROKER_TLS_TLS_PORT"))


def _mtls_port():
    return int(env("LG_BROKER_MTLS_TLS_PORT"))


def _cert(name):
    with open(env("LG_BROKER_TLS_CERTS") + "/" + name, "rb") as f:
        return f.read()


async def _read_exactly(stream, n):
    buf = bytearray(n)
    mv = memoryview(buf)
    got = 0
    while got < n:
        k = await stream.readinto(mv[got:])
        if k == 0:
            break
        got += k
    return bytes(buf[:got])


async def _mqtt_handshake(stream, send=True):
    if send:
        stream.write(CONNECT)
    await stream.drain()
    eq(await _read_exactly(stream, 4), CONNACK_OK, "CONNACK")


def _reason(err):
    return err.details.get("reason", "")


async def test_plain_connect_connack_and_nodelay():
    host, port = _plain()
    s = await transport.open(host, port)
    try:
        assert s.nodelay is True
        await _mqtt_handshake(s)
        # PINGREQ -> PINGRESP through read(n)
        s.write(b"\xc0\x00")
        await s.drain()
        eq(await s.read(2), b"\xd0\x00", "PINGRESP")
    finally:
        await s.close()
    await s.close()  # twice: still no exception


async def test_hello_is_sent_first():
    host, port = _plain()
    s = await transport.open(host, port, hello=CONNECT)
    try:
        await _mqtt_handshake(s, send=False)
    finally:
        await s.close()


async def test_eof_after_broker_closes():
    host, port = _plain()
    s = await transport.open(host, port, hello=CONNECT)
    try:
        await _mqtt_handshake(s, send=False)
        s.write(b"\x00\x00")  # packet type 0 is reserved: Mosquitto drops the client
        await s.drain()
        eq(await s.read(4), b"", "read at EOF")
        eq(await s.readinto(bytearray(4)), 0, "readinto at EOF")
        # Writing into the closed link fails within a few writes, as ConnectorError.
        err = None
        for _ in range(20):
            try:
                s.write(b"\xc0\x00" * 100)
                await s.drain()
            except ConnectorError as e:
                err = e
                break
            await _sleep_ms(20)
        assert err is not None, "no error writing to a closed link"
        eq(err.error, CONNECTION_FAILED)
        assert _reason(err), err.details
    finally:
        await s.close()


async def test_refused_raises_at_open():
    host, _ = _plain()
    err = await araises(ConnectorError, transport.open(host, 1))
    eq(err.error, CONNECTION_FAILED)
    eq(err.details["host"], host)
    eq(err.details["port"], 1)
    assert "refused" in _reason(err), _reason(err)


async def test_refused_tls_raises_at_open():
    host, _ = _plain()
    ctx = transport.tls_context(ca=_cert("ca.crt"))
    err = await araises(ConnectorError, transport.open(host, 1, ssl=ctx, server_hostname="localhost", hello=CONNECT))
    eq(err.error, CONNECTION_FAILED)
    assert "refused" in _reason(err), _reason(err)


async def test_name_resolution_failure():
    err = await araises(ConnectorError, transport.open("nonexistent.invalid", 1883, timeout_ms=8000))
    eq(err.error, CONNECTION_FAILED)
    assert "resolution" in _reason(err), _reason(err)


async def _tls_ok(ctx, port, server_hostname="localhost", hello=True):
    s = await transport.open("127.0.0.1", port, ssl=ctx, server_hostname=server_hostname,
                             hello=CONNECT if hello else None)
    try:
        assert s.nodelay is True
        await _mqtt_handshake(s, send=not hello)
    finally:
        await s.close()


async def test_tls_right_ca_pem_and_der():
    await _tls_ok(transport.tls_context(ca=_cert("ca.crt")), _tls_port())
    await _tls_ok(transport.tls_context(ca=_cert("ca.crt.der")), _tls_port())
    # Several CAs in one PEM: the right one need not be first.
    await _tls_ok(transport.tls_context(ca=_cert("wrongca.crt") + _cert("ca.crt")), _tls_port())


async def test_tls_without_hello():
    # MicroPython hand-shakes on a blocking socket here (bounded by timeout_ms).
    await _tls_ok(transport.tls_context(ca=_cert("ca.crt.der")), _tls_port(), hello=False)


async def _tls_refused(ctx, port, server_hostname="localhost", hello=True):
    err = await araises(ConnectorError, transport.open("127.0.0.1", port, ssl=ctx, server_hostname=server_hostname,
                                                      hello=CONNECT if hello else None))
    eq(err.error, CONNECTION_FAILED)
    return _reason(err)


async def test_tls_wrong_ca_refused_with_clear_reason():
    for hello in (True, False):
        r = await _tls_refused(transport.tls_context(ca=_cert("wrongca.crt")), _tls_port(), hello=hello)
        assert "certificate verify failed" in r, r


async def test_tls_verify_false_accepts_wrong_ca():
    await _tls_ok(transport.tls_context(ca=_cert("wrongca.crt"), verify=False), _tls_port())
    await _tls_ok(transport.tls_context(verify=False), _tls_port(), server_hostname="wronghost")


async def test_tls_hostname_mismatch_refused():
    r = await _tls_refused(transport.tls_context(ca=_cert("ca.crt")), _tls_port(), server_hostname="wronghost")
    assert "certificate verify failed" in r, r
    # The server certificate names 127.0.0.1 too: the default server_hostname is the host.
    s = await transport.open("127.0.0.1", _tls_port(), ssl=transport.tls_context(ca=_cert("ca.crt")), hello=CONNECT)
    await _mqtt_handshake(s, send=False)
    await s.close()


async def test_mutual_tls_with_client_cert():
    pem = transport.tls_context(ca=_cert("ca.crt"), cert=_cert("client.crt"), key=_cert("client.key"))
    await _tls_ok(pem, _mtls_port())
    der = transport.tls_context(ca=_cert("ca.crt.der"), cert=_cert("client.crt.der"), key=_cert("client.key.der"))
    await _tls_ok(der, _mtls_port())


async def test_mutual_tls_without_client_cert_refused():
    # TLS 1.2 (mbedtls here): the server refuses inside the handshake -> open() raises.
    # TLS 1.3 (OpenSSL): the client's handshake is over before the server checks, so the
    # refusal arrives at the first read: an alert, or a reset (OpenSSL's alert is lost when
    # the server resets a link with our CONNECT unread), or end of stream; never a CONNACK.
    ctx = transport.tls_context(ca=_cert("ca.crt"))
    try:
        s = await transport.open("127.0.0.1", _mtls_port(), ssl=ctx, server_hostname="localhost", hello=CONNECT)
    except ConnectorError as e:
        eq(e.error, CONNECTION_FAILED)
        return
    try:
        got = await _read_exactly(s, 4)
        eq(got, b"", "data from a server that requires a client certificate")
    except ConnectorError as e:
        eq(e.error, CONNECTION_FAILED)
    finally:
        await s.close()


async def test_tls_no_client_key_is_config_error():
    err = await araises(ConnectorError, _async(transport.tls_context, ca=_cert("ca.crt"), cert=_cert("client.crt")))
    eq(err.error, CONFIG_ERROR)
    err = await araises(ConnectorError, _async(transport.tls_context, ca=b"not a certificate"))
    eq(err.error, CONFIG_ERROR)


async def test_timeout_when_server_never_answers_handshake():
    # A socket that listens but never accepts: the kernel completes the TCP connect, no
    # one ever answers the ClientHello.
    srv, port = _silent_listener()
    try:
        ctx = transport.tls_context(ca=_cert("ca.crt"))
        for hello in (CONNECT, None):
            t0 = compat.ticks_ms()
            err = await araises(ConnectorError, transport.open("127.0.0.1", port, ssl=ctx, server_hostname="localhost",
                                                              timeout_ms=400, hello=hello))
            took = compat.ticks_diff(compat.ticks_ms(), t0)
            eq(err.error, errors.TIMEOUT)
            assert 300 <= took < 2000, took
    finally:
        srv.close()


async def _async(fn, *a, **kw):
    return fn(*a, **kw)


async def _sleep_ms(ms):
    import asyncio

    await asyncio.sleep(ms / 1000)


def _silent_listener():
    # No getsockname() on MicroPython's unix port: try ports until one binds.
    import time

    base = 20000 + (time.ticks_ms() if hasattr(time, "ticks_ms") else int(time.time() * 1000)) % 20000
    for i in range(200):
        port = base + i * 7 % 20000
        s = socket.socket()
        try:
            s.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
            s.listen(1)
            return s, port
        except OSError:
            s.close()
    raise AssertionError("no free port")
