# TCP and TLS streams for the client, the same API on CPython and MicroPython.
#
#   ctx = tls_context(ca=None, cert=None, key=None, verify=True)
#   stream = await open(host, port, ssl=ctx, server_hostname=None, timeout_ms=10000, hello=None)
#   stream.write(data); await stream.drain()
#   stream.pending()                                                # drain() has work to do
#   n = await stream.readinto(buf); data = await stream.read(n)    # 0 / b"" at end of stream
#   await stream.close()                                            # never raises
#   stream.nodelay                                                  # TCP_NODELAY was set
#
# Errors: open() raises ConnectorError(CONNECTION_FAILED) when the board has no socket
# module (details.reason "no network module"; socket is imported only then, so the
# connector imports and queues offline without one), when the name does not resolve,
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

from lgmqtt import compat
from lgmqtt.compat import const
from lgmqtt.errors import CONNECTION_FAILED, TIMEOUT, ConnectorError

if compat.MICROPYTHON:
    from lgmqtt.net import streams
else:
    from lgmqtt.net import cpython as streams

_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)  # the unix port's socket module lacks the names; values are Linux's and lwIP's


def _nodelay(sock):
    # one write per packet is only as good as the peer's ACK: never wait for Nagle
    try:
        sock.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        return True
    except (OSError, AttributeError):
        return False


def tls_context(ca=None, cert=None, key=None, verify=True):
    """A client TLS context (see tlsconf.tls_context: loaded only when TLS is used)."""
    from lgmqtt.net.tls import tls_context as make

    return make(ca, cert, key, verify)


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
        ai = await streams.resolve(host, port)
    except ImportError:  # no socket module on this board (RPI_PICO): nothing to connect with
        raise _fail(details, "no network module")
    except OSError as e:
        raise _fail(details, "name resolution failed: " + _text(e))
    try:
        left = timeout_ms - compat.ticks_diff(compat.ticks_ms(), t0)
        io, nodelay = await streams.connect(ai, ssl, server_hostname or host, hello, left, _nodelay)
    except (OSError, ValueError) as e:  # ValueError: MicroPython's certificate failures
        err = _fail(details, _reason(e, ssl))
        if _errname(e) == "ETIMEDOUT":  # MicroPython's blocking handshake hit its bound
            err.error = TIMEOUT
        raise err
    return Stream(io, details, nodelay)


class Stream:
    # Safe to write and drain from several tasks (the client's reader, writer, publishers
    # and supervisor all do). MicroPython's asyncio Stream is not: drain() drops what
    # write() adds while it waits for the socket, and its I/O queue keeps one waiting
    # writer per socket, so a second drain() would wait for ever. So one drain runs at a
    # time; what is written meanwhile waits in _later and goes out, in order, before that
    # drain returns; a drain called meanwhile waits for it and is done.
    def __init__(self, io, details, nodelay):
        self._io = io
        self._details = details
        self._error = None
        self.nodelay = nodelay
        self._later = None        # bytes written while a drain runs (a list), or None
        self._idle = asyncio.Event()
        self._idle.set()          # clear while a drain runs

    def write(self, data):
        """Buffer `data` (MicroPython sends what the socket takes at once). Never raises."""
        if self._error is None:
            if not self._idle.is_set():
                if self._later is None:
                    self._later = []
                self._later.append(bytes(data))  # the caller may reuse its buffer
                return
            try:
                streams.stream_write(self._io, data)
            except OSError as e:
                self._error = e

    def pending(self):
        """True while write() left bytes that only drain() sends (or an error that only
        drain() raises)."""
        return (self._error is not None or not self._idle.is_set() or self._later is not None
                or streams.stream_pending(self._io))

    async def drain(self):
        """Flush what write() buffered; ConnectorError(CONNECTION_FAILED) on a dead link."""
        if not self._idle.is_set():
            # Another task's drain runs: it sends what we wrote too (before it started,
            # or in _later), so when it is done ours are out (or the link is dead).
            await self._idle.wait()
            if self._error is None:
                return
        elif self._error is None:
            self._idle.clear()
            try:
                while True:
                    await streams.stream_drain(self._io)
                    later, self._later = self._later, None
                    if later is None:
                        return
                    for d in later:
                        streams.stream_write(self._io, d)
            except OSError as e:
                self._error = e
            finally:
                self._idle.set()
                later, self._later = self._later, None
                if later is not None and self._error is None:
                    # cancelled mid-drain: hand them to the stream now, ahead of any
                    # later write (the next drain sends them)
                    for d in later:
                        self.write(d)
        raise self._lost(self._error)

    async def readinto(self, buf):
        """Read what is there (at least one byte) into buf; 0 at end of stream."""
        try:
            return await streams.stream_readinto(self._io, buf)
        except OSError as e:
            raise self._lost(e)

    async def read(self, n):
        """Up to n bytes, at least one; b"" at end of stream."""
        try:
            return await streams.stream_read(self._io, n)
        except OSError as e:
            raise self._lost(e)

    async def close(self):
        try:
            await streams.stream_close(self._io)
        except MemoryError:
            self.abort()  # not even the heap for the close's own coroutine
        except Exception:  # noqa: S110 - closing a dead link must not raise
            pass

    def abort(self):
        """Close now, without waiting and without allocating (what is left when the heap
        is out: the socket and its TLS buffers go). Never raises."""
        try:
            streams.stream_abort(self._io)
        except Exception:  # noqa: S110 - as close()
            pass

    def _lost(self, e):
        d = dict(self._details)
        d["reason"] = _reason(e, None)
        return ConnectorError(CONNECTION_FAILED, "connection to %s:%s lost: %s" % (d["host"], d["port"], d["reason"]), d)


def _fail(details, reason):
    details["reason"] = reason
    return ConnectorError(CONNECTION_FAILED, "cannot connect to %s:%s: %s" % (details["host"], details["port"], reason),
                          details)


def _reason(e, tls):
    # The wording of failures loads only when something failed (neterr.py).
    from lgmqtt.net.neterr import reason

    return reason(e, tls)


def _text(e):
    from lgmqtt.net.neterr import text

    return text(e)


def _errname(e):
    from lgmqtt.net.neterr import errname

    return errname(e)
