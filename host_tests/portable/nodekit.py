# Helpers for the node tests (test_node.py, test_duty.py): a board that has what the
# node needs and records what it is asked to do, a node built from a config the way
# firmware/main.py builds it, and an observer on a real Mosquitto (an lgmqtt
# Connector: it runs under every interpreter).
import asyncio
import json
import os

from check import env
from faults import rmtree, tmpdir
from lgmqtt import Connector

_n = [0]


class Slept(Exception):
    def __init__(self, ms):
        Exception.__init__(self, ms)
        self.ms = ms


class Board:
    """A board without hardware: internal temperature, LED, clock, reset, RTC memory
    (a bytes attribute: a power cut is `rtc = None`) and a deep sleep that raises."""
    name = "test"
    i2c = None

    def __init__(self, temp=41.5, network=True):
        self.temp = temp
        self.leds = []
        self.resets = 0
        self.t = 1718000000
        self.network = network
        self.rtc = None
        self.reason = "power-on"

    async def network_up(self, timeout_ms=10000):
        return self.network

    def internal_temperature(self):
        return self.temp

    def led(self, on):
        self.leds.append(on)

    def feed_watchdog(self):
        pass

    def now(self):
        self.t += 1
        return self.t

    def reset(self):
        self.resets += 1

    def wake_reason(self):
        return self.reason

    def rtc_memory(self):
        return self.rtc

    def set_rtc_memory(self, b):
        self.rtc = bytes(b)

    def deep_sleep(self, ms):
        self.reason = "timer"
        raise Slept(ms)


def unique(tag):
    """A client id no other interpreter's run uses (the broker outlives each run)."""
    import sys

    _n[0] += 1
    return "lgn-%s-%s%d-%d-%s" % (tag, sys.implementation.name[:2], 64 if sys.maxsize > 2 ** 32 else 32, _n[0],
                                  "".join("%02x" % b for b in os.urandom(3)))


def doc(cid, device=None, **cfg):
    c = {"host": env("LG_BROKER_HOST"), "port": int(env("LG_BROKER_PORT")), "clientId": cid,
         "reconnectPeriod": 100, "connectTimeout": 5000, "history": {"path": "history", "size": 16384},
         "remote": {"allow": ["mqtt:connection.status", "mqtt:history.read", "lg:node.status", "lg:led.set",
                             "lg:telemetry.set", "lg:node.reboot"]}}
    c.update(cfg)
    return {"id": cid, "type": "mqtt", "name": "Test node", "config": c, "device": device or {}}


def prepare(d, board):
    """firmware/main.py's steps: device section, sensors, connector."""
    from lgnode import nodecfg, sensors

    dev = nodecfg.check(d)
    dev["sensors"] = sensors.build(dev["sensors"], i2c=board.i2c, internal_temperature=board.internal_temperature)
    return dev, Connector(d)


class Folder:
    """Run in a fresh folder (the board's filesystem): the node's files go there."""

    def __enter__(self):
        self.old = os.getcwd()
        self.path = tmpdir("node")
        os.chdir(self.path)
        return self

    def __exit__(self, *exc):
        os.chdir(self.old)
        rmtree(self.path)


class Observer:
    """Subscribes to filters; keeps (topic, payload text, retain) per message."""

    def __init__(self, *filters):
        self.conn = Connector(doc(unique("obs"), remote={"enabled": False}, history={}))
        self.filters = filters
        self.got = []
        self.ev = asyncio.Event()
        self.conn.on("message-received", self._on)
        self.replies = {}

    def _on(self, m):
        raw = bytes(m["rawPayload"]).decode()
        self.got.append((m["topic"], raw, m["retain"]))
        if m["topic"].startswith("reply/"):
            self.replies[json.loads(raw)["id"]] = json.loads(raw)
        self.ev.set()

    async def start(self):
        await self.conn.execute("mqtt:connection", "connect")
        mine = ("reply/%s" % self.conn.cfg["clientId"],)  # where requests made here are answered
        await self.conn.execute("mqtt:subscribe", "subscribe", {"topics": [{"topic": f, "qos": 1}
                                                                           for f in self.filters + mine]})
        return self

    async def wait(self, pred, timeout=10):
        async def w():
            while not pred():
                self.ev.clear()
                await self.ev.wait()
        await asyncio.wait_for(w(), timeout)

    def on(self, topic):
        return [(p, r) for t, p, r in self.got if t == topic]

    async def call(self, device, payload, rid):
        """Publish a request (text) on the device's topic and wait for the reply."""
        self.replies.pop(rid, None)
        await self.conn.execute("mqtt:publish", "write", {"topic": "lg/%s/rpc" % device, "payload": payload,
                                                          "qos": 1})
        await self.wait(lambda: rid in self.replies)
        return self.replies[rid]

    def request(self, rid, capability, operation, params=None):
        return {"id": rid, "replyTo": "reply/%s" % self.conn.cfg["clientId"], "capability": capability,
                "operation": operation, "params": params or {}}

    async def close(self):
        await self.conn.close()


async def retained(*filters):
    """What the broker holds retained now: a fresh subscriber's first messages."""
    o = await Observer(*filters).start()
    await asyncio.sleep(0.3)
    await o.close()
    return {t: p for t, p, r in o.got if r}
