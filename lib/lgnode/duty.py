# The battery duty cycle (device.power.mode "deep-sleep"). One run() is one wake-up:
#
#   1. sample and append the reading (with its timestamp) to the outbox in flash;
#   2. report when due -- reportEvery samples since the last attempt, the backlog at
#      maxBacklog (when set), or a power-on: Wi-Fi up, connect (clean: false, so one
#      broker session across wake-ups and no resubscribe), the outbox sends the whole
#      backlog oldest first (up to maxInflight on the wire at once), availability and
#      discovery when needed, listenMs more for remote requests the broker kept in
#      the session, then a clean DISCONNECT and the acknowledgements synced to flash;
#   3. deep sleep until the next sample is due (samplePeriodMs from this wake-up).
#
# Nothing a broker or network does keeps the node awake longer than awakeMs: at the
# deadline the session ends (what was not acknowledged stays in the outbox for the
# next report) and the node sleeps anyway. A reset or power cut at any moment loses
# nothing that was written: the outbox is in flash, a message acknowledged but not yet
# synced is sent again (at least once).
#
# RTC memory (kept through deep sleep, lost on a power cut; a file the sim clears on
# the unix board) holds "lg1 <seq> <samples since the last report> <online>": the
# sequence number without a history scan, the report count, and whether the
# broker's retained status is still our "online" (a session that ended cleanly; a
# power cut lets the broker publish the Will). Without it (power-on, or a board with
# none) the sequence number comes from the history and the backlog stands in for the
# count. Discovery is announced at power-on and when its messages differ from the last
# announced ones (lgnode.announce keeps their hash in flash).
import asyncio

from lgmqtt.compat import ticks_add, ticks_diff, ticks_ms
from lgmqtt.errors import ConnectorError

_MIN_SLEEP_MS = 100


def read_rtc(board):
    """-> (seq, since, online) or None."""
    get = getattr(board, "rtc_memory", None)
    raw = get() if get is not None else None
    try:
        tag, seq, since, online = bytes(raw).decode().split()
        if tag == "lg1":
            return int(seq), int(since), online == "1"
    except (TypeError, ValueError):  # empty (power-on), or not ours
        pass
    return None


def write_rtc(board, seq, since, online):
    put = getattr(board, "set_rtc_memory", None)
    if put is not None:
        put(b"lg1 %d %d %d" % (seq, since, 1 if online else 0))


