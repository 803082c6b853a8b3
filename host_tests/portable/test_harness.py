# The dual-interpreter harness checks itself: the same functions run under both
# interpreters, async tests run under asyncio, and errors keep their codes.
import sys

from check import eq, raises
from lgmqtt import compat
from lgmqtt.errors import ConnectorError, TOPIC_ERROR, topic_error


def test_interpreter_is_reported():
    # MICROPYTHON must match the interpreter actually running this test.
    eq(compat.MICROPYTHON, sys.implementation.name == "micropython")


def test_ticks_wrap():
    t = compat.ticks_add(0, -1)
    eq(compat.ticks_diff(compat.ticks_add(t, 10), t), 10)
    eq(compat.ticks_diff(t, compat.ticks_add(t, 10)), -10)


def test_error_shape():
    e = raises(ConnectorError, _raise_topic)
    eq(e.error, TOPIC_ERROR)
    eq(e.to_dict()["details"], {"topic": "a/#/b", "reason": "wildcard in middle of topic"})


def _raise_topic():
    raise topic_error("a/#/b", "wildcard in middle of topic")


async def test_async_runs():
    import asyncio

    ran = []

    async def work():
        await asyncio.sleep_ms(1) if hasattr(asyncio, "sleep_ms") else await asyncio.sleep(0.001)
        ran.append(1)

    await asyncio.gather(work(), work())
    eq(ran, [1, 1])
