# The MicroPython half of lgmqtt.net.transport: sockets and asyncio streams differ
# between MicroPython and CPython more than anything else, and only the transport needs
# them (the CPython half is lgmqtt.net.cpython; transport imports the one it runs on, and
# the halves know nothing of each other). A board loads neither the CPython half nor the
# TLS module (lgmqtt.net.tls) unless it uses TLS.
#
# MicroPython's open_connection resolves with a blocking getaddrinfo, does not report a
# refused connect (it only waits for writability, which an error also gives), and leaves
# the TLS handshake to the first read or write; CPython's streams do all of it. So each
# half has its own `connect`, and the stream methods that differ.
import asyncio as _aio
import errno as _errno
import select as _select
from asyncio import core as _core


def _net():
    # socket is imported at the first connect, not at load: a board without
    # networking (RPI_PICO) must still import the connector, queue to the outbox
    # and read history. transport.py turns the ImportError into CONNECTION_FAILED.
    import socket

    return socket


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
    net = _net()
    return net.getaddrinfo(host, port, 0, net.SOCK_STREAM)[0]


async def connect(ai, ssl, server_hostname, hello, block_ms, nodelay):
    """Connect to one getaddrinfo entry; return (stream, nodelay). `hello` (bytes or
    None) is written first: with TLS it drives the handshake without blocking the loop.
    block_ms bounds a handshake that must block (TLS without hello)."""
    s = _net().socket(ai[0], ai[1], ai[2])
    try:
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as e:
            if e.errno != _errno.EINPROGRESS:  # 115 on Linux, 119 on newlib (ESP32)
                raise
        await _wait_writable(s)
        _check_connected(s)
        nodelay = nodelay(s)
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


def stream_pending(w):
    return bool(w.out_buf)  # what write() could not hand to the socket at once


async def stream_close(w):
    w.s.close()


def stream_abort(w):
    w.s.close()
