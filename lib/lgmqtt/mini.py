# A minimal MQTT 3.1.1 publisher for the firmware skeleton: connect, publish QoS 0/1,
# ping, disconnect. It exists so the walking skeleton runs end to end; the protocol core
# (session) and the client replace it. One write per packet; every wait is bounded.
import asyncio
import struct

from lgmqtt import compat
from lgmqtt.errors import ConnectorError, CONNECTION_FAILED, AUTHENTICATION_FAILED, PROTOCOL_ERROR, TIMEOUT


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | 0x80 if n else b)
        if not n:
            return out


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def _packet(first, body):
    return bytes([first]) + _varint(len(body)) + body


class MiniClient:
    def __init__(self, host, port, client_id, keepalive=60, username=None, password=None, timeout_ms=10000):
        self.host, self.port = host, port
        self.client_id = client_id
        self.keepalive = keepalive
        self._user, self._pw = username, password
        self.timeout_ms = timeout_ms
        self.reader = self.writer = None
        self._pid = 0

    async def _with_timeout(self, aw, what):
        try:
            return await asyncio.wait_for(aw, self.timeout_ms / 1000)
        except asyncio.TimeoutError:
            raise ConnectorError(TIMEOUT, "%s timed out after %d ms" % (what, self.timeout_ms),
                                 {"host": self.host, "port": self.port})

    async def connect(self):
        try:
            await self._connect()
        except OSError as e:
            # MicroPython's open_connection returns before a non-blocking connect has
            # finished: a refused connection shows up at the first write instead.
            raise ConnectorError(CONNECTION_FAILED, "cannot connect to %s:%d (%s)" % (self.host, self.port, e),
                                 {"host": self.host, "port": self.port, "reason": str(e)})

    async def _connect(self):
        self.reader, self.writer = await self._with_timeout(asyncio.open_connection(self.host, self.port), "connect")
        compat.set_nodelay(self.writer)
        flags = 0x02
        payload = _str(self.client_id)
        if self._user is not None:
            flags |= 0x80
            payload += _str(self._user)
            if self._pw is not None:
                flags |= 0x40
                payload += _str(self._pw)
        body = _str("MQTT") + bytes([4, flags]) + struct.pack("!H", self.keepalive) + payload
        await self._send(_packet(0x10, body))
        first, body = await self._with_timeout(self._read_packet(), "CONNACK")
        if first != 0x20 or len(body) != 2:
            raise ConnectorError(PROTOCOL_ERROR, "expected CONNACK", {"host": self.host, "port": self.port})
        if body[1] in (4, 5):
            raise ConnectorError(AUTHENTICATION_FAILED, "broker refused credentials (code %d)" % body[1],
                                 {"username": self._user, "reason": "return code %d" % body[1]})
        if body[1]:
            raise ConnectorError(CONNECTION_FAILED, "broker refused connection (code %d)" % body[1],
                                 {"host": self.host, "port": self.port, "reason": "return code %d" % body[1]})

    async def _send(self, data):
        self.writer.write(data)
        await self.writer.drain()

    async def _read_packet(self):
        first = (await self.reader.readexactly(1))[0]
        n, shift = 0, 0
        while True:
            b = (await self.reader.readexactly(1))[0]
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
            if shift > 21:
                raise ConnectorError(PROTOCOL_ERROR, "bad remaining length", {})
        body = await self.reader.readexactly(n) if n else b""
        return first, body

    async def publish(self, topic, payload, qos=0, retain=False):
        body = _str(topic)
        pid = 0
        if qos:
            self._pid = self._pid % 65535 + 1
            pid = self._pid
            body += struct.pack("!H", pid)
        await self._send(_packet(0x30 | (qos << 1) | (1 if retain else 0), body + payload))
        if qos:
            while True:  # the skeleton has no subscriptions: only PUBACK/PINGRESP arrive
                first, body = await self._with_timeout(self._read_packet(), "PUBACK")
                if first == 0x40 and struct.unpack("!H", body)[0] == pid:
                    return pid
        return pid

    async def close(self):
        if self.writer:
            try:
                await self._send(b"\xe0\x00")
                self.writer.close()
                await self.writer.wait_closed()
            except OSError:
                pass
            self.writer = None
