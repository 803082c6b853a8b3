# A small scriptable MQTT broker on a real TCP socket, for tests of what a misbehaving
# broker can make the client do. Runs under both interpreters (asyncio.start_server).
#
#   async def script(conn, n):          # n: 1 for the first connection, 2 for the next...
#       p = await conn.expect(codec.CONNECT)
#       await conn.send(codec.encode_connack(4, False, 0))
#       ...
#   b = await Hostile(port, script).start()
#   ... b.connections, b.packets (every packet the clients sent, decoded), b.errors
#   await b.stop()
#
# The script decides everything (no policy here). It ends the connection by returning.
import asyncio

import mqttcodec as codec


class Conn:
    def __init__(self, broker, reader, writer):
        self.b = broker
        self.r = reader
        self.w = writer
        self.dec = codec.Decoder(4, 1 << 24, server_side=True)
        self.eof = False

    async def recv(self, timeout=5):
        """The next packet from the client; None at end of stream or after `timeout` s."""
        while True:
            p = self.dec.next_packet()
            if p is not None:
                self.b.packets.append(p)
                return p
            if self.eof:
                return None
            try:
                data = await asyncio.wait_for(self.r.read(4096), timeout)
            except asyncio.TimeoutError:
                return None
            if not data:
                self.eof = True
                continue
            self.dec.feed(data)

    async def expect(self, ptype, timeout=5):
        p = await self.recv(timeout)
        if p is None or p.type != ptype:
            raise AssertionError("expected packet type %d, got %r" % (ptype, p))
        return p

    async def until(self, ptype, timeout=5):
        """Read (answering PINGREQ) until a packet of ptype; None if it never comes."""
        while True:
            p = await self.recv(timeout)
            if p is None or p.type == ptype:
                return p
            if p.type == codec.PINGREQ:
                await self.send(codec.encode_pingresp())

    async def send(self, data):
        self.w.write(data)
        await self.w.drain()

    async def idle(self, seconds):
        """Answer pings and read (and record) what comes, for `seconds`."""
        t = 0.0
        while t < seconds and not self.eof:
            p = await self.recv(0.1)
            t += 0.1
            if p is not None and p.type == codec.PINGREQ:
                await self.send(codec.encode_pingresp())


class Hostile:
    def __init__(self, port, script):
        self.port = port
        self.script = script
        self.connections = 0
        self.packets = []
        self.errors = []
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        return self

    async def _handle(self, reader, writer):
        self.connections += 1
        conn = Conn(self, reader, writer)
        try:
            await self.script(conn, self.connections)
        except Exception as e:  # noqa: B902 - reported to the test through .errors
            self.errors.append(repr(e))
        finally:
            try:
                writer.close()
                await writer.wait_closed()
            except Exception:  # noqa: S110 - the client may have gone first
                pass

    def of_type(self, ptype):
        return [p for p in self.packets if p.type == ptype]

    async def stop(self):
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def connack(conn, version=4, present=False, props=None):
    """Read the CONNECT and accept it."""
    p = await conn.expect(codec.CONNECT)
    conn.dec.version = p.proto_level if p.proto_level in (4, 5) else 4
    await conn.send(codec.encode_connack(version, present, 0, props))
    return p
