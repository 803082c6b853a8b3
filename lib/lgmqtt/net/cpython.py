# The CPython half of lgmqtt.net.transport (see lgmqtt.net.streams, the MicroPython half): asyncio streams over a socket we
# connect ourselves, so that TCP_NODELAY is set before the first byte.
import asyncio as _aio



async def resolve(host, port):
    # Runs in the loop's executor thread: never blocks the loop. socket is imported
    # here, not at load, as in compat_net (a missing module is CONNECTION_FAILED).
    import socket as _socket

    ai = await _aio.get_running_loop().getaddrinfo(host, port, type=_socket.SOCK_STREAM)
    return ai[0]


async def connect(ai, ssl, server_hostname, hello, block_ms, nodelay):
    import socket as _socket

    loop = _aio.get_running_loop()
    s = _socket.socket(ai[0], ai[1], ai[2])
    try:
        s.setblocking(False)
        await loop.sock_connect(s, ai[4])
        nodelay = nodelay(s)
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


def stream_pending(rw):
    return rw[1].transport.get_write_buffer_size() > 0


async def stream_close(rw):
    w = rw[1]
    w.close()
    # A TLS close waits for the peer's close_notify (up to 30 s by default): bound it.
    await _aio.wait_for(w.wait_closed(), 1)


def stream_abort(rw):
    rw[1].transport.abort()
