# The always-on node (lgnode.node, lgnode.telemetry, lgnode.announce, lgnode.commands)
# against a real Mosquitto, composed as firmware/main.py composes it: telemetry with
# every sensor's values, errors and timestamps; the sequence number across a reset;
# availability with the Will; Home Assistant discovery and the removal of sensors no
# longer configured; authenticated commands (refused unsigned, replayed or stale).
import asyncio
import json

from check import eq
from lgnode import auth
from lgnode.node import Node, announce, shutdown
from lgnode.telemetry import Telemetry
from nodekit import Board, Folder, Observer, doc, prepare, retained, unique

FIXTURES = ("mosquitto",)
TIMEOUT = 240
KEY = bytes(range(32))
KEY_HEX = "".join("%02x" % b for b in KEY)


async def _node(cid, device, board=None, **cfg):
    board = board or Board()
    dev, conn = prepare(doc(cid, device, **cfg), board)
    tel = Telemetry(conn, board, dev)
    node = Node(conn, board, dev, tel)
    return board, dev, conn, tel, node


async def test_one_message_per_tick_with_every_value_its_errors_and_a_timestamp():
    with Folder():
        cid = unique("tel")
        obs = await Observer("lg/%s/telemetry" % cid).start()
        sensors = [{"type": "internal", "objectIds": {"temperature": "chip"}},
                   {"type": "sim", "id": "room", "failEvery": 2}]
        board, dev, conn, tel, node = await _node(cid, {"sensors": sensors})
        await conn.execute("mqtt:connection", "connect")
        for _ in range(2):
            await tel.tick()
        await obs.wait(lambda: len(obs.got) == 2)
        a, b = [json.loads(p) for _, p, _ in obs.got]
        eq(sorted(a), ["chip", "room_humidity", "room_temperature", "seq", "ts"])
        eq((a["seq"], a["chip"], a["ts"]), (1, 41.5, 1718000001))
        assert isinstance(a["room_temperature"], float), a
        # the second sim read fails: its values are null, the error says which and why,
        # the internal sensor is read as usual
        eq((b["seq"], b["chip"], b["room_temperature"], b["room_humidity"], b["ts"]), (2, 41.5, None, None, 1718000002))
        eq(b["errors"], [{"sensor": "room", "error": "SENSOR_ERROR", "message": "sim: simulated read failure"
                                                                                " (failEvery)"}])
        eq(node.status()["sensorErrors"], b["errors"])
        await conn.close()
        await obs.close()


async def test_sequence_number_goes_on_after_a_reset():
    with Folder():
        cid = unique("seq")
        board, dev, conn, tel, node = await _node(cid, {})
        eq(await tel.restore_seq(), 0)  # a new flash
        for _ in range(3):
            seq, queued = await tel.tick()  # offline: into the outbox in flash
            eq(queued, True)
        await conn.close()
        # the board resets: a new connector on the same flash
        board, dev, conn, tel, node = await _node(cid, {})
        eq(await tel.restore_seq(), 3)
        eq((await tel.tick())[0], 4)
        await conn.close()


def _error(code, message, **details):
    return {"error": code, "message": message, "details": details, "timestamp": "2024-06-10T06:13:21Z"}


async def test_connects_failing_for_want_of_heap_reset_the_board_and_other_failures_do_not():
    # A heap too fragmented for a TLS handshake's buffers fails every attempt with
    # ENOMEM (seen on the TLS-in-heap build after a broker restart): after 3 in a row
    # the telemetry loop raises Crash (the firmware resets the board; the outbox is in
    # flash). A connection in between starts the count again; refused connects and a
    # MemoryError in a backlog's drain (retried by the next kick) do not count.
    from lgnode.supervise import Crash

    with Folder():
        board, dev, conn, tel, node = await _node(unique("heap"), {})
        conn.on("error", node.on_error)  # as lgnode.node.run() wires it
        node.interval_ms = 20
        enomem = _error("CONNECTION_FAILED", "cannot connect to 10.0.0.1:8883: ENOMEM during TLS handshake (ENOMEM)",
                        host="10.0.0.1", port=8883, reason="ENOMEM during TLS handshake (ENOMEM)")
        in_connect = _error("INTERNAL_ERROR", "connect attempt failed: MemoryError('memory allocation failed')",
                            where="connect attempt", outOfMemory=True)
        in_drain = _error("INTERNAL_ERROR", "outbox drain failed: MemoryError('memory allocation failed')",
                          where="outbox drain", outOfMemory=True)
        refused = _error("CONNECTION_FAILED", "cannot connect to 10.0.0.1:8883: connection refused (ECONNREFUSED)",
                         host="10.0.0.1", port=8883, reason="connection refused (ECONNREFUSED)")
        task = asyncio.create_task(node.telemetry())
        conn.emit("error", enomem)
        conn.emit("error", in_connect)
        for _ in range(5):
            conn.emit("error", in_drain)
            conn.emit("error", refused)
        await node.on_connected()  # a link came up (offline here: nothing to announce)
        conn.emit("error", enomem)
        conn.emit("error", enomem)
        await asyncio.sleep(0.2)  # several ticks
        eq((task.done(), node.heap_fails), (False, 2))
        seq = tel.seq
        conn.emit("error", in_connect)  # the third in a row
        e = None
        try:
            await asyncio.wait_for(task, 5)
        except Crash as x:
            e = x
        assert e is not None and "3 attempts in a row failed for want of memory" in str(e), e
        assert seq >= 2, seq  # readings were taken (queued) all along
        await conn.close()


