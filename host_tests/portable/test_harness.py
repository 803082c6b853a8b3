# The multi-interpreter harness checks itself: the same functions run under every
# interpreter id, async tests run under asyncio, and errors keep their codes.
import sys

from check import env, eq, raises
from lgmqtt import compat
from lgmqtt.errors import ConnectorError, TOPIC_ERROR, topic_error


def test_interpreter_is_reported():
    # MICROPYTHON must match the interpreter actually running this test.
    eq(compat.MICROPYTHON, sys.implementation.name == "micropython")


def test_interpreter_matches_its_id():
    # each id runs on what it says: the wheel is 64-bit with double floats; the board-like
    # build is 32-bit (31-bit small ints) with single-precision floats, as ESP32/RP2040
    interp = env("LGTEST_INTERP")
    eq(sys.implementation.name, "cpython" if interp == "cpython" else "micropython")
    if interp == "micropython32":
        eq(sys.maxsize, 2**31 - 1)
        eq(repr(1.0 / 3), "0.33333334")
    else:
        eq(sys.maxsize, 2**63 - 1)
        eq(repr(1.0 / 3), "0.3333333333333333")


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