class Wake:
    min_interval_ms = 100
    reboot_delay_ms = 0  # the session ends as usual (the reply goes first), then the reset

    def __init__(self, conn, board, dev, tel, t0):
        from lgnode import settings

        self.conn, self.board, self.dev, self.tel = conn, board, dev, tel
        self.p = dev["power"]
        self.interval_ms = settings.load().get("samplePeriodMs", self.p["samplePeriodMs"])
        self.t0 = t0
        self.deadline = ticks_add(t0, self.p["awakeMs"])
        self.reboot_requested = False
        self.sent = 0
        self.outcome = None

    def left_ms(self):
        return ticks_diff(self.deadline, ticks_ms())

    # ---- commands (lgnode.commands), served while connected ----------------------
    def set_interval(self, ms):
        from lgnode import settings

        s = settings.load()
        s["samplePeriodMs"] = ms
        settings.save(s)
        self.interval_ms = ms

    def set_led(self, on):
        self.board.led(on)

    def status(self):
        return {"seq": self.tel.seq, "intervalMs": self.interval_ms, "power": "deep-sleep",
                "reportEvery": self.p["reportEvery"], "awakeMs": ticks_diff(ticks_ms(), self.t0),
                "outbox": self.conn.outbox.stats(), "sensors": [d[0] for d in self.tel.sampler.descriptors()],
                "sensorErrors": self.tel.errors}

    async def reboot(self):
        self.reboot_requested = True  # the session ends as usual, then the board resets

    # ---- the report -----------------------------------------------------------------
    async def report(self, online_kept, power_on):
        """One session: -> True when it ended with a clean disconnect."""
        self.outcome = "failed"
        if not await self.board.network_up(max(0, self.left_ms())):
            print("error CONNECTION_FAILED network did not come up")
            return False
        try:
            await asyncio.wait_for(self._session(online_kept, power_on), max(0, self.left_ms()) / 1000)
            self.outcome = "sent"
            return True
        except asyncio.TimeoutError:
            self.outcome = "timeout"
            print("error TIMEOUT awake for device.power.awakeMs (%d ms): the rest waits for the next report"
                  % self.p["awakeMs"])
        except ConnectorError as e:
            if e.error != "CONNECTION_FAILED" or self.conn.connected:
                print("error %s %s" % (e.error, e.message))
            # else the error event said it already
        return False

    async def _session(self, online_kept, power_on):
        conn = self.conn
        conn.on("message-published", self._count)
        try:
            await conn.execute("mqtt:connection", "connect")
            await self._announce(online_kept, power_on)
            await self._drained()
            await self._listen()
        finally:
            conn.off("message-published", self._count)
        await conn.execute("mqtt:connection", "disconnect")

    def _count(self, m):
        p = m.get("payload")
        if isinstance(p, dict) and "seq" in p:
            self.sent += 1  # telemetry readings acknowledged in this session

    async def _announce(self, online_kept, power_on):
        # "online" unless the retained status is still ours from a clean session;
        # discovery at power-on, else only when its messages changed
        from lgnode.node import announce

        p = self.p
        # HA shows a value unavailable when no new one came for two report periods
        expire = 2 * self.interval_ms * p["reportEvery"] // 1000 + p["awakeMs"] // 1000
        await announce(self.conn, self.dev, self.tel, online=not online_kept, only_if_changed=not power_on,
                       expire_after=expire)

    async def _drained(self):
        # every pending message (the backlog, oldest first) acknowledged
        conn = self.conn
        ev = asyncio.Event()
        wake = lambda m: ev.set()  # noqa: E731
        conn.on("message-published", wake)
        conn.on("publish-error", wake)
        try:
            while conn.outbox.stats()["pending"]:
                ev.clear()
                await ev.wait()
        finally:
            conn.off("message-published", wake)
            conn.off("publish-error", wake)

    async def _listen(self):
        # remote requests the broker kept for the session arrive right after CONNACK;
        # give late ones listenMs, and a request being served its time
        ms = self.p["listenMs"]
        if ms and self.conn.remote_topic is not None:
            await asyncio.sleep(ms / 1000)
        while self.conn.remote_topic is not None and self.conn.status()["remote"]["busy"]:
            await asyncio.sleep(0.02)

    # ---- one wake-up ------------------------------------------------------------------
    async def run(self, log=None):
        """Sample, report when due, close the connector. -> the sleep time (ms), or
        None when a reboot was requested. self.outcome: None (no report), "sent"
        (a clean session), "timeout" (awakeMs ran out), "failed" (no network or broker)."""
        conn, board, dev, tel, p = self.conn, self.board, self.dev, self.tel, self.p
        reason = board.wake_reason() if hasattr(board, "wake_reason") else None
        rtc = read_rtc(board)
        if rtc is not None:
            tel.seq = rtc[0]
        else:
            await tel.restore_seq()
        online_kept = rtc is not None and rtc[2]
        # the number first, then the write: a reset between them skips a number, never
        # gives two readings the same one
        write_rtc(board, tel.seq + 1, rtc[1] if rtc else 0, online_kept)
        await tel.tick()
        pending = conn.outbox.stats()["pending"]
        since = rtc[1] + 1 if rtc is not None else pending  # without RTC memory the backlog stands in
        power_on = reason == "power-on"
        due = power_on or since >= p["reportEvery"] or (p["maxBacklog"] and pending >= p["maxBacklog"])
        print("wake reason=%s seq=%d pending=%d report=%s" % (reason, tel.seq, pending, "yes" if due else "no"))
        t_report = ticks_ms()
        if due:
            ok = await self.report(online_kept, power_on)
            online_kept = ok and (online_kept or dev["availability"] is not None)
            since = 0
        await conn.close()  # the DISCONNECT if still connected, and the acks made durable
        if due:
            print("flushed sent=%d pending=%d report_ms=%d" % (self.sent, conn.outbox.stats()["pending"],
                                                                ticks_diff(ticks_ms(), t_report)))
        write_rtc(board, tel.seq, since, online_kept)
        if log is not None:
            log.clear()  # a wake-up that got this far is no crash
        if self.reboot_requested:
            return None
        awake = ticks_diff(ticks_ms(), self.t0)
        ms = max(_MIN_SLEEP_MS, self.interval_ms - awake)
        print("sleep ms=%d awake_ms=%d" % (ms, awake))
        return ms


async def run(conn, board, dev, log, t0=None):
    """firmware/main.py's entry: one wake-up, then deep sleep (or the reset a reboot
    command asked for). Does not return."""
    from lgnode.telemetry import Telemetry, console

    w = Wake(conn, board, dev, Telemetry(conn, board, dev), ticks_ms() if t0 is None else t0)
    console(conn)
    if conn.remote_topic is not None:
        from lgnode import commands

        commands.install(conn, w, dev)
    ms = await w.run(log)
    if ms is None:
        print("reset reason=command")
        board.reset()
    board.deep_sleep(ms)
