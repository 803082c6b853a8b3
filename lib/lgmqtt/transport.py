# TCP and TLS streams for the client, the same API on CPython and MicroPython.
#
#   ctx = tls_context(ca=None, cert=None, key=None, verify=True)
#   stream = await open(host, port, ssl=ctx, server_hostname=None, timeout_ms=10000, hello=None)
#   stream.write(data); await stream.drain()
#   n = await stream.readinto(buf); data = await stream.read(n)    # 0 / b"" at end of stream
#   await stream.close()                                            # never raises
#   stream.nodelay                                                  # TCP_NODELAY was set
#
# Errors: open() raises ConnectorError(CONNECTION_FAILED) when the name does not resolve,
# the connect is refused or unreachable, or the TLS handshake fails (details.reason says
# which, e.g. "certificate verify failed: ..."), and ConnectorError(TIMEOUT) when all of
# that takes longer than timeout_ms. After open(), a dead link raises
# ConnectorError(CONNECTION_FAILED) from drain(), read() and readinto() -- never a bare
# OSError -- so the client catches one type. write() never raises: an error it meets is
# kept and raised by the next drain().
#
# What blocks the loop, and for how long (the rest waits in the asyncio IO queue):
# - name resolution on MicroPython (socket.getaddrinfo is blocking there; a numeric IP is
#   parsed without a lookup, so give IPs where the loop must not stall). One resolution
#   per open(); the first address is used. On CPython it runs in the executor.
# - the TLS handshake's crypto (on a board, ~1 s of ECDHE + signature checks).
# - on MicroPython, a TLS handshake without `hello`: it is done on a blocking socket
#   bounded by the time left of timeout_ms. With `hello` (the CONNECT packet, which the
#   client has ready anyway) the handshake is driven by writing those bytes and waits in
#   the IO queue instead. So pass hello.
import asyncio

from lgmqtt import compat, compat_net
from lgmqtt.errors import CONNECTION_FAILED, CONFIG_ERROR, TIMEOUT, ConnectorError


def tls_context(ca=None, cert=None, key=None, verify=True):
    """A client TLS context. ca, cert, key: PEM or DER bytes (ca may hold several PEM
    certificates). verify=True: the server certificate must chain to `ca` (CPython
    without ca: the system store; MicroPython without ca: every handshake fails, it has
    no store) and name server_hostname. verify=False: anything is accepted
    (rejectUnauthorized: false; reporting that is the caller's job)."""
    if (cert is None) != (key is None):
        raise ConnectorError(CONFIG_ERROR, "TLS client certificate and key go together", {"reason": "cert without key"})
    try:
        return compat_net.tls_context(_ders(ca) if ca else [], _ders(cert)[0] if cert else None,
                                  _ders(key)[0] if key else None, verify)
    except (ValueError, OSError) as e:
        raise ConnectorError(CONFIG_ERROR, "unusable TLS certificate or key: %s" % _text(e), {"reason": _text(e)})


def _ders(data):
    """PEM or DER bytes -> list of DER blocks (MicroPython's mbedtls parses only DER)."""
    if isinstance(data, str):
        data = data.encode()
    if b"-----BEGIN" not in data:
        return [bytes(data)]
    import binascii

    out = []
    pos = 0
    while True:
        start = data.find(b"-----BEGIN", pos)
        if start < 0:
            break
        body = data.find(b"\n", start) + 1
        end = data.find(b"-----END", body)
        if body <= 0 or end < 0:
            raise ValueError("truncated PEM block")
        out.append(binascii.a2b_base64(data[body:end]))
        pos = end + 8
    return out


async def open(host, port, ssl=None, server_hostname=None, timeout_ms=10000, hello=None):
    """Resolve `host` once, connect, finish the TLS handshake (if ssl) and send `hello`
    (bytes or None) first, all within timeout_ms. Returns a Stream."""
    details = {"host": host, "port": port}
    t0 = compat.ticks_ms()
    try:
        return await asyncio.wait_for(_open(host, port, ssl, server_hostname, timeout_ms, hello, t0, details),
                                      timeout_ms / 1000)
    except asyncio.TimeoutError:
        details["reason"] = "timed out after %d ms" % timeout_ms
        raise ConnectorError(TIMEOUT, "connecting to %s:%s timed out after %d ms" % (host, port, timeout_ms), details)


