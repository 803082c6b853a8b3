# The connector's one delivery path: every message that goes through the outbox, from
# write() to the broker's acknowledgement. It owns the promise "a write waits for its
# acknowledgement": outbox id <-> packet id <-> the waiting caller, with one mechanism.
#
# - send(): the message is put in the outbox (durable) before anything else; when
#   connected, the caller waits on one Event that the acknowledgement (or the link's
#   end) sets.
# - One long-lived pump task hands pending messages to the client in outbox order --
#   fresh ones from RAM, older ones (queued offline, or from before a reboot) read back
#   from the log a few at a time, with the event loop getting a turn during the scan.
#   So a backlog is never overtaken by new writes, and a write allocates no task.
# - When the pump has nothing left to hand over (`_behind` is False: it drained the
#   outbox on this connection and nothing was queued since), the window has room and
#   no maxPending is set, a write hands its message to the client itself, right after
#   the outbox put, in the same synchronous step: order is the same as through the
#   pump, and the writer does not wait for the pump task to wake (a loop turn each).
# - What comes back: PUBACK/PUBCOMP acks the outbox entry; a refusal (reason code)
#   acks it and says publish-error; a message the link died on MAX_STRIKES times is
#   parked (kept, listable, not sent) with publish-error; an acknowledgement timeout
#   tells the caller TIMEOUT while the message stays in flight (re-sent with DUP after
#   the reconnect); a link that ends answers waiting callers "queued".
# - QoS 2 with `clean: false`: the packet id a message went out with, and its PUBREC,
#   are written to the journal before the packet reaches the wire, so that after a reset
#   the flow resumes (PUBLISH with DUP, or PUBREL) instead of publishing it again.
import asyncio

from lgmqtt.compat import const
from lgmqtt.net import client as C
from lgmqtt.connector import payloads
from lgmqtt.errors import ConnectorError, OUTBOX_FULL, TIMEOUT, internal

_PAGE = const(8)  # backlog messages read from the log in one scan
_PAGE_BYTES = const(4096)  # ... and at most about this much of their payload


class _Pending:
    # A message handed (or about to be handed) to the client: what the
    # message-published event needs, and the write() caller waiting (if any).
    def __init__(self, oid, topic, payload, qos, retain):
        self.oid, self.topic, self.payload, self.qos, self.retain = oid, topic, payload, qos, retain
        self.done = None  # asyncio.Event when a caller waits
        self.result = None
        self.pid = None


def _queued(p):
    # a waiting write(): its message stays in the outbox, its answer is "queued"
    if p.done is not None and not p.done.is_set():
        p.result = "queued"
        p.done.set()


async def paced(steps):
    """Run a paced query (see lgmqtt.store.history.run), giving the loop a turn at each pause."""
    try:
        while True:
            next(steps)
            await asyncio.sleep(0)
    except StopIteration as e:
        return e.value


