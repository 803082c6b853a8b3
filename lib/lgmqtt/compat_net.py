# The network half of compat: sockets, TLS and asyncio streams differ between MicroPython
# and CPython more than anything else, and only transport.py needs them. Kept out of
# compat.py so that pure modules importing compat do not pull in asyncio and socket
# (about 8 KB of heap on the unix port).
from lgmqtt.compat import MICROPYTHON, const

_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)  # the unix port's socket module lacks the names; values are Linux's and lwIP's

# The two asyncio implementations differ here:
# MicroPython's open_connection resolves with a blocking getaddrinfo, does not report a
# refused connect (it only waits for writability, which an error also gives), and leaves
# the TLS handshake to the first read or write; CPython's streams do all of it. So each
# side gets its own `connect`, and the Stream methods that differ.

if MICROPYTHON:
    import asyncio as _aio
    import errno as _errno
    import select as _select
    import socket as _socket
    from asyncio import core as _core

    def _wait_writable(s):
        # The IO queue wakes a writer on POLLOUT and on POLLERR/POLLHUP/POLLNVAL too, so a
        # failed connect or a TLS error ends the wait as well (as in asyncio/stream.py).
        yield _core._io_queue.queue_write(s)

    def _wait_readable(s):
        yield _core._io_queue.queue_read(s)

    async def resolve(host, port):
        # Blocking on the boards (lwIP's DNS) and on the unix port (libc): bounded only by
        # the resolver's own timeout. A numeric address is parsed without a lookup by both,
        # and the unix port's connect() takes only the sockaddr bytes getaddrinfo builds.
        return _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)[0]

    async def connect(ai, ssl, server_hostname, hello, block_ms):
        """Connect to one getaddrinfo entry; return (stream, nodelay). `hello` (bytes or
        None) is written first: with TLS it drives the handshake without blocking the loop.
        block_ms bounds a handshake that must block (TLS without hello)."""
        s = _socket.socket(ai[0], ai[1], ai[2])
        try:
            s.setblocking(False)
            try:
                s.connect(ai[-1])
            except OSError as e:
                if e.errno != _errno.EINPROGRESS:  # 115 on Linux, 119 on newlib (ESP32)
                    raise
            await _wait_writable(s)
            _check_connected(s)
            nodelay = _nodelay(s)
            if ssl:
                s = _tls(s, ssl, server_hostname, hello, block_ms)
                if hello:
                    await _tls_first_write(s, hello)
                    hello = None
            stream = _aio.StreamWriter(s, {})
            if hello:
                stream.write(hello)  # sends now; keeps what the socket did not take for drain()
            return stream, nodelay
        except BaseException:  # noqa: B036 - includes cancellation by the timeout
            s.close()
            raise

    def _check_connected(s):
        # Writable also means "the connect failed". The unix port has no getsockopt(SO_ERROR);
        # a zero-byte send() raises the pending error (ECONNREFUSED...) and is a no-op on a
        # good socket. Should a port's send() not report it, POLLERR/POLLHUP still does.
        s.send(b"")
        p = _select.poll()
        p.register(s, _select.POLLOUT)
        for _, ev in p.poll(0):
            if ev & (_select.POLLERR | _select.POLLHUP):
                raise OSError(_errno.ECONNREFUSED)

    def _tls(s, ctx, server_hostname, hello, block_ms):
        if hello:
            return ctx.wrap_socket(s, server_hostname=server_hostname, do_handshake_on_connect=False)
        # No first bytes to drive it: hand-shake now on a blocking socket whose timeout
        # bounds the wait (this blocks the loop for up to that long; the crypto blocks it
        # anyway on a board). wrap_socket busy-waits forever on a non-blocking socket.
        s.setblocking(True)
        s.settimeout(max(block_ms, 1) / 1000)
        ss = ctx.wrap_socket(s, server_hostname=server_hostname, do_handshake_on_connect=True)
        ss.setblocking(False)
        return ss

    async def _tls_first_write(ss, data):
        # mbedtls runs the handshake inside write(): None means "would block" (EAGAIN), and
        # polling the TLS socket for writing waits for whichever direction mbedtls needs.
        # A zero-length write never reaches mbedtls (the stream layer skips it), hence hello.
        mv = memoryview(data)
        off = 0
        while off < len(mv):
            n = ss.write(mv[off:])
            if n is None:
                await _wait_writable(ss)
            else:
                off += n

    async def stream_readinto(w, buf):
        # asyncio's Stream.readinto returns None when a TLS socket was readable but held no
        # whole record yet; loop until data, EOF (0) or an error.
        s = w.s
        while True:
            await _wait_readable(s)
            n = s.readinto(buf)
            if n is not None:
                return n

    def stream_read(w, n):
        return w.read(n)

    def stream_write(w, data):
        w.write(data)  # may send at once and raise OSError on a dead socket

    async def stream_drain(w):
        await w.drain()

    async def stream_close(w):
        w.s.close()

