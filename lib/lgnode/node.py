# The always-on node (device.power.mode "always-on", the default): connected all the
# time, one telemetry message per interval, availability and Home Assistant discovery
# on every connect, remote commands. firmware/main.py builds the connector and calls
# run(); the tasks run supervised (lgnode.supervise): one that fails is reported and
# started again.
import asyncio
import gc

from lgmqtt.compat import const, ticks_diff, ticks_ms
from lgmqtt.errors import ConnectorError

# Connection attempts in a row that failed for want of heap before the node resets the
# board. A heap without compaction can be too fragmented for a TLS handshake's buffers
# (~20 KB in few blocks where TLS is heap, as on the Pico W) although it has room in
# total: every attempt then fails with ENOMEM, for ever. A reset is the cure; the
# outbox is in flash, so nothing accepted is lost.
_HEAP_FAILS = const(3)


class Node:
    min_interval_ms = 10
    reboot_delay_ms = 500  # the reply goes out before the node says offline and resets

    def __init__(self, conn, board, dev, tel):
        from lgnode import settings

        self.conn, self.board, self.dev, self.tel = conn, board, dev, tel
        self.interval_ms = settings.load().get("intervalMs", dev["telemetry"]["intervalMs"])
        self.led = None  # None: blink per reading; True/False: as lg:led.set left it
        self.t0 = ticks_ms()
        self._wake = asyncio.Event()  # ends the wait for the next reading early
        self._announcing = False
        self._again = False
        self.announced = 0
        # the link the last announcement went out on (its client and reconnect count): a
        # link without one (its `connected` callback could not run, a MemoryError in the
        # announcement) gets it from the telemetry loop, or the broker would go on
        # showing the Will's "offline" while the node publishes
        self._ann_client = None
        self._ann_link = -1
        self.heap_fails = 0  # connection attempts in a row that failed for want of heap
        # No broker connection for this long resets the board: what keeps a node offline
        # that a reset cures (a heap too fragmented for a handshake, a wedged radio or
        # TLS stack) cannot keep it offline for good. The outbox is in flash: nothing is
        # lost, and the reset is not a crash (no step towards safe mode).
        self.reboot_after_ms = dev.get("offlineRebootS", 0) * 1000 if getattr(board, "has_network", True) else 0
        self.down_since = ticks_ms()  # None while connected (boot counts as down)

    # ---- commands (lgnode.commands) ---------------------------------------------
    def set_interval(self, ms):
        from lgnode import settings

        s = settings.load()
        s["intervalMs"] = ms
        settings.save(s)
        self.interval_ms = ms
        self._wake.set()

    def set_led(self, on):
        self.led = on
        self.board.led(on)

    def status(self):
        st = self.conn.status()
        return {"seq": self.tel.seq, "intervalMs": self.interval_ms, "led": self.led, "power": "always-on",
                "uptimeS": ticks_diff(ticks_ms(), self.t0) // 1000, "connected": st["connected"],
                "outbox": st["outbox"], "sensors": [d[0] for d in self.tel.sampler.descriptors()],
                "sensorErrors": self.tel.errors, "memFree": _mem_free()}

    async def reboot(self):
        """A clean shutdown: "offline" published by the node itself (a clean DISCONNECT
        sends no Will), the outbox synced, then the board resets."""
        await shutdown(self.conn, self.dev)
        print("reset reason=command")
        self.board.reset()

    def on_error(self, e):
        # mbedtls's ENOMEM in a handshake, or a MemoryError while a link was being set up
        # (not one in the drain of a backlog, which the next kick retries)
        d = e.get("details") or {}
        if "ENOMEM" in str(d.get("reason", "")) or (d.get("where") == "connect attempt" and d.get("outOfMemory")):
            self.heap_fails += 1
            if self.heap_fails >= _HEAP_FAILS:
                self._wake.set()  # the telemetry loop resets the board now, not after its interval

    # ---- tasks --------------------------------------------------------------------
    async def telemetry(self):
        board = self.board
        while True:
            if self.heap_fails >= _HEAP_FAILS:
                from lgnode.supervise import Crash

                raise Crash("no heap for a connection: %d attempts in a row failed for want of memory"
                            % self.heap_fails)
            if self.offline_too_long():
                print("reset reason=offline for %d s" % (ticks_diff(ticks_ms(), self.down_since) // 1000))
                await self.conn.close()  # the outbox and history synced to flash
                self.board.reset()
                return  # (a board that does not reset: the caller starts this loop again)
            if self.led is None:
                board.led(True)
            await self.tel.tick()
            if self.led is None:
                board.led(False)
            board.feed_watchdog()
            c = self.conn.client
            if self.conn.connected and not self._announcing and (
                    c is not self._ann_client or c.reconnects != self._ann_link):
                await self.on_connected()  # this link was not announced (see __init__)
            gc.collect()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_ms / 1000)
            except asyncio.TimeoutError:
                pass

    def offline_too_long(self):
        # looked at once per reading: a link down from one reading to the next counts
        # from the first reading that found it down
        if self.conn.connected:
            self.down_since = None
            return False
        if self.down_since is None:
            self.down_since = ticks_ms()
        return bool(self.reboot_after_ms) and ticks_diff(ticks_ms(), self.down_since) >= self.reboot_after_ms

    async def on_connected(self, e=None):
        # a coroutine callback: the connector runs it as a task of its own
        self.heap_fails = 0
        if self._announcing:
            self._again = True  # a flapping link: the one under way starts over when done
            return
        self._announcing = True
        try:
            self._again = True
            while self._again and self.conn.connected:
                self._again = False
                try:
                    c = self.conn.client
                    await announce(self.conn, self.dev, self.tel)
                    self.announced += 1
                    self._ann_client, self._ann_link = c, c.reconnects
                except ConnectorError as e:
                    print("error %s %s" % (e.error, e.message))
                gc.collect()
        finally:
            self._announcing = False


async def announce(conn, dev, tel, online=True, only_if_changed=False, expire_after=None):
    """Availability ("online"), then Home Assistant discovery, as configured."""
    av, ha = dev["availability"], dev["homeassistant"]
    if (av is None or not online) and ha is None:
        return
    from lgnode import announce as A

    if av is not None and online:
        await A.publish_online(conn, av)
    if ha is not None:
        msgs = A.messages(ha, tel.sampler.descriptors(), tel.topic, av, expire_after)
        await A.discovery(conn, ha, msgs, only_if_changed)


async def shutdown(conn, dev):
    av = dev["availability"]
    if av is not None and conn.connected:
        from lgnode import announce as A

        try:
            await A.publish_offline(conn, av)
        except ConnectorError as e:
            print("error %s %s" % (e.error, e.message))
    await conn.close()


def preload(dev, remote=True):
    """Import now what this configuration will need, before the connector is built:
    a module loaded from .mpy needs its bytecode in one piece of heap, which the
    connector's allocations leave scattered (measured: importing lgnode.telemetry
    after Connector() failed in a heap that had room for it in total)."""
    import lgnode.settings  # noqa: F401
    import lgnode.supervise  # noqa: F401
    import lgnode.telemetry  # noqa: F401

    if remote:
        import lgmqtt.connector.remote  # noqa: F401
        import lgnode.commands  # noqa: F401
    if dev["availability"] is not None or dev["homeassistant"] is not None:
        import lgnode.announce  # noqa: F401
        import lgnode.availability  # noqa: F401
    if dev["homeassistant"] is not None:
        import lgnode.discovery  # noqa: F401


def _mem_free():
    try:
        return gc.mem_free()
    except AttributeError:  # CPython
        return None


def _crash(name, e):
    print("crash task=%s %r" % (name, e))


async def run(conn, board, dev, log, t0=None):
    from lgnode.supervise import supervise
    from lgnode.telemetry import Telemetry, console

    tel = Telemetry(conn, board, dev)
    node = Node(conn, board, dev, tel)
    if conn.remote_topic is not None:
        from lgnode import commands

        commands.install(conn, node, dev)
    if not await board.network_up():
        print("error CONNECTION_FAILED network did not come up")
    console(conn)
    gc.collect()  # the client's buffers come next, while the heap has room in one piece
    try:
        await conn.execute("mqtt:connection", "connect")
    except ConnectorError as e:
        # a failed attempt was an error event already (the connector keeps trying);
        # what failed inside the call itself (INTERNAL_ERROR) was not
        if e.error == "INTERNAL_ERROR":
            print("error %s %s" % (e.error, e.message))
    await tel.restore_seq()
    # the first announcement before the telemetry starts (one peak of RAM at a time),
    # then one after every reconnect
    conn.on("connected", node.on_connected)
    conn.on("error", node.on_error)
    gc.collect()
    await node.on_connected()
    asyncio.create_task(log.clear_when_stable())
    await supervise("telemetry", node.telemetry, _crash)