class Delivery:
    def __init__(self, conn):
        self.conn = conn
        self.outbox = conn.outbox
        self.persist = not conn.cfg.get("clean", True)  # QoS 2 state worth keeping across a reset
        self._by_pid = {}          # packet id -> _Pending, handed to the client, not yet acknowledged
        self._sent = set()         # outbox ids handed to the client on this Client
        self._waiting = {}         # outbox id -> (_Pending, data, props): written, not yet handed over
        self._refused = set()      # outbox ids this connection's broker refused (retried on the next one)
        self._kick = asyncio.Event()
        self._behind = True        # pending messages may not all be with the client: writes go through the pump
        self._from_start = False
        self._lean = False         # a drain ran out of heap: read the backlog one record at a time
        self._task = None

    # ---- lifecycle ----------------------------------------------------------------
    def attach(self, client):
        """A new Client (first connect, update_config): the old one's bookkeeping goes,
        and QoS 2 messages whose state is in the journal go back into its session."""
        self.release()
        self._by_pid = {}
        self._sent = set()
        if self._task is None:
            self._task = asyncio.create_task(self._pump())
        if not self.persist:
            return
        for oid, (pid, stage) in sorted(self.outbox.inflight().items()):
            rows = self.outbox.records([oid])
            if not rows:
                continue
            m = rows[0]
            client.session.restore(pid, 2, stage, self._packet(m, client.session.version))
            p = _Pending(oid, m.topic(), payloads.decode(m.payload()), 2, m.retain)
            p.pid = pid
            self._by_pid[pid] = p
            self._sent.add(oid)

    def stop(self):
        t, self._task = self._task, None
        if t is not None:
            t.cancel()
        self.release()

    def on_connected(self):
        self._refused = set()
        self.kick()  # a new connection: everything pending is due again

    def kick(self):
        """Go through the whole outbox again (a reconnect, messages re-queued)."""
        self._from_start = True
        self._behind = True
        self._kick.set()

    # ---- write --------------------------------------------------------------------
    async def send(self, w, wait):
        """Put a connector Write (ops.Write: validated, encoded once) through the outbox
        (QoS >= 1, or QoS 0 queued offline) and send it if connected."""
        conn = self.conn
        topic, qos = w.topic, w.qos
        if conn.connected:
            conn.client.check_publish(topic, qos, w.retain, len(w.packet))
        # The reply exists before the outbox put (filled in, never rebuilt, after it):
        # once the message is accepted, no MemoryError may tell the caller that the
        # write failed, or it would write the message again.
        res = {"success": True, "queued": True, "outboxId": 0, "messageId": None, "topic": topic, "qos": qos}
        oid = self.outbox.put_message(w.msg)
        res["outboxId"] = oid
        try:
            if conn.debug:
                conn._debug("outbox put", outboxId=oid, topic=topic)
            if not conn.connected:
                return res
            p = _Pending(oid, topic, w.payload, qos, w.retain)
            if wait:
                p.done = asyncio.Event()
            # Through the pump when it has work queued, when the window is full, and with
            # maxPending: there writes issued together all meet the capacity policy before
            # any of them goes out (a message dropped before it is sent fails its write
            # with OUTBOX_FULL; one already sent completes when it is acknowledged).
            if self._behind or self.outbox.max_pending is not None or conn.client.session.window() <= 0:
                self._waiting[oid] = (p, w.packet)
                self._behind = True
                self._kick.set()
            else:
                # nothing before it is left to hand over; the broker's limits were checked
                # above with no yield since (it cannot refuse it), and the packet id is
                # mapped before any yield (its acknowledgement cannot arrive unannounced)
                self._handed(p, conn.client.publish_packet_nowait(w.packet))
            if not wait:
                return res
            await p.done.wait()
        except MemoryError:
            # accepted, so not a failure: the pump sends it when the heap allows
            self._behind = True
            self._kick.set()
            return res
        if isinstance(p.result, ConnectorError):
            raise p.result
        if p.result != "queued":
            res["queued"] = False
            res["messageId"] = p.result
        return res

    # ---- the pump -----------------------------------------------------------------
    async def _pump(self):
        while True:
            await self._kick.wait()
            self._kick.clear()
            try:
                await self._drain()
            except Exception as e:  # MemoryError included: report it, the next kick retries
                # (nothing here may end the pump: a dead pump would send nothing ever again)
                if isinstance(e, MemoryError):
                    self._lean = True
                self.release()  # no caller keeps waiting (allocates nothing)
                try:
                    err = e if isinstance(e, ConnectorError) else internal("outbox drain", e)
                    self.conn.emit("error", {"error": err.error, "message": err.message, "timestamp": self.conn.now()})
                except MemoryError:
                    pass
                try:
                    await asyncio.sleep(0.1)  # (its float may not be there either: then no pause,
                except MemoryError:           # the next kick is the retry all the same)
                    pass

    async def _drain(self):
        # A cursor over the outbox, a page of ids at a time: what a pass allocates does
        # not grow with the backlog (a copy of every pending id per pass could not be
        # allocated in a tight heap once a few hundred were queued offline, and then the
        # backlog never drained).
        conn = self.conn
        after = 0
        while conn.connected:
            if self._from_start:
                self._from_start = False
                after = 0
            self._finish_dropped()
            page = self._next_page(after)
            if not page:
                # everything is with the client (or refused here): writes may hand
                # theirs over directly until something queues again
                self._behind = False
                self._lean = False
                return  # a write or a reconnect meanwhile has kicked again
            # the page's backlog records, read in one paced scan (after a MemoryError:
            # one record at a time, the smallest allocation that can still make progress)
            read = [i for i in page if i not in self._waiting]
            rows = {}
            if read:
                for m in await paced(self.outbox.records_steps(read, 1 if self._lean else _PAGE_BYTES)):
                    rows[m.id] = m
            last = max(rows) if rows else 0
            for oid in page:
                if not conn.connected or self._from_start:
                    break
                w = self._waiting.get(oid)
                if w is None:
                    m = rows.get(oid)
                    if m is None:
                        if oid > last and rows:
                            break  # the scan stopped at its byte budget: the next page starts here
                        after = oid
                        continue  # acknowledged or dropped meanwhile
                    topic = m.topic()
                    if conn.debug:
                        conn._debug("outbox resend", outboxId=oid, topic=topic)
                    w = (_Pending(oid, topic, payloads.decode(m.payload()), m.qos, m.retain),
                         self._packet(m, conn.client.session.version))
                after = oid
                # stays in _waiting (reachable by release()) until handed over
                if await self._hand_over(*w):
                    self._waiting.pop(oid, None)

    def _next_page(self, after):
        # Up to _PAGE pending ids after `after` that are neither with the client nor
        # refused on this connection (oldest first).
        ob = self.outbox
        while True:
            page = ob.pending_page(after, _PAGE)
            if not page:
                return page
            ids = [i for i in page if i not in self._sent and i not in self._refused]
            if ids:
                return ids
            after = page[-1]

    def _packet(self, m, version):
        """The PUBLISH of a stored Message for a session of `version`: its own bytes, or,
        for one queued under the other protocol version (update_config), re-encoded."""
        if m.version == version:
            return m.packet()
        from lgmqtt.mqtt.encode import encode_publish

        return encode_publish(version, m.topic(), m.payload(), m.qos, m.retain, False, 0 if m.qos else None,
                              m.props() if version == 5 else None)

    async def _hand_over(self, p, packet):
        """Give one outbox message to the client. Returns False when it stays pending
        for a later connection."""
        client = self.conn.client
        await client.window_ready(p.qos)
        if self.conn.client is not client or not client.connected:
            return False  # the link (or the whole client) changed while we waited
        if not self.outbox.is_pending(p.oid):
            self._dropped(p)
            return True
        try:
            # synchronous: the packet id is mapped to its message before any yield, so
            # its acknowledgement can never arrive unannounced
            pid = client.publish_packet_nowait(packet)
        except ConnectorError as e:
            # This broker cannot take it (limits it announced): keep it for another
            # connection or broker, skip it on this one, and say so.
            self._refused.add(p.oid)
            self._error(p, e)
            return True
        self._handed(p, pid)
        return True

    def _handed(self, p, pid):
        # p went to the client as packet id pid (None: QoS 0, written)
        if pid is None:  # QoS 0 from the outbox: nothing more will come
            self.outbox.ack(p.oid)
            self._published(p, None)
            return
        p.pid = pid
        self._sent.add(p.oid)
        self._by_pid[pid] = p
        if p.qos == 2 and self.persist:
            self.outbox.set_inflight(p.oid, pid, 0)  # durable before the writer task can send it

    # ---- what comes back ----------------------------------------------------------
    def on_published(self, pid, rc):
        p = self._by_pid.pop(pid, None)
        if p is None:
            return  # not an outbox message (nothing else publishes QoS 1/2 here)
        self.outbox.ack(p.oid)
        if p.qos == 2:
            self.conn.store.sync()  # exactly-once across a power cut needs this ack durable
        self._sent.discard(p.oid)
        if rc >= 0x80:
            self._error(p, C.refused(p.topic, rc))
            return
        self._published(p, pid)

    def on_gave_up(self, pid, strikes):
        p = self._by_pid.pop(pid, None)
        if p is None:
            return
        self._sent.discard(p.oid)
        self.outbox.park(p.oid)
        err = C.gave_up(p.topic, strikes)
        err.details["outboxId"] = p.oid
        err.details["parked"] = True
        self._error(p, err)

    def on_ack_timeout(self, pid):
        p = self._by_pid.get(pid)
        if p is not None and p.done is not None and not p.done.is_set():
            self._finish(p, ConnectorError(TIMEOUT, "no acknowledgement within %d ms: the message stays in the "
                                           "outbox and is re-sent after the reconnect"
                                           % self.conn.client.session.ack_timeout_ms,
                                           {"outboxId": p.oid, "topic": p.topic}))

    def on_pubrec(self, pid):
        p = self._by_pid.get(pid)
        if p is not None and self.persist:
            self.outbox.set_inflight(p.oid, pid, 1)  # before the PUBREL goes out

    def _error(self, p, e):
        d = {"topic": p.topic, "error": e.error, "message": e.message, "details": e.details, "outboxId": p.oid,
             "timestamp": self.conn.now()}
        self.conn.emit("publish-error", d)
        self._finish(p, e)

    def _published(self, p, pid):
        c = self.conn
        if c._handlers.get("message-published"):  # (no dict and timestamp per message for nobody)
            c.emit("message-published", {"topic": p.topic, "payload": p.payload, "qos": p.qos, "retain": p.retain,
                                         "messageId": pid, "timestamp": c.now()})
        self._finish(p, pid)

    def _finish(self, p, result):
        p.result = result
        if p.done is not None:
            p.done.set()

    def release(self):
        """The link went down under write() callers: their messages stay in the outbox
        (and in the session); tell the callers "queued" rather than keep them waiting."""
        # Allocates nothing: the pump calls it after a MemoryError (no list, no new dict;
        # iterating a dict by key needs no view object)
        self._behind = True  # what was waiting is still pending: the next connection's pump sends it
        for k in self._by_pid:
            _queued(self._by_pid[k])
        for k in self._waiting:
            _queued(self._waiting[k][0])
        self._waiting.clear()

    def _finish_dropped(self):
        # A write whose message the outbox policy dropped before it was sent must not wait.
        if not self._waiting:
            return
        for oid in [o for o in self._waiting if not self.outbox.is_pending(o)]:
            self._dropped(self._waiting.pop(oid)[0])

    def _dropped(self, p):
        self._finish(p, ConnectorError(OUTBOX_FULL, "dropped by the outbox policy before it was sent",
                                       {"outboxId": p.oid, "topic": p.topic}))
