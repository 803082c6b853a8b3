# Runs under MicroPython, started by tools/benchmarks/harness.py: publishes the
# throughput cases for one or more peers (adapters peer_<module>.py beside this file),
# one command at a time, so that the harness can let its independent subscriber settle
# between cases and restart this process if a peer crashes it.
#
#   micropython driver.py HOST PORT        (commands on stdin, one JSON object a line)
#   {"peer": "lgmqtt", "arg": "", "qos": 1, "window": 20, "version": 4, "n": 2000,
#    "cap_ms": 3000, "topic": "lgb/…/3", "done": "lgbdone/…/3", "cid": "lgb-…"}
# Replies one line each, "@@BENCH " + JSON: {"status": "ok", "sent": n, "ms": t},
# {"status": "unsupported", "reason": …} or {"status": "error", "reason": …}. Peers may
# print what they like on stdout (aiomqttc logs every PUBACK): only marked lines count.
#
# Each case connects a fresh client, publishes up to n messages of 64 bytes (fewer when
# cap_ms runs out: slow peers still finish), and stops the clock when the last publish
# has completed; a QoS 0 stream ends with one QoS 1 publish on the `done` topic, whose
# PUBACK means the broker has read every message before it. Delivery is not judged
# here: the harness counts what its subscriber received.
import asyncio
import gc
import json
import sys
import time

HOST = sys.argv[1]
PORT = int(sys.argv[2])
PAYLOAD = b"x" * 64
MARK = "@@BENCH "

_peers = {}


def reply(obj):
    sys.stdout.write(MARK + json.dumps(obj) + "\n")


def peer(module, arg):
    key = module + ":" + arg
    p = _peers.get(key)
    if p is None:
        p = __import__("peer_" + module).make(arg)
        p.load()  # the peer's own library: an ImportError here is the peer's reason
        _peers[key] = p
    return p


async def serial(p, topic, qos, n, expired):
    sent = 0
    publish = p.publish
    while sent < n:
        await publish(topic, PAYLOAD, qos)
        sent += 1
        if not sent & 15 and expired():
            break
    return sent


async def window(p, topic, qos, n, w, expired):
    # w producers publishing back to back, each awaiting its own publish: the peer's
    # window stays full (for peers whose publish() may be awaited concurrently)
    state = [0, 0]  # started, completed

    async def producer():
        while state[0] < n and not expired():
            state[0] += 1
            await p.publish(topic, PAYLOAD, qos)
            state[1] += 1

    await asyncio.gather(*[producer() for _ in range(w)])
    return state[1]


async def run(cmd):
    p = peer(cmd["peer"], cmd.get("arg", ""))
    qos, w, version, n, cap = cmd["qos"], cmd["window"], cmd["version"], cmd["n"], cmd["cap_ms"]
    why = p.unsupported(qos, w, version)
    if why:
        return {"status": "unsupported", "reason": why}
    await p.connect(HOST, PORT, cmd["cid"], version, w)
    try:
        gc.collect()
        t0 = time.ticks_us()

        def expired():
            return time.ticks_diff(time.ticks_us(), t0) >= cap * 1000

        # an adapter may drive a case its own way (a tick-loop peer, the raw ceilings)
        if w > 1:
            own = p.window
            sent = await (own(cmd["topic"], PAYLOAD, qos, n, w, expired) if own else window(p, cmd["topic"], qos, n, w, expired))
        else:
            own = p.serial
            sent = await (own(cmd["topic"], PAYLOAD, qos, n, expired) if own else serial(p, cmd["topic"], qos, n, expired))
        if qos == 0:
            await p.publish(cmd["done"], b"", 1)
        us = time.ticks_diff(time.ticks_us(), t0)
    except BaseException:
        try:
            await p.disconnect()
        except Exception:
            pass  # the case's own failure is the one to report
        raise
    res = {"status": "ok", "sent": sent, "ms": us / 1000}
    try:
        await p.disconnect()
    except Exception as e:  # measured; only the goodbye failed
        res["note"] = "disconnect failed: " + describe(e)
    return res


def describe(e):
    return "%s: %s" % (type(e).__name__, e)


def main():
    while True:
        line = sys.stdin.readline()
        if not line or line.strip() == "quit":
            break
        cmd = json.loads(line)
        try:
            res = asyncio.run(run(cmd))
        except Exception as e:  # the peer failed this case: say how, go on with the next
            res = {"status": "error", "reason": describe(e)}
        gc.collect()
        reply(res)


main()
