# Link supervision for lgmqtt.net.client.Client: one task owns the link and keeps it up --
# connect (CONNECT as the transport's first bytes), handshake, reconnect with backoff
# and jitter, broker failover, resubscription. Split from client.py to keep each file
# to one job; Client is the only subclass.
import asyncio

from lgmqtt.mqtt import session as S
from lgmqtt.net import transport
from lgmqtt.compat import ticks_ms, ticks_diff
from lgmqtt.errors import ConnectorError, AUTHENTICATION_FAILED, CONNECTION_FAILED, NOT_CONNECTED, TIMEOUT, internal

# client events passed to on_event(kind, info)
CONNECTED = "connected"          # {"broker", "sessionPresent", "clientId"}
DISCONNECTED = "disconnected"    # {"broker", "reason"}
ERROR = "error"                  # ConnectorError
MESSAGE = "message"              # codec.Packet (topic, payload, qos, retain, dup, pid, props)
PUBLISHED = "published"          # {"pid", "reasonCode"}
WARNING = "warning"              # {"message"}
GAVE_UP = "gave-up"              # {"pid", "strikes"}: the link died that often with it unacknowledged
ACK_TIMEOUT = "ack-timeout"      # {"pid"}: no acknowledgement in time (the link is dropped, it is re-sent)
PUBREC = "pubrec"                # {"pid"}: a QoS 2 message reached the broker (PUBREL follows)

def reason_name(code):
    # The name tables load only when an error needs a name (5 KB of RAM otherwise).
    from lgmqtt.mqtt.names import reason_name as name

    return name(code)


def connack_name(version, code):
    from lgmqtt.mqtt.names import connack_name as name

    return name(version, code)


_AUTH_CODES_V4 = (4, 5)
_AUTH_CODES_V5 = (0x86, 0x87, 0x8C)


async def _sleep_ms(ms):
    await asyncio.sleep(ms / 1000)


