# A history query never stalls the event loop (issue 9, item 7): mqtt:history read and
# retained walk the log a few records at a time (store.history.PACE) and let other
# tasks run in between. Counted as turns another task gets during one query (a
# behaviour, not a time): a scan in one go gives it none.
import asyncio

from check import eq
from lgmqtt import Connector
from lgmqtt.store.history import PACE

N = 400


def _conn():
    c = Connector({"id": "p", "type": "mqtt", "config": {"host": "127.0.0.1", "clientId": "paced",
                                                          "history": {"size": 32768, "segments": 4}}})
    for i in range(N):
        c.history.record("received", "t/%d" % (i % 50), b"x", 0, i % 7 == 0)
    return c


async def _turns_during(coro):
    turns = [0]
    stop = [False]

    async def ticker():
        while not stop[0]:
            turns[0] += 1
            await asyncio.sleep(0)

    t = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    base = turns[0]
    r = await coro
    n = turns[0] - base
    stop[0] = True
    await t
    return r, n


async def test_history_read_of_the_whole_log_gives_the_loop_turns():
    c = _conn()
    # a filter nothing matches: the query walks every record
    r, n = await _turns_during(c.execute("mqtt:history", "read", {"topic": "none/#", "limit": 5}))
    eq(r["count"], 0)
    eq(n >= N // PACE - 2, True)
    r, n = await _turns_during(c.execute("mqtt:history", "read", {"limit": 3}))
    eq(r["count"], 3)  # a query that ends early needs no turns to be right
    await c.close()


async def test_history_retained_gives_the_loop_turns():
    c = _conn()
    r, n = await _turns_during(c.execute("mqtt:history", "retained", {}))
    eq(r["count"] > 0, True)
    eq(n >= N // PACE - 2, True)
    await c.close()
