# tools/bench memory, cases mqtt_as_v3 / mqtt_as_v5: peterhinch mqtt_as 0.8.3, which
# wants a board: a unique id and a Wi-Fi interface that is up (stubbed by prepare(),
# before the first reading, so the stubs are not counted as its cost).
import sys

PAYLOAD = b"x" * 64


class _WLAN:
    def __init__(self, *a):
        pass

    def active(self, *a):
        return True

    def isconnected(self):
        return True

    def status(self):
        return 1010  # STAT_GOT_IP

    def connect(self, *a, **kw):
        pass

    def disconnect(self):
        pass

    def config(self, *a, **kw):
        pass


class _network:
    STA_IF, STAT_IDLE, STAT_CONNECTING, STAT_GOT_IP = 0, 1000, 1001, 1010
    WLAN = _WLAN


class _machine:
    @staticmethod
    def unique_id():
        return b"\x01\x02\x03\x04"


def prepare(case):
    sys.modules["network"] = _network
    sys.modules["machine"] = _machine


def run(case, probe, host, port, n):
    import asyncio

    asyncio.run(_run(probe, host, port, n, case == "mqtt_as_v5"))


async def _run(probe, host, port, n, v5):
    from mqtt_as import MQTTClient, config

    import mqtt_as

    probe.origin(mqtt_as)
    probe.mark("after_import")
    config["server"], config["port"] = host, port
    config["client_id"] = "bench-mem-mqtt-as"
    config["queue_len"] = 0
    config["mqttv5"] = v5
    c = MQTTClient(config)
    await c.connect(quick=True)
    probe.mark("connected")
    for _ in range(n):
        await c.publish("bench/mem", PAYLOAD, False, 1)  # returns once the PUBACK is in
    probe.mark("after_publish")
    await c.disconnect()
