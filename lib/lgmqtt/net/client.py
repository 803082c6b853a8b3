# The asyncio client: drives the sans-I/O Session over a transport stream and
# supervises the link (connect, keepalive, reconnect with backoff, broker failover).
#
# Tasks: one supervisor task owns the link. While connected it runs a reader (bytes ->
# session events) and a timer (keepalive, ack timeouts); commands from callers run in
# the caller's task and write the session's outbound bytes directly (one write call per
# batch, drained only when the stream buffers too much). Every waiter (CONNACK, PUBACK,
# SUBACK...) is one Event, set by the reader: no polling anywhere.
import asyncio

from lgmqtt.mqtt import session as S
from lgmqtt.net import transport
from lgmqtt.net.brokers import BrokerList
from lgmqtt.compat import ticks_ms
from lgmqtt.errors import (ConnectorError, CALLBACK_ERROR, NOT_CONNECTED, PAYLOAD_TOO_LARGE, PUBLISH_REFUSED,
                           TIMEOUT, internal)
from lgmqtt.net.supervisor import (ACK_TIMEOUT, CONNECTED, DISCONNECTED, ERROR, GAVE_UP, MESSAGE,  # noqa: F401 (API)
                               PUBLISHED, PUBREC, WARNING, Supervisor, _sleep_ms, reason_name)

# MicroPython's asyncio imports wait_for, Event and the stream classes on first use:
# import them now, with the rest of the client, not in the middle of a reconnect when
# the heap may no longer have room to load a module.
asyncio.wait_for, asyncio.Event, asyncio.StreamWriter  # noqa: B018

ACK_TIMEOUT_MS = 30000  # default ackTimeout: a broker that never acknowledges cannot hold write() for ever


def refused(topic, rc):
    """The error for a message the broker refused with reason code rc (>= 0x80)."""
    return ConnectorError(PUBLISH_REFUSED, "broker refused the message: %s" % reason_name(rc),
                          {"topic": topic, "reasonCode": rc})


def gave_up(topic, strikes):
    """The error for a message after which the link died `strikes` times before its ack."""
    return ConnectorError(PUBLISH_REFUSED, "the broker closed the connection %d times in a row before acknowledging "
                          "this message (3.1.1 cannot say why: above its maximum packet size or QoS?)" % strikes,
                          {"topic": topic, "strikes": strikes})


class _Waiter:
    # One per outstanding request: the reader sets it with a result or an error.
    def __init__(self):
        self.ev = asyncio.Event()
        self.result = None
        self.error = None
        self.topic = None

    def set(self, result=None, error=None):
        self.result, self.error = result, error
        self.ev.set()

    async def wait(self):
        await self.ev.wait()
        if self.error is not None:
            raise self.error
        return self.result


