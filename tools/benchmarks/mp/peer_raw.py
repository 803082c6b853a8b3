# The ceilings: hand-written minimal MQTT over asyncio streams, in the bench. Prebuilt
# PUBLISH bytes with the packet id patched in, TCP_NODELAY on (as lgmqtt sets it), no
# checks, no state beyond counters. Lock-step: one message, its ack, the next; windowed:
# up to w unacknowledged, a reader task counting acks (and answering PUBREC with PUBREL).
import asyncio
import struct

_PUBACK, _PUBREC, _PUBCOMP = 0x40, 0x50, 0x70


class Peer:
    def load(self):
        pass

    def unsupported(self, qos, window, version):
        return None

    async def connect(self, host, port, cid, version, window):
        self.r, self.w = await asyncio.open_connection(host, port)
        self.w.s.setsockopt(6, 1, 1)  # IPPROTO_TCP, TCP_NODELAY (the unix port lacks the names)
        self.v5 = version == 5
        cid = cid.encode()
        body = b"\x00\x04MQTT" + bytes([version]) + b"\x02\x00\x3c" + (b"\x00" if self.v5 else b"") \
            + struct.pack("!H", len(cid)) + cid
        self.w.write(bytes([0x10, len(body)]) + body)
        await self.w.drain()
        kind, b = await self._read()
        if kind != 0x20 or b[1]:
            raise OSError("raw: CONNACK refused (%r)" % bytes(b))

    async def _read(self):
        r = self.r
        h = await r.readexactly(2)
        n = h[1]
        if n & 0x80:  # a longer remaining length (only a CONNACK with properties)
            n &= 0x7F
            shift = 7
            while True:
                b = (await r.readexactly(1))[0]
                n |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
        return h[0], (await r.readexactly(n) if n else b"")

    def _template(self, topic, payload, qos):
        # -> (packet bytearray, offset of its packet id)
        t = topic.encode()
        vh = struct.pack("!H", len(t)) + t
        off = 2 + len(vh)
        if qos:
            vh += b"\x00\x00"
        if self.v5:
            vh += b"\x00"  # no properties
        body = vh + payload
        if len(body) > 127:
            raise ValueError("raw: PUBLISH too long for its 1-byte length")
        return bytearray(bytes([0x30 | qos << 1, len(body)]) + body), off

    async def publish(self, topic, payload, qos):
        pkt, off = self._template(topic, payload, qos)
        pkt[off + 1] = 1
        self.w.write(pkt)
        await self.w.drain()
        await self._acked(qos, 1)

    async def _acked(self, qos, pid):
        if qos == 1:
            await self._read()
        elif qos == 2:
            await self._read()
            self.w.write(bytes([0x62, 2, pid >> 8, pid & 0xFF]))
            await self.w.drain()
            await self._read()

    async def serial(self, topic, payload, qos, n, expired):
        pkt, off = self._template(topic, payload, qos)
        w = self.w
        sent = pid = 0
        if qos == 0:  # a stream: write() sends at once while the buffer is empty; drain
            while sent < n:  # (which always yields) once per 32 messages
                w.write(pkt)
                sent += 1
                if not sent & 31:
                    await w.drain()
                    if expired():
                        break
            await w.drain()
            return sent
        while sent < n:
            if qos:
                pid = pid % 65535 + 1
                pkt[off] = pid >> 8
                pkt[off + 1] = pid & 0xFF
            w.write(pkt)
            await w.drain()
            await self._acked(qos, pid)
            sent += 1
            if not sent & 15 and expired():
                break
        return sent

    async def window(self, topic, payload, qos, n, window, expired):
        pkt, off = self._template(topic, payload, qos)
        w = self.w
        free = asyncio.Event()
        st = [0, 0]  # issued, completed

        async def reader():
            while True:
                kind, b = await self._read()
                kind &= 0xF0
                if kind == _PUBREC:
                    w.write(bytes([0x62, 2, b[0], b[1]]))  # sent at once when the buffer is empty
                elif kind == _PUBACK or kind == _PUBCOMP:
                    st[1] += 1
                    free.set()

        rt = asyncio.create_task(reader())
        pid = 0
        try:
            while st[0] < n and not expired():
                if st[0] - st[1] >= window:
                    free.clear()
                    await free.wait()
                    continue
                pid = pid % 65535 + 1
                pkt[off] = pid >> 8
                pkt[off + 1] = pid & 0xFF
                w.write(pkt)
                await w.drain()
                st[0] += 1
            while st[1] < st[0]:
                free.clear()
                await free.wait()
                await w.drain()  # a PUBREL the reader left in the buffer
        finally:
            rt.cancel()
        return st[1]

    async def disconnect(self):
        self.w.write(b"\xe0\x00")
        await self.w.drain()
        self.w.close()
        await self.w.wait_closed()


def make(arg):
    return Peer()
