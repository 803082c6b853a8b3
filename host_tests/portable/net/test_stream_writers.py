# Several tasks writing to one connection while the peer is slow (the socket is full
# and writes wait in drain()): every byte arrives once, in each writer's order, and
# nobody waits for ever. The client's reader (acks), writer task, publishers and
# supervisor all write to one stream; on MicroPython, asyncio's Stream.drain() drops
# what is written while it waits, and its I/O queue wakes one writer per socket, so
# lgmqtt.net.transport.Stream serializes the drains.
import asyncio

from check import env, eq
from lgmqtt.net import transport

FIXTURES = ("slow_sink",)
TIMEOUT = 120
WRITERS = 3
MAX_BLOCKS = 40000  # per writer, 256 bytes each; they stop once the socket pushed back
FULL = 30           # a writer stops after this many writes found the socket full


def _block(t, i):
    head = "%d,%d," % (t, i)
    return (head + "x" * (255 - len(head)) + "\n").encode()


async def test_concurrent_writers_under_back_pressure_lose_and_repeat_nothing():
    st = await transport.open(env("LG_SINK_HOST"), int(env("LG_SINK_PORT")), timeout_ms=5000)
    sent, full = [0] * WRITERS, [0] * WRITERS

    async def writer(t):
        while sent[t] < MAX_BLOCKS and full[t] < FULL:
            st.write(_block(t, sent[t]))
            sent[t] += 1
            if st.pending():
                full[t] += 1
            await st.drain()

    try:
        await asyncio.wait_for(asyncio.gather(*[writer(t) for t in range(WRITERS)]), 30)
    except asyncio.TimeoutError:
        raise AssertionError("writers stuck in drain() (sent %r, found full %r)" % (sent, full))
    eq(sum(full) > WRITERS, True)  # the socket did push back: the drains overlapped
    st.write(b"END\n")
    await st.drain()
    got = b""
    while not got.endswith(b"\n"):
        part = await st.read(200)
        if not part:
            break
        got += part
    await st.close()
    eq(got, ("OK %d\n" % sum(sent)).encode())