class Supervisor:
    """Keeps one Client's link up: connect (CONNECT as the transport's first bytes),
    handshake, reconnect with backoff and jitter, failover, resubscription. The Client
    owns the session, the stream and the waiters; this owns the loop around them."""

    def __init__(self, client):
        self.c = client
        self._tls = None
        self._tls_warned = False

    async def supervise(self):
        c = self.c
        period = max(100, c.cfg.get("reconnectPeriod", 1000))  # 0 would spin: 100 ms floor
        delay = period
        max_attempts = c.cfg.get("maxReconnectAttempts", 0)
        # A link must stay up this long to count as a success; one that a broker drops
        # at once (a duplicate client id, an ACL kick) backs off like a failed attempt.
        stable_ms = max(10000, c.session.keepalive * 1000)
        failures = 0
        while not c._stop:
            try:
                c.attempts += 1
                try:
                    err = await self._connect_once()
                except Exception as e:  # never let the supervisor die: report and retry
                    try:
                        await c._close_stream()
                        c._lost(True)
                    except Exception:  # noqa: S110 - already failing: the next attempt starts clean
                        pass
                    # MemoryError (or a bug) is not the network's fault: INTERNAL_ERROR
                    err = internal("connect attempt", e)
                if c._stop:
                    break
                if err is None:
                    t_up = ticks_ms()
                    if not c._link_dead.is_set():  # (it may have died in the CONNACK's own read)
                        await c._serve()
                    if c._stop:
                        break
                    c.reconnects += 1
                    if c._switching:  # use_broker(): go to the chosen broker now
                        c._switching = False
                        failures, delay = 0, period
                        continue
                    if ticks_diff(ticks_ms(), t_up) >= stable_ms:
                        failures, delay = 0, period
                        continue
                    failures += 1
                    c.brokers.failed()  # a broker that drops us at once is as bad as one that refuses
                else:
                    failures += 1
                    c.last_error = err
                    c._emit(ERROR, err)
                    if c._first is not None:
                        c._first.set(error=err)
                        c._first = None
                    if max_attempts and failures >= max_attempts:
                        c._fail_requests(err)
                        break
                    c.brokers.failed()
                    if err.error == AUTHENTICATION_FAILED:
                        # retrying bad credentials fast only locks the account and burns battery
                        delay = max(delay, c.cfg.get("authRetryPeriod", 5000))
                # exponential backoff with jitter (a fleet must not reconnect in lockstep)
                await _sleep_ms(delay // 2 + (ticks_ms() * 7919) % (delay // 2 + 1))
                delay = max(period, min(delay * 2, c.cfg.get("maxReconnectPeriod", 60000)))
            except MemoryError:
                # The loop itself must outlive an allocation that fails (its sleep, its
                # reports, the link's tasks): a supervisor that dies leaves the node
                # offline for good. A link it had up ends; the next attempt comes later.
                try:
                    await c._end_link_no_heap()
                except MemoryError:  # not even its coroutine: the link's tasks end it
                    c._link_dead.set()
                await asyncio.sleep(1)  # (an int: no float to allocate)
        if c._sup is asyncio.current_task():
            c._sup = None

    def _tls_context(self, broker):
        c = self.c
        if broker.get("protocol", c.cfg.get("protocol", "mqtt")) != "mqtts":
            return None
        if self._tls is None:
            tls = c.cfg.get("tls", {}) or {}
            verify = c.cfg.get("rejectUnauthorized", tls.get("rejectUnauthorized", True))
            if not verify and not self._tls_warned:
                self._tls_warned = True
                c._emit(WARNING, {"message": "TLS server verification is off (rejectUnauthorized: false)"})
            self._tls = transport.tls_context(ca=tls.get("ca"), cert=tls.get("cert"), key=tls.get("key"),
                                              verify=verify)
        return self._tls

    async def _connect_once(self):
        c = self.c
        b = c.brokers.current()
        timeout = c.cfg.get("connectTimeout", 10000)
        try:
            ctx = self._tls_context(b)
            t0 = ticks_ms()
            late = None
            c.session.connect(t0)
            # CONNECT goes out as the transport's first bytes: on MicroPython that write
            # is what drives the TLS handshake without blocking the loop.
            c._stream = await c._open(b["host"], b["port"], ssl=ctx, server_hostname=b.get("servername"),
                                            timeout_ms=timeout, hello=c.session.take_outbound())
            while c.session.state == S.CONNECTING:
                left = timeout - ticks_diff(ticks_ms(), t0)
                if left <= 0:
                    raise ConnectorError(TIMEOUT, "no CONNACK within %d ms" % timeout,
                                         {"host": b["host"], "port": b["port"]})
                n = await asyncio.wait_for(c._stream.readinto(c._buf), left / 1000)
                if not n:
                    raise ConnectorError(CONNECTION_FAILED, "broker closed the connection during CONNECT",
                                         {"host": b["host"], "port": b["port"], "reason": "EOF"})
                for ev in c.session.receive_data(memoryview(c._buf)[:n], ticks_ms()):
                    if c._up:  # after CONNACK: the link's own events
                        c._dispatch(ev)
                        if ev[0] == S.EV_ERROR or ev[0] == S.EV_DISCONNECT:
                            late = ev
                        continue
                    err = self._on_handshake_event(ev, b)
                    if err is not None:
                        raise err
        except ConnectorError as e:
            await c._close_stream()
            c._lost(True)
            return e
        except asyncio.TimeoutError:
            await c._close_stream()
            c._lost(True)
            return ConnectorError(TIMEOUT, "no CONNACK within %d ms" % timeout, {"host": b["host"], "port": b["port"]})
        except OSError as e:
            await c._close_stream()
            c._lost(True)
            return ConnectorError(CONNECTION_FAILED, "connection to %s:%d failed: %s" % (b["host"], b["port"], e),
                                  {"host": b["host"], "port": b["port"], "reason": str(e)})
        if c._stop:
            await c._close_stream()
            c._lost(False)
            return ConnectorError(NOT_CONNECTED, "disconnect() during connect", {})
        if late is not None:
            # CONNACK and a fatal packet in one read: the link came up and died at once.
            # It ends like any link that was up: one `disconnected` after the `connected`.
            await c._flush()
            await c._drop_link(c._reason(late))
            return None
        if not c.session.session_present and c._subs:
            # The broker forgot us (clean start or expired session): without this, a
            # device silently stops receiving commands after its first reconnect.
            c.session.subscribe(list(c._subs.items()), None, ticks_ms())
        await c._flush()  # re-sent in-flight messages and resubscriptions
        return None

    def _on_handshake_event(self, ev, b):
        c = self.c
        kind = ev[0]
        if kind == S.EV_CONNACK:
            rc = ev[2]
            v = c.session.connack_version
            if rc:
                name = connack_name(v, rc)
                if rc in (_AUTH_CODES_V4 if v == 4 else _AUTH_CODES_V5):
                    return ConnectorError(AUTHENTICATION_FAILED, "broker refused the credentials: %s" % name,
                                          {"username": c.session.username, "reason": name})
                return ConnectorError(CONNECTION_FAILED, "broker refused the connection: %s" % name,
                                      {"host": b["host"], "port": b["port"], "reason": name})
            self._on_connected(ev[1], b)
            return None
        if kind == S.EV_ERROR:
            return ConnectorError(ev[3], ev[2], {"host": b["host"], "port": b["port"], "reasonCode": ev[1]})
        c._dispatch(ev)
        return None

    def _on_connected(self, session_present, b):
        c = self.c
        if c._stop:  # disconnect() came while we were connecting: do not come alive
            return
        c._connected.set()
        c._up = True
        c._link_dead = asyncio.Event()
        c.last_error = None
        info = {"broker": c.brokers.current_name(), "sessionPresent": session_present,
                "clientId": c.session.client_id}
        if c._first is not None:
            c._first.set()
            c._first = None
        c._emit(CONNECTED, info)

