# peterhinch mqtt_as 0.8.3 (asyncio, QoS 0 and 1, MQTT 3.1.1 and 5). It needs
# machine.unique_id and network.WLAN: tools/benchmarks/stubs/ stands in for both on
# the unix port (Wi-Fi always up). connect(quick=True) skips its 5 s Wi-Fi stability
# check; its first connect still sleeps 1 s waiting for the (stub) Wi-Fi, outside the
# timed part. Windowed: concurrent publish() calls, each awaiting its own PUBACK.
import asyncio


class Peer:
    serial = None
    window = None

    def load(self):
        import mqtt_as

        self.mod = mqtt_as

    def unsupported(self, qos, window, version):
        if qos == 2:
            return "QoS 2 unsupported (qos_check: 'Only qos 0 and 1 are supported.')"
        return None

    async def connect(self, host, port, cid, version, window):
        cfg = dict(self.mod.config)
        cfg.update({"server": host, "port": port, "client_id": cid, "mqttv5": version == 5, "queue_len": 0})
        self.c = self.mod.MQTTClient(cfg)
        await self.c.connect(quick=True)

    async def publish(self, topic, payload, qos):
        await self.c.publish(topic, payload, qos=qos)

    async def disconnect(self):
        await self.c.disconnect()
        await asyncio.sleep_ms(1100)  # its keep-connected task notices within a second


def make(arg):
    return Peer()