async def _open(host, port, ssl, server_hostname, timeout_ms, hello, t0, details):
    try:
        ai = await compat_net.resolve(host, port)
    except OSError as e:
        raise _fail(details, "name resolution failed: " + _text(e))
    try:
        left = timeout_ms - compat.ticks_diff(compat.ticks_ms(), t0)
        io, nodelay = await compat_net.connect(ai, ssl, server_hostname or host, hello, left)
    except (OSError, ValueError) as e:  # ValueError: MicroPython's certificate failures
        err = _fail(details, _reason(e, ssl))
        if _errname(e) == "ETIMEDOUT":  # MicroPython's blocking handshake hit its bound
            err.error = TIMEOUT
        raise err
    return Stream(io, details, nodelay)


class Stream:
    def __init__(self, io, details, nodelay):
        self._io = io
        self._details = details
        self._error = None
        self.nodelay = nodelay

    def write(self, data):
        """Buffer `data` (MicroPython sends what the socket takes at once). Never raises."""
        if self._error is None:
            try:
                compat_net.stream_write(self._io, data)
            except OSError as e:
                self._error = e

    async def drain(self):
        """Flush what write() buffered; ConnectorError(CONNECTION_FAILED) on a dead link."""
        if self._error is None:
            try:
                await compat_net.stream_drain(self._io)
                return
            except OSError as e:
                self._error = e
        raise self._lost(self._error)

    async def readinto(self, buf):
        """Read what is there (at least one byte) into buf; 0 at end of stream."""
        try:
            return await compat_net.stream_readinto(self._io, buf)
        except OSError as e:
            raise self._lost(e)

    async def read(self, n):
        """Up to n bytes, at least one; b"" at end of stream."""
        try:
            return await compat_net.stream_read(self._io, n)
        except OSError as e:
            raise self._lost(e)

    async def close(self):
        try:
            await compat_net.stream_close(self._io)
        except Exception:  # noqa: S110 - closing a dead link must not raise
            pass

    def _lost(self, e):
        d = dict(self._details)
        d["reason"] = _reason(e, None)
        return ConnectorError(CONNECTION_FAILED, "connection to %s:%s lost: %s" % (d["host"], d["port"], d["reason"]), d)


def _fail(details, reason):
    details["reason"] = reason
    return ConnectorError(CONNECTION_FAILED, "cannot connect to %s:%s: %s" % (details["host"], details["port"], reason),
                          details)


_ERRNO_TEXT = {
    "ECONNREFUSED": "connection refused",
    "ECONNRESET": "connection reset by peer",
    "ECONNABORTED": "connection aborted",
    "EPIPE": "connection closed by peer",
    "EHOSTUNREACH": "host unreachable",
    "ENETUNREACH": "network unreachable",
    "ETIMEDOUT": "timed out",
    "ENOTCONN": "not connected",
}


def _reason(e, tls):
    """A short human text for a connect/TLS/IO failure, the same wording on both
    interpreters where the cause is the same."""
    vm = getattr(e, "verify_message", None)  # CPython ssl.SSLCertVerificationError
    if vm:
        return "certificate verify failed: " + vm
    if isinstance(e, ValueError):  # MicroPython: mbedtls' verify text in a ValueError
        return "certificate verify failed: " + _text(e)
    r = getattr(e, "reason", None)  # CPython ssl.SSLError (its args[0] is no errno)
    if r:
        return "TLS error: %s" % r
    code = e.args[0] if e.args else None
    if isinstance(code, int) and code < 0:  # MicroPython: mbedtls' code, maybe its name
        name = e.args[1] if len(e.args) > 1 else _MBEDTLS.get(code, "mbedtls error -0x%04x" % -code)
        return "TLS error: %s" % name
    name = _errname(e)
    if name:
        return ("%s during TLS handshake (%s)" if tls else "%s (%s)") % (_ERRNO_TEXT.get(name, name), name)
    return _text(e)


# The mbedtls codes a client meets without their name (read/write errors carry only the number).
_MBEDTLS = {
    -0x7780: "fatal alert from the peer (MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)",
    -0x7880: "peer sent close_notify (MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)",
    -0x7600: "CA chain required (MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED)",
    -0x2700: "certificate verify failed (MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)",
}


def _text(e):
    t = " ".join(str(a).strip() for a in e.args if not isinstance(a, int)) if e.args else ""
    return t or type(e).__name__


def _errname(e):
    code = e.args[0] if isinstance(e, OSError) and e.args else None
    if not isinstance(code, int):
        return None
    import errno

    # MicroPython's errno lacks some names: look ours up first; EPIPE is 32 on Linux and
    # on newlib (ESP32) alike, and MicroPython raises it writing to a closed link.
    for name in _ERRNO_TEXT:
        if getattr(errno, name, 32 if name == "EPIPE" else None) == code:
            return name
    return errno.errorcode.get(code)