class Client:
    def __init__(self, cfg, on_event=None, opener=None):
        """cfg: the connector's `config` section (host, port, protocol, brokers, clientId, ...)."""
        self.cfg = cfg
        self.on_event = on_event
        self._open = opener or transport.open
        self.brokers = BrokerList(cfg)
        will = cfg.get("will")
        self.session = S.Session(
            client_id=cfg.get("clientId", ""), version=cfg.get("protocolVersion", 4),
            keepalive=cfg.get("keepalive", 60), clean_start=cfg.get("clean", True),
            username=cfg.get("username"), password=cfg.get("password"), will=will,
            connect_props=cfg.get("connectProperties"), max_packet_size=cfg.get("maxPacketSize", 65536),
            receive_maximum=cfg.get("receiveMaximum", S.RECEIVE_MAXIMUM), topic_alias_maximum=cfg.get("topicAliasMaximum", 16),
            max_inflight=cfg.get("maxInflight", 20), ack_timeout_ms=cfg.get("ackTimeout", ACK_TIMEOUT_MS))
        self._link = Supervisor(self)  # the loop that keeps the link up (composed, not inherited)
        self._stream = None
        self._buf = bytearray(cfg.get("readBufferSize", 1024))
        self._sup = None
        self._stop = False
        self._connected = asyncio.Event()
        self._first = None           # _Waiter for the first connect() outcome
        self._pub_waiters = {}
        self._req_waiters = {}
        self._subs = {}
        self._switching = False
        self._window_free = asyncio.Event()
        self._out_ready = asyncio.Event()
        self._coalesce = cfg.get("coalesceBytes", 1024)
        self._link_dead = asyncio.Event()
        self._up = False              # a `connected` was emitted; its `disconnected` is still due
        self.last_error = None
        self.reconnects = 0
        self.attempts = 0

    # ---- events -------------------------------------------------------------------
    def _emit(self, kind, info):
        if self.on_event is not None:
            try:
                self.on_event(kind, info)
            except Exception as e:  # a user callback must not break the link
                if kind != ERROR:
                    self._emit(ERROR, ConnectorError(CALLBACK_ERROR, "event callback failed: %r" % e, {"event": kind}))

    # ---- public API ---------------------------------------------------------------
    @property
    def connected(self):
        return self.session.state == S.CONNECTED

    def status(self):
        s = self.session
        return {"connected": self.connected, "state": s.state_name(), "broker": self.brokers.current_name(),
                "brokerIndex": self.brokers.index, "clientId": s.client_id, "protocolVersion": s.version,
                "sessionPresent": s.session_present, "inflight": s.inflight_count(), "reconnects": self.reconnects,
                "lastError": self.last_error.to_dict() if self.last_error else None}

    async def connect(self):
        """Connect (and keep reconnecting until disconnect()). Returns once connected;
        raises the first failure's ConnectorError (the supervisor keeps trying)."""
        if self._sup is None:
            self._stop = False
            self._first = _Waiter()
            self._sup = asyncio.create_task(self._link.supervise())
        if self.connected:
            return
        if self._first is None:
            self._first = _Waiter()
        await self._first.wait()

    async def wait_connected(self, timeout_ms=None):
        if timeout_ms is None:
            await self._connected.wait()
        else:
            await asyncio.wait_for(self._connected.wait(), timeout_ms / 1000)

    async def window_ready(self, qos):
        """Backpressure: wait until a QoS 1/2 PUBLISH may go on the wire (at once when
        the link is down: the session then keeps it for the next connection)."""
        s = self.session
        while qos and s.state == S.CONNECTED and s.window() <= 0:
            # wait for an ack to free the window instead of queueing without bound
            # (each queued message holds its encoded packet in RAM)
            self._window_free.clear()
            await self._window_free.wait()

    def check_publish(self, topic, qos, retain, size):
        """Raise what the connected broker said it cannot take (QoS, retain, packet
        size) for a PUBLISH of `size` bytes, before a message is stored anywhere."""
        self.session.check_limits(topic, qos, retain, size)

    def publish_packet_nowait(self, packet):
        """Queue an encoded PUBLISH (packet id 0 for QoS 1/2: see
        Session.publish_packet) and schedule the write; returns its packet id (None for
        QoS 0) before anything can yield, so the caller can map the id to its message
        before the acknowledgement can possibly arrive."""
        s = self.session
        pid = s.publish_packet(packet, ticks_ms())
        if packet[0] & 6 == 2 and s.inflight_count() == 1:
            # a lone QoS 1 message goes out now (see _write_now): its ack cannot come
            # before the caller's next yield, so the caller still maps the id first.
            # QoS 2 always waits for the writer: the connector makes its packet id
            # durable before it may reach the wire.
            self._write_now()
        else:
            self._out_ready.set()  # the writer task sends it (coalesced) at the caller's next yield
        return pid

    async def send_packet(self, packet):
        """Send an encoded QoS 0 PUBLISH now (it is not kept if the link is down)."""
        self.session.publish_packet(packet, ticks_ms())
        await self._soon()

    async def publish(self, topic, payload, qos=0, retain=False, props=None, wait=True):
        """Publish; for QoS 1/2 returns the packet id once acknowledged (or at once with
        wait=False). QoS 1/2 is accepted while the link is down and sent after reconnect."""
        s = self.session
        if qos:  # (QoS 0 needs no window: no coroutine for it)
            await self.window_ready(qos)
        pid = s.publish(topic, payload, qos, retain, props, ticks_ms())
        if pid is None:
            # _soon inlined: one coroutine less per QoS 0 message
            if s.outbound_size >= self._coalesce:
                await self._flush()
            else:
                self._out_ready.set()
            return None
        w = _Waiter() if wait else None
        if w is not None:
            self._pub_waiters[pid] = w
        if s.inflight_count() == 1:
            self._write_now()
        else:
            await self._soon()
        if w is not None:
            w.topic = topic
            rc = await w.wait()
            if rc >= 0x80:
                raise refused(topic, rc)
        return pid

    async def subscribe(self, topics, props=None):
        """topics: [(filter, options)]; returns the granted QoS / reason codes, one per filter."""
        pid = self.session.subscribe(topics, props, ticks_ms())
        codes = await self._request(pid)
        for (filt, opts), rc in zip(topics, codes):
            if rc < 0x80:
                self._subs[filt] = opts  # resubscribed after a reconnect without a session
        return codes

    async def unsubscribe(self, topics, props=None):
        pid = self.session.unsubscribe(topics, props, ticks_ms())
        for filt in topics:
            self._subs.pop(filt, None)
        return await self._request(pid)

    async def _request(self, pid):
        # SUBACK/UNSUBACK must come within connectTimeout: a broker that keeps the link
        # alive but never answers must not hang the caller.
        w = _Waiter()
        self._req_waiters[pid] = w
        await self._flush()
        timeout = self.cfg.get("connectTimeout", 10000)
        try:
            return await asyncio.wait_for(w.wait(), timeout / 1000)
        except asyncio.TimeoutError:
            self._req_waiters.pop(pid, None)
            raise ConnectorError(TIMEOUT, "no answer to the request within %d ms" % timeout, {"packetId": pid})

    async def disconnect(self, reason_code=0):
        """Clean close: DISCONNECT sent, supervisor stopped, no reconnect."""
        self._stop = True
        was = self.connected
        if self._stream is not None and was:
            self.session.disconnect(reason_code, None, ticks_ms())
            try:
                await self._flush()
            except (OSError, ConnectorError):
                pass
        await self._stop_link("client disconnect" if was else None)
        self._fail_requests(ConnectorError(NOT_CONNECTED, "disconnected", {}))

    async def _stop_link(self, reason):
        # Shared by disconnect() and abort(): the link and the supervisor end here,
        # also when a connect attempt is still under way.
        self._link_dead.set()
        self._connected.clear()
        self._lost(False)               # in-flight records off the wire: counted afresh next time
        self._window_free.set()         # publishers blocked on the window re-check and queue
        await self._close_stream()
        sup, self._sup = self._sup, None
        if sup is not None:
            sup.cancel()
        if self._first is not None:  # a connect() still waiting for its first outcome
            self._first.set(error=ConnectorError(NOT_CONNECTED, "disconnected before connecting", {}))
            self._first = None
        self._disconnected(reason)

    def _disconnected(self, reason):
        # The one place `disconnected` is emitted: once per `connected`, never without one.
        if self._up:
            self._up = False
            self._emit(DISCONNECTED, {"broker": self.brokers.current_name(), "reason": reason or "closed"})

    def _lost(self, strike):
        # The transport is gone; messages the link died on too often are given up.
        for ev in self.session.connection_lost(strike):
            self._dispatch(ev)

    async def abort(self):
        """Drop the link without DISCONNECT and stop (the broker publishes the Will):
        what a power cut looks like from the broker's side."""
        self._stop = True
        await self._stop_link("aborted" if self.connected else None)

    async def use_broker(self, index):
        """Move to broker `index` of the configured list now (e.g. back to the primary)."""
        self.brokers.select(index)
        self._switching = True
        await self._drop_link("switching broker")

    # ---- writing ------------------------------------------------------------------
    async def _soon(self):
        # Coalesce: small packets wait in the session's buffer until it holds about a
        # TCP segment or the caller yields (the writer task then sends them in one
        # write). A tight loop of QoS 0 publishes costs one write per ~1 KB, not per message.
        if self.session.outbound_size >= self._coalesce:
            await self._flush()
        else:
            self._out_ready.set()

    def _write_now(self):
        # A lone QoS 1/2 message (the sensor node's await-each pattern) goes to the
        # socket at once instead of through the writer task: one task switch less per
        # message. (With others in flight the writer coalesces them into one write.)
        # Only when the stream holds nothing unsent: else bytes written earlier are
        # still being drained, and these must queue behind them. What the socket does
        # not take now, the writer drains.
        st = self._stream
        if st is not None and not st.pending():
            data = self.session.take_outbound()
            if data:
                st.write(data)
            if not st.pending():
                return
        self._out_ready.set()

    async def _writer(self):
        while True:
            await self._out_ready.wait()
            self._out_ready.clear()
            await self._flush()

    async def _flush(self):
        st = self._stream
        if st is None:
            return
        s = self.session
        data = s.take_outbound()
        if not data and not st.pending():  # (pending: left by _write_now)
            return
        try:
            while True:
                if data:
                    st.write(data)
                await st.drain()
                if not s.outbound_size or self._stream is not st:
                    break
                data = s.take_outbound()  # queued meanwhile, or left by a take that could not join
        except (OSError, ConnectorError) as e:
            await self._drop_link("write failed: %s" % e)

    # ---- supervision --------------------------------------------------------------
    async def _serve(self):
        tasks = (asyncio.create_task(self._guard("reader", self._reader())),
                 asyncio.create_task(self._guard("timer", self._timer())),
                 asyncio.create_task(self._guard("writer", self._writer())))
        self._out_ready.set()
        try:
            await self._link_dead.wait()
        finally:
            # Cancel and move on (also when we are cancelled): awaiting them here could
            # swallow our own cancellation.
            for t in tasks:
                t.cancel()

    async def _guard(self, where, coro):
        # A background task must never die silently (a MemoryError on a board, a bug):
        # the error reaches every waiting caller, and the link restarts clean.
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:
            err = internal(where + " task", e, {"task": where})
            # state first (nothing to allocate), then the reports, which may need memory;
            # the link ends in any case (_drop_link does not fail for want of heap)
            self._link_dead_now()
            self.last_error = err
            try:
                self._fail_requests(err)
                self._emit(ERROR, err)
            except MemoryError:
                pass
            await self._drop_link(err.message, err)

    def _link_dead_now(self):
        # what _drop_link does before anything that allocates: the supervisor stops
        # waiting for this link, writers stop writing to it
        self._connected.clear()
        self._window_free.set()

    async def _drop_link(self, reason, err=None):
        """End the link (the supervisor reconnects). err: why, for the requests that
        fail with it (SUBSCRIBE/UNSUBSCRIBE waiting for their ack)."""
        if self._link_dead.is_set():
            return
        # Mark the link dead before the first await: the reader, the writer and the
        # timer may all notice the failure, but only the first one reports it.
        self._link_dead.set()
        self._connected.clear()
        try:
            self._lost(True)  # (the session's state first: it allocates nothing before that)
            # requests without a session-level retry (SUBSCRIBE/UNSUBSCRIBE) fail now;
            # publishes stay in flight and complete after the reconnect
            self._fail_requests(err or ConnectorError(NOT_CONNECTED, "link lost: %s" % reason, {"reason": reason}),
                                pubs=False)
        except MemoryError:
            pass  # the reports need heap that is not there: the link goes all the same
        self._window_free.set()  # waiters re-check: while disconnected the session queues
        try:
            self._disconnected(reason)
        except MemoryError:
            pass
        try:
            await self._close_stream()
        except MemoryError:  # no heap even for the close's coroutine: close now
            self._abort_stream()

    async def _end_link_no_heap(self):
        # For the supervisor after a MemoryError: whatever link is up ends (its tasks see
        # _link_dead), in order when there is heap for it, else at once. Never raises.
        try:
            await self._drop_link("out of memory")
        except MemoryError:
            self._link_dead.set()
            self._connected.clear()
            self._abort_stream()
            try:
                self._lost(True)
            except MemoryError:
                pass

    def _abort_stream(self):
        # close the stream at once, allocating nothing (Stream.abort)
        st, self._stream = self._stream, None
        if st is not None:
            st.abort()

    async def _close_stream(self):
        st, self._stream = self._stream, None
        if st is not None:
            try:
                await st.close()
            except MemoryError:
                st.abort()

    def _fail_requests(self, err, pubs=True):
        reqs, self._req_waiters = self._req_waiters, {}
        for w in reqs.values():
            w.set(error=err)
        if pubs:
            pw, self._pub_waiters = self._pub_waiters, {}
            for w in pw.values():
                w.set(error=err)

    async def _reader(self):
        buf = self._buf
        mv = memoryview(buf)
        try:
            while True:
                n = await self._stream.readinto(buf)
                if not n:
                    await self._drop_link("broker closed the connection")
                    return
                s = self.session
                for ev in s.receive_data(mv[:n], ticks_ms()):
                    self._dispatch(ev)
                    if ev[0] == S.EV_ERROR or ev[0] == S.EV_DISCONNECT:
                        await self._flush()
                        if ev[0] == S.EV_ERROR and self.session.version == 5:
                            await self._linger()
                        await self._drop_link(self._reason(ev), self.last_error if ev[0] == S.EV_ERROR else None)
                        return
                if s.outbound_size:  # acks to send, messages the window released
                    await self._flush()
        except (OSError, ConnectorError) as e:
            await self._drop_link("read failed: %s" % e)

    async def _linger(self):
        # Our DISCONNECT (with its reason code) is written; closing a socket whose input
        # is unread makes the kernel send a reset, which can destroy it before the broker
        # reads it. Read and drop what is still coming for a moment (bounded by time, into
        # the receive buffer we have), then close.
        st, buf = self._stream, self._buf
        try:
            for _ in range(8):
                if not await asyncio.wait_for(st.readinto(buf), 0.05):
                    return
        except Exception:  # noqa: S110 - timeout or a dead link: close now
            pass

    def _reason(self, ev):
        if ev[0] == S.EV_ERROR:
            return "protocol error: %s" % ev[2]
        return "broker disconnected: %s" % reason_name(ev[1])

    async def _timer(self):
        while True:
            now = ticks_ms()
            evs = self.session.tick(now)
            for ev in evs:
                self._dispatch(ev)
                if ev[0] == S.EV_ERROR:
                    await self._drop_link(ev[2], self.last_error)
                    return
            await self._flush()
            wait = self.session.next_timeout(ticks_ms())
            await _sleep_ms(1000 if wait is None else max(10, min(wait, 1000)))

    def _dispatch(self, ev):
        kind = ev[0]
        if kind == S.EV_MESSAGE:
            self._emit(MESSAGE, ev[1])
        elif kind == S.EV_PUBLISHED:
            self._window_free.set()
            w = self._pub_waiters.pop(ev[1], None)
            if w is not None:
                w.set(ev[2])
            if self.on_event is not None:  # (no dict per message for nobody)
                self._emit(PUBLISHED, {"pid": ev[1], "reasonCode": ev[2]})
        elif kind == S.EV_PUBREC:
            self._emit(PUBREC, {"pid": ev[1]})
        elif kind == S.EV_SUBACK or kind == S.EV_UNSUBACK:
            w = self._req_waiters.pop(ev[1], None)
            if w is not None:
                w.set(ev[2])
        elif kind == S.EV_GAVE_UP or kind == S.EV_ACK_TIMEOUT:
            self._window_free.set()
            w = self._pub_waiters.pop(ev[1], None)
            if kind == S.EV_GAVE_UP:
                if w is not None:
                    w.set(error=gave_up(w.topic, ev[2]))
                self._emit(GAVE_UP, {"pid": ev[1], "strikes": ev[2]})
            else:
                if w is not None:  # the message stays in flight: re-sent after the reconnect
                    w.set(error=ConnectorError(TIMEOUT, "no acknowledgement within %d ms (the message stays in "
                                               "flight and is re-sent after the reconnect)" % self.session.ack_timeout_ms,
                                               {"packetId": ev[1]}))
                self._emit(ACK_TIMEOUT, {"pid": ev[1]})
        elif kind == S.EV_OVERSIZE:
            err = ConnectorError(PAYLOAD_TOO_LARGE, "skipped an incoming message of %d bytes on %s: above maxPacketSize "
                                 "%d" % (ev[2], ev[1] if ev[1] is not None else "a topic too long to show",
                                         self.session.max_packet_size),
                                 {"topic": ev[1], "size": ev[2], "limit": self.session.max_packet_size, "qos": ev[3]})
            self._emit(ERROR, err)
        elif kind == S.EV_ERROR:
            err = ConnectorError(ev[3], ev[2], {"reasonCode": ev[1]})
            self.last_error = err
            self._emit(ERROR, err)
