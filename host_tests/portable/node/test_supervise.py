# lgnode.supervise: tasks that fail are restarted with a back-off, a task that keeps
# failing escalates to a reset, and the crash count in flash ends a boot loop in safe
# mode. Both interpreters.
import asyncio

from check import eq, raises
from faults import rmtree, tmpdir
from lgnode.supervise import SAFE_AFTER, Crash, CrashLog, supervise


async def test_a_failing_task_is_reported_and_started_again():
    runs = []
    seen = []

    async def flaky():
        runs.append(1)
        if len(runs) < 3:
            raise MemoryError("no room")
        await asyncio.sleep(10)

    t = asyncio.create_task(supervise("flaky", flaky, lambda n, e: seen.append((n, type(e).__name__))))
    await asyncio.sleep(3.5)  # 1 s, then 2 s of back-off
    t.cancel()
    eq(len(runs), 3)
    eq(seen, [("flaky", "MemoryError"), ("flaky", "MemoryError")])


async def test_a_task_that_keeps_failing_escalates_to_crash():
    async def broken():
        raise ValueError("bug")

    e = None
    try:
        await asyncio.wait_for(supervise("broken", broken, lambda n, e: None, limit=2, window_ms=60000), 20)
    except Crash as x:
        e = x
    assert e is not None and "broken failed 3 times" in str(e), e


async def test_a_task_that_raises_crash_itself_is_not_restarted():
    runs = []

    async def hopeless():
        runs.append(1)
        raise Crash("no heap for a connection")

    e = None
    try:
        await asyncio.wait_for(supervise("hopeless", hopeless, lambda n, e: None), 5)
    except Crash as x:
        e = x
    eq((str(e), len(runs)), ("no heap for a connection", 1))


async def test_a_failing_report_does_not_stop_the_restart():
    runs = []

    async def once():
        runs.append(1)
        if len(runs) == 1:
            raise KeyError("x")
        await asyncio.sleep(10)

    def bad_report(n, e):
        raise RuntimeError("report broke")

    t = asyncio.create_task(supervise("once", once, bad_report))
    await asyncio.sleep(1.5)
    t.cancel()
    eq(len(runs), 2)


def test_crash_log_counts_boots_in_a_row_and_survives_reopen():
    d = tmpdir("crash")
    try:
        path = d + "/lgcrash.txt"
        log = CrashLog(path)
        eq((log.count, log.safe_mode), (0, False))
        for i in range(SAFE_AFTER):
            CrashLog(path).record("MemoryError %d" % i)  # each boot records one crash
        log = CrashLog(path)
        eq((log.count, log.reason, log.safe_mode), (SAFE_AFTER, "MemoryError %d" % (SAFE_AFTER - 1), True))
        log.clear()
        eq(CrashLog(path).count, 0)
        with open(path, "w") as f:
            f.write("garbage")  # a torn or foreign file is no crash count
        eq(CrashLog(path).count, 0)
    finally:
        rmtree(d)


async def test_a_stable_boot_clears_the_count():
    d = tmpdir("stable")
    try:
        path = d + "/lgcrash.txt"
        CrashLog(path).record("x")
        log = CrashLog(path)
        await log.clear_when_stable(100)
        eq(CrashLog(path).count, 0)
    finally:
        rmtree(d)