async def test_a_node_offline_for_offlineRebootS_resets_the_board_and_a_connected_one_does_not():
    # Whatever keeps a node offline that a reset cures (a heap too fragmented for the
    # handshake, where the failure does not even say ENOMEM; a wedged radio) ends after
    # device.offlineRebootS: the outbox is synced to flash and the board resets. Not a
    # crash: the crash count (safe mode) is firmware/main.py's and is not touched.
    with Folder():
        cid = unique("offline")
        board, dev, conn, tel, node = await _node(cid, {})
        eq(node.reboot_after_ms, 900000)  # the default, 15 minutes
        node.reboot_after_ms = 300  # (the config's minimum is a minute)
        node.interval_ms = 20
        await asyncio.wait_for(node.telemetry(), 10)  # never connected: returns after the reset
        eq(board.resets, 1)
        assert tel.seq >= 2, tel.seq  # readings were queued meanwhile...
        # ... and the board that boots again finds every one of them in its outbox
        board, dev, conn, tel2, node = await _node(cid, {})
        eq(conn.outbox.stats()["pending"], tel.seq)
        await conn.close()
        radio_less = Board()
        radio_less.has_network = False  # as boards/pico.py: offline by design, never reset for it
        board, dev, conn, tel, node = await _node(cid, {}, board=radio_less)
        eq(node.reboot_after_ms, 0)
        await conn.close()
    with Folder():
        cid = unique("online")
        board, dev, conn, tel, node = await _node(cid, {})
        await conn.execute("mqtt:connection", "connect")
        node.reboot_after_ms = 300
        node.interval_ms = 20
        task = asyncio.create_task(node.telemetry())
        await asyncio.sleep(0.6)
        eq((task.done(), board.resets), (False, 0))  # connected all along: no reset
        task.cancel()
        await conn.close()


async def test_a_reading_whose_write_ran_out_of_heap_is_written_again_and_a_bug_is_not_retried():
    # Before the outbox took it, a write that ran out of heap took nothing: the reading
    # is written again a little later (a TLS handshake's buffers come and go). Any other
    # failure is reported at once, and the reading is not retried.
    from lgmqtt.errors import ConnectorError, internal

    with Folder():
        board, dev, conn, tel, node = await _node(unique("oom"), {})
        real = conn.execute
        fails = [MemoryError("memory allocation failed"), MemoryError("memory allocation failed")]
        calls = []

        async def execute(cap, op, params=None):
            calls.append(cap)
            if cap == "mqtt:publish" and fails:
                raise internal("%s %s" % (cap, op), fails.pop(0))
            return await real(cap, op, params)

        conn.execute = execute
        eq(await tel.tick(), (1, True))  # the third try: queued in the outbox (offline)
        eq((len(calls), conn.outbox.stats()["pending"]), (3, 1))
        fails[:] = [MemoryError("memory allocation failed")] * 3
        eq(await tel.tick(), (2, False))  # three in a row: the reading is given up, said on the console
        eq((len(calls), conn.outbox.stats()["pending"]), (6, 1))
        fails[:] = [ValueError("a bug")]
        eq(await tel.tick(), (3, False))  # not memory: once
        eq((len(calls), conn.outbox.stats()["pending"]), (7, 1))
        e = internal("x", MemoryError())
        eq((e.details.get("outOfMemory"), internal("x", ValueError()).details.get("outOfMemory")), (True, None))
        assert isinstance(e, ConnectorError)
        await conn.close()