else:
    import asyncio as _aio
    import socket as _socket

    async def resolve(host, port):
        # Runs in the loop's executor thread: never blocks the loop.
        ai = await _aio.get_running_loop().getaddrinfo(host, port, type=_socket.SOCK_STREAM)
        return ai[0]

    async def connect(ai, ssl, server_hostname, hello, block_ms):
        loop = _aio.get_running_loop()
        s = _socket.socket(ai[0], ai[1], ai[2])
        try:
            s.setblocking(False)
            await loop.sock_connect(s, ai[4])
            nodelay = _nodelay(s)
            r, w = await _aio.open_connection(sock=s, ssl=ssl, server_hostname=server_hostname if ssl else None)
        except BaseException:
            s.close()
            raise
        if hello:
            w.write(hello)
        return (r, w), nodelay

    async def stream_readinto(rw, buf):
        data = await rw[0].read(len(buf))
        n = len(data)
        buf[:n] = data
        return n

    def stream_read(rw, n):
        return rw[0].read(n)

    def stream_write(rw, data):
        rw[1].write(data)

    async def stream_drain(rw):
        await rw[1].drain()

    async def stream_close(rw):
        w = rw[1]
        w.close()
        # A TLS close waits for the peer's close_notify (up to 30 s by default): bound it.
        await _aio.wait_for(w.wait_closed(), 1)


def _nodelay(sock):
    try:
        sock.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        return True
    except (OSError, AttributeError):
        return False


def tls_context(cas, cert, key, verify):
    """A client TLS context. cas: list of DER certificates; cert, key: DER or None
    (transport.tls_context converts PEM). verify: CERT_REQUIRED and the host name
    checked against server_hostname; else CERT_NONE."""
    if MICROPYTHON:
        import tls

        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        # The unix port's mbedtls has no PEM parser, hence DER. Without a CA, CERT_REQUIRED
        # fails every handshake (MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED): no system store here.
        ctx.verify_mode = tls.CERT_REQUIRED if verify else tls.CERT_NONE
        for ca in cas:
            ctx.load_verify_locations(ca)  # each call adds to the chain
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx
    import os
    import ssl
    import tempfile

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        for ca in cas:
            ctx.load_verify_locations(cadata=ca)
        if not cas:
            ctx.load_default_certs()
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        # CPython loads a client certificate only from a file: write one for the call.
        fd, path = tempfile.mkstemp(suffix=".pem")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(ssl.DER_cert_to_PEM_cert(cert))
                f.write(_pem(_key_label(key), key))
            ctx.load_cert_chain(path)
        finally:
            os.unlink(path)
    return ctx


def _key_label(der):
    # The PEM label OpenSSL wants for a DER key, from the element after the version number:
    # PKCS#8 has an AlgorithmIdentifier (SEQUENCE), SEC1 an OCTET STRING, PKCS#1 an INTEGER.
    pos = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)  # outer SEQUENCE header
    pos += 2 + der[pos + 1]  # version INTEGER (short form)
    return {0x30: "PRIVATE KEY", 0x04: "EC PRIVATE KEY", 0x02: "RSA PRIVATE KEY"}.get(der[pos], "PRIVATE KEY")


def _pem(label, der):
    import base64

    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)
