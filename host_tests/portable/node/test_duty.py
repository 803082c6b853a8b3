# The battery duty cycle (lgnode.duty) against a real Mosquitto: each wake-up is a new
# connector on the same flash folder, as after a deep sleep; readings wait in the
# outbox and go in one session every reportEvery samples; RTC memory lost (a power
# cut) loses nothing; a broker that never answers, or none at all, does not keep the
# node awake; requests sent while it slept are served at the next report.
import asyncio
import json

from check import env, eq
from lgmqtt.compat import ticks_ms
from lgnode import auth
from lgnode.duty import Wake, read_rtc
from lgnode.telemetry import Telemetry
from nodekit import Board, Folder, Observer, doc, prepare, retained, unique

FIXTURES = ("mosquitto", "free_ports")
TIMEOUT = 300
KEY = bytes(range(32))


def free_port(i):
    return int(env("LG_FREE_PORTS").split(",")[i])


def _device(**power):
    p = {"mode": "deep-sleep", "samplePeriodMs": 1000, "reportEvery": 3, "awakeMs": 5000, "listenMs": 0}
    p.update(power)
    return {"power": p, "auth": {"key": "".join("%02x" % b for b in KEY)}}


async def wake(cid, board, device=None, **cfg):
    """One wake-up, as lgnode.duty.run does it, without the deep sleep itself."""
    from lgnode import commands

    dev, conn = prepare(doc(cid, device or _device(), **cfg), board)
    w = Wake(conn, board, dev, Telemetry(conn, board, dev), ticks_ms())
    connects = []
    conn.on("connected", connects.append)
    commands.install(conn, w, dev)
    ms = await w.run()
    board.reason = "timer"  # what the next wake-up after a deep sleep says
    return w, ms, len(connects), conn.outbox.stats()["pending"]


async def test_readings_wait_in_flash_and_go_in_one_session_every_n_samples():
    with Folder():
        cid = unique("duty")
        obs = await Observer("lg/%s/telemetry" % cid, "lg/%s/status" % cid).start()
        board = Board()
        w, ms, connects, pending = await wake(cid, board)  # power-on: reports at once
        eq((w.outcome, w.sent, connects, pending), ("sent", 1, 1, 0))
        assert 0 < ms <= 1000, ms
        rows = []
        for _ in range(3):
            w, ms, connects, pending = await wake(cid, board)
            rows.append((w.outcome, connects, pending))
        # two wake-ups only sample (offline, into the flash outbox); the third reports all three
        eq(rows, [(None, 0, 1), (None, 0, 2), ("sent", 1, 0)])
        eq(w.sent, 3)
        tel = "lg/%s/telemetry" % cid
        await obs.wait(lambda: len(obs.on(tel)) == 4)
        got = [json.loads(p) for p, _ in obs.on(tel)]
        eq([g["seq"] for g in got], [1, 2, 3, 4])
        ts = [g["ts"] for g in got]
        eq(ts, sorted(ts), "each reading keeps the time it was taken")
        # clean disconnects only: the broker never sent the Will
        status = "lg/%s/status" % cid
        eq(obs.on(status), [("online", False)])
        eq((await retained(status))[status], "online")
        await obs.close()


async def test_a_power_cut_loses_rtc_memory_but_no_reading():
    with Folder():
        cid = unique("cut")
        obs = await Observer("lg/%s/telemetry" % cid).start()
        board = Board()
        await wake(cid, board)
        await wake(cid, board)
        await wake(cid, board)
        eq(read_rtc(board), (3, 2, True))
        board.rtc, board.reason = None, "power-on"  # the power goes and comes back
        w, ms, connects, pending = await wake(cid, board)
        # seq from the history in flash, not from the lost RTC memory; a power-on reports
        eq((w.tel.seq, w.outcome, pending), (4, "sent", 0))
        tel = "lg/%s/telemetry" % cid
        await obs.wait(lambda: len(obs.on(tel)) == 4)
        eq(sorted(json.loads(p)["seq"] for p, _ in obs.on(tel)), [1, 2, 3, 4])
        await obs.close()


async def test_a_broker_that_never_answers_does_not_keep_the_node_awake():
    async def silent(reader, writer):
        await asyncio.sleep(30)

    port = free_port(0)
    server = await asyncio.start_server(silent, "127.0.0.1", port)
    try:
        with Folder():
            cid = unique("mute")
            board = Board()
            # connectTimeout (10 s) is longer than the node may stay awake (1 s)
            w, ms, connects, pending = await wake(cid, board, _device(awakeMs=1000), port=port,
                                                  connectTimeout=10000)
            eq((w.outcome, connects, pending), ("timeout", 0, 1))
            assert ms is not None, "it sleeps anyway"
            # the broker is back: the next report sends the backlog
            board.reason = "power-on"
            w, ms, connects, pending = await wake(cid, board)
            eq((w.outcome, w.sent, pending), ("sent", 2, 0))
    finally:
        server.close()


async def test_no_broker_then_the_next_attempt_after_n_more_samples():
    with Folder():
        cid = unique("down")
        board = Board()
        port = free_port(1)  # nothing listens there
        w, ms, connects, pending = await wake(cid, board, port=port)
        eq((w.outcome, pending), ("failed", 1))
        outcomes = []
        for _ in range(3):
            w, ms, connects, pending = await wake(cid, board, port=port)
            outcomes.append(w.outcome)
        eq(outcomes, [None, None, "failed"])  # not every wake-up: every reportEvery samples
        eq(pending, 4)


async def test_a_backlog_at_max_backlog_reports_early():
    with Folder():
        cid = unique("backlog")
        board = Board()
        port = free_port(2)
        for _ in range(2):
            await wake(cid, board, _device(reportEvery=10, maxBacklog=3), port=port)
        w, ms, connects, pending = await wake(cid, board, _device(reportEvery=10, maxBacklog=3))
        eq((w.outcome, w.sent, pending), ("sent", 3, 0))


async def test_requests_sent_while_it_slept_are_served_at_the_next_report():
    with Folder():
        cid = unique("asleep")
        obs = await Observer().start()
        board = Board()
        await wake(cid, board)  # the first session subscribes (clean: false keeps it)
        req = obs.request("p1", "lg:telemetry", "set", {"intervalMs": 5000})
        await obs.conn.execute("mqtt:publish", "write", {"topic": "lg/%s/rpc" % cid, "qos": 1,
                                                         "payload": auth.signed_request(KEY, cid, req, n=1)})
        for _ in range(2):
            w, ms, connects, pending = await wake(cid, board)
            eq(w.outcome, None)
        w, ms, connects, pending = await wake(cid, board, _device(listenMs=300))
        eq(w.outcome, "sent")
        await obs.wait(lambda: "p1" in obs.replies)
        eq(obs.replies["p1"]["result"], {"intervalMs": 5000})
        assert 1000 < ms <= 5000, ms  # the next sleep already follows the new period (not the old 1 s)
        await obs.close()


async def test_a_reboot_command_resets_instead_of_sleeping():
    with Folder():
        cid = unique("reboot")
        obs = await Observer().start()
        board = Board()
        await wake(cid, board)
        req = obs.request("b1", "lg:node", "reboot")
        await obs.conn.execute("mqtt:publish", "write", {"topic": "lg/%s/rpc" % cid, "qos": 1,
                                                         "payload": auth.signed_request(KEY, cid, req, n=1)})
        board.reason = "power-on"
        w, ms, connects, pending = await wake(cid, board, _device(listenMs=300))
        await obs.wait(lambda: "b1" in obs.replies)
        eq((ms, w.outcome), (None, "sent"))
        await obs.close()
