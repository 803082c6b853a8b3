# Keeping a node alive with nobody there to press reset.
#
# - supervise(): a task that fails (any exception: MemoryError on a board, a bug) is
#   reported, the heap collected, and the task started again after a back-off (1 s,
#   doubling to 60 s). Failing more than `limit` times within `window_ms` raises Crash:
#   the firmware then resets the board, the one cure left. A task may raise Crash
#   itself (the node: no heap left for a connection).
# - CrashLog: how many boots in a row crashed before they had run STABLE_MS, and why
#   the last one did, in a small file in flash (written only on a crash, and once by a
#   boot that became stable). After SAFE_AFTER such crashes the firmware starts in safe
#   mode: it says why on the console and starts nothing else (no connector, no
#   watchdog), so the console and a deploy can still reach the board. Deleting the file
#   (tools/deploy does) leaves safe mode.
import asyncio
import gc

from lgmqtt.compat import const, ticks_diff, ticks_ms

SAFE_AFTER = const(5)
STABLE_MS = const(300000)
_MAX_BACKOFF_MS = const(60000)


class Crash(Exception):
    """A supervised task failed too often: reset the board."""


class CrashLog:
    def __init__(self, path):
        self.path = path
        self.count, self.reason = 0, ""
        try:
            with open(path) as f:
                parts = f.read().split("\n", 1)
            self.count = int(parts[0])
            self.reason = parts[1][:200] if len(parts) > 1 else ""
        except (OSError, ValueError):  # no file (the usual case), or a torn one: no crashes
            pass

    @property
    def safe_mode(self):
        return self.count >= SAFE_AFTER

    def record(self, reason):
        self.count += 1
        self.reason = reason[:200]
        self._write()

    def clear(self):
        """This boot ran long enough: the crash count starts again from 0."""
        if self.count:
            self.count, self.reason = 0, ""
            self._write()

    def _write(self):
        # write then rename: a power cut leaves the old file or the new one
        import os

        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n%s" % (self.count, self.reason))
        os.rename(tmp, self.path)

    async def clear_when_stable(self, ms=STABLE_MS):
        await asyncio.sleep(ms / 1000)
        self.clear()


async def supervise(name, start, report, limit=5, window_ms=600000):
    """Run the coroutine function `start` for ever, restarting it when it raises.
    report(name, exc) is told each failure. Raises Crash after more than `limit`
    failures within window_ms."""
    fails = []
    backoff = 1000
    while True:
        try:
            await start()
            backoff = 1000  # it returned: start it again at once
            continue
        except (asyncio.CancelledError, Crash):  # Crash: the task itself says only a reset cures it
            raise
        except Exception as e:  # noqa: B902 - any failure: report it and go on
            try:
                report(name, e)
            except Exception:  # noqa: B902,S110 - a failing report must not stop the restart
                pass
        now = ticks_ms()
        fails = [t for t in fails if ticks_diff(now, t) < window_ms] + [now]
        if len(fails) > limit:
            raise Crash("%s failed %d times in %d s" % (name, len(fails), window_ms // 1000))
        gc.collect()
        await asyncio.sleep(backoff / 1000)
        backoff = min(backoff * 2, _MAX_BACKOFF_MS)