async def test_online_retained_on_connect_offline_by_will_and_by_clean_shutdown():
    with Folder():
        cid = unique("av")
        status = "lg/%s/status" % cid
        obs = await Observer(status).start()
        board, dev, conn, tel, node = await _node(cid, {})
        await conn.execute("mqtt:connection", "connect")
        await announce(conn, dev, tel)
        eq((await retained(status))[status], "online")
        # vanishing without DISCONNECT (what a power cut looks like to the broker): the
        # broker publishes the Will, retained
        await conn.client.abort()
        await obs.wait(lambda: obs.on(status)[-1:] == [("offline", False)])
        eq((await retained(status))[status], "offline")
        await conn.execute("mqtt:connection", "connect")
        await announce(conn, dev, tel)
        await obs.wait(lambda: obs.on(status)[-1][0] == "online")
        # a clean shutdown sends no Will: the node says it itself
        await shutdown(conn, dev)
        await obs.wait(lambda: obs.on(status)[-1][0] == "offline")
        eq((await retained(status))[status], "offline")
        await obs.close()


async def test_a_link_whose_announcement_did_not_run_gets_it_from_the_telemetry_loop():
    # The `connected` callback runs as a task of its own; in a tight heap it may not run
    # at all (seen: "connected callback failed: MemoryError"), and the broker would go on
    # holding the Will's "offline" while the node publishes. The telemetry loop announces
    # any link that was not, once.
    with Folder():
        cid = unique("ann")
        status = "lg/%s/status" % cid
        board, dev, conn, tel, node = await _node(cid, {})
        await conn.execute("mqtt:connection", "connect")  # no node.on_connected(): as if it failed
        node.interval_ms = 20
        task = asyncio.create_task(node.telemetry())
        for _ in range(250):
            if node.announced:
                break
            await asyncio.sleep(0.02)
        eq((await retained(status))[status], "online")
        seq = tel.seq
        while tel.seq < seq + 3:
            await asyncio.sleep(0.02)
        eq(node.announced, 1)  # once per link, not per reading
        task.cancel()
        await conn.close()


async def test_discovery_announces_every_value_and_removes_what_is_gone():
    with Folder():
        cid = unique("ha")
        prefix = "ha-" + cid  # a prefix of its own: nothing else's entities in the view
        ha = {"prefix": prefix, "name": "Greenhouse"}
        two = [{"type": "internal", "objectIds": {"temperature": "chip"}}, {"type": "sim", "id": "room"}]
        board, dev, conn, tel, node = await _node(cid, {"sensors": two, "homeassistant": ha})
        await conn.execute("mqtt:connection", "connect")
        await announce(conn, dev, tel)
        held = await retained(prefix + "/#")
        eq(sorted(held), ["%s/sensor/%s/%s/config" % (prefix, cid, o) for o in
                          ("chip", "room_humidity", "room_temperature")])
        p = json.loads(held["%s/sensor/%s/chip/config" % (prefix, cid)])
        eq((p["uniq_id"], p["stat_t"], p["avty_t"], p["dev"]["ids"], p["dev"]["name"]),
           ("%s_chip" % cid, "~/telemetry", "~/status", [cid], "Greenhouse"))
        eq(p["~"], "lg/%s" % cid)
        await conn.close()
        # the sim sensor leaves the configuration: after the next boot its entities go
        board, dev, conn, tel, node = await _node(cid, {"sensors": two[:1], "homeassistant": ha})
        await conn.execute("mqtt:connection", "connect")
        await announce(conn, dev, tel)
        eq(sorted(await retained(prefix + "/#")), ["%s/sensor/%s/chip/config" % (prefix, cid)])
        await conn.close()


async def _rig(key=True, free=("mqtt:connection.status", "lg:node.status")):
    from lgnode import commands

    cid = unique("cmd")
    device = {"auth": {"unauthenticated": list(free)}}
    if key:
        device["auth"]["key"] = KEY_HEX
    board, dev, conn, tel, node = await _node(cid, device)
    commands.install(conn, node, dev)
    obs = await Observer("lg/%s/status" % cid).start()
    await conn.execute("mqtt:connection", "connect")
    await asyncio.sleep(0.2)  # the request subscription (a task after connect)
    return cid, board, conn, node, obs


async def test_state_changing_commands_need_a_signature():
    with Folder():
        cid, board, conn, node, obs = await _rig()
        led = obs.request("r1", "lg:led", "set", {"on": True})
        r = await obs.call(cid, json.dumps(led), "r1")
        eq(r["error"]["error"], "AUTH_REQUIRED")
        eq(board.leds, [])
        # read-only and listed in device.auth.unauthenticated: no signature needed
        r = await obs.call(cid, json.dumps(obs.request("r2", "lg:node", "status")), "r2")
        eq((r["result"]["seq"], r["result"]["power"], r["result"]["led"]), (0, "always-on", None))
        r = await obs.call(cid, json.dumps(obs.request("r3", "mqtt:history", "read")), "r3")
        eq(r["error"]["error"], "AUTH_REQUIRED", "read-only but not listed")
        signed = auth.signed_request(KEY, cid, led, n=1)
        r = await obs.call(cid, signed, "r1")
        eq(r["result"], {"on": True})
        eq((board.leds, node.led), ([True], True))
        # the same signed request again: refused, also after a reboot (counter in flash)
        r = await obs.call(cid, signed, "r1")
        eq((r["error"]["error"], r["error"]["details"]), ("AUTH_REPLAYED", {"last_n": 1}))
        other = auth.signed_request(bytes(32), cid, obs.request("r4", "lg:led", "set", {"on": False}), n=9)
        r = await obs.call(cid, other, "r4")
        eq(r["error"]["error"], "AUTH_FAILED")
        stale = auth.signed_request(KEY, cid, obs.request("r5", "lg:led", "set", {"on": False}), ts=1577836800001)
        r = await obs.call(cid, stale, "r5")
        eq(r["error"]["error"], "AUTH_STALE")
        eq(board.leds, [True])
        await conn.close()
        # a reboot: the counter file keeps the last accepted number
        from lgnode.commands import Guard

        g = Guard(KEY, cid)
        eq(g.verifier.last_n, 1)
        await obs.close()


async def test_interval_is_kept_in_flash_and_reboot_says_offline_first():
    with Folder():
        cid, board, conn, node, obs = await _rig()
        n = [0]

        def signed(rid, cap, op, params=None):
            n[0] += 1
            return auth.signed_request(KEY, cid, obs.request(rid, cap, op, params), n=n[0])

        r = await obs.call(cid, signed("i1", "lg:telemetry", "set", {"intervalMs": 5}), "i1")
        eq(r["error"]["error"], "INVALID_PARAMS")
        r = await obs.call(cid, signed("i2", "lg:telemetry", "set", {"intervalMs": 750}), "i2")
        eq(r["result"], {"intervalMs": 750})
        eq(node.interval_ms, 750)
        from lgnode import settings

        eq(settings.load(), {"intervalMs": 750})  # a new boot starts with it
        status = "lg/%s/status" % cid
        r = await obs.call(cid, signed("b1", "lg:node", "reboot"), "b1")
        eq(r["result"]["rebooting"], True)
        await obs.wait(lambda: obs.on(status)[-1:] == [("offline", False)])
        for _ in range(50):  # the reset follows the clean disconnect
            if board.resets:
                break
            await asyncio.sleep(0.05)
        eq((board.resets, conn.connected), (1, False))
        await obs.close()


async def test_without_a_key_read_only_calls_stay_open_and_the_rest_is_refused():
    with Folder():
        cid, board, conn, node, obs = await _rig(key=False, free=())
        r = await obs.call(cid, json.dumps(obs.request("s1", "mqtt:connection", "status")), "s1")
        eq(r["result"]["connected"], True)
        r = await obs.call(cid, json.dumps(obs.request("s2", "lg:led", "set", {"on": True})), "s2")
        eq(r["error"]["error"], "AUTH_REQUIRED")
        assert "no auth key" in r["error"]["message"], r
        signed = auth.signed_request(KEY, cid, obs.request("s3", "lg:led", "set", {"on": True}), n=1)
        r = await obs.call(cid, signed, "s3")
        eq(r["error"]["error"], "AUTH_FAILED")
        eq(board.leds, [])
        await conn.close()
        await obs.close()


async def test_led_blinks_per_reading_until_a_command_sets_it():
    with Folder():
        board, dev, conn, tel, node = await _node(unique("led"), {"telemetry": {"intervalMs": 10}})

        async def until(pred):
            for _ in range(500):
                if pred():
                    return
                await asyncio.sleep(0.01)
            raise AssertionError("timed out")

        task = asyncio.create_task(node.telemetry())
        await until(lambda: tel.seq >= 2)
        seq = tel.seq
        node.set_led(True)
        n = len(board.leds)
        await until(lambda: tel.seq >= seq + 2)
        task.cancel()
        await asyncio.sleep(0)
        eq(board.leds[:4], [True, False, True, False], "on while a reading is taken and written")
        assert board.leds[n - 1] is True and all(x is True for x in board.leds[n - 1:]), board.leds
        eq(board.leds.count(False) <= seq + 1, True, "no blinking after lg:led.set")
        await conn.close()
