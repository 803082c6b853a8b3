# aiomqttc (asyncio, MQTT 3.1.1, QoS 0 and 1): publish() at QoS 1 polls for its PUBACK
# every 100 ms, and logs each PUBACK on stdout; measured as shipped. Its log lines read
# machine.RTC, which the unix port lacks: tools/benchmarks/stubs/ gives it one.


class Peer:
    serial = None
    window = None

    def load(self):
        import aiomqttc

        self.mod = aiomqttc

    def unsupported(self, qos, window, version):
        if version == 5:
            return "MQTT 5 unsupported (3.1.1 only)"
        if qos == 2:
            return "QoS 2 unsupported (documented QoS 0/1; it sends the PUBLISH but never answers PUBREC)"
        return None

    async def connect(self, host, port, cid, version, window):
        self.c = self.mod.MQTTClient(client_id=cid, server=host, port=port, keepalive=60)
        if not await self.c.connect():
            raise OSError("aiomqttc connect() returned False")

    async def publish(self, topic, payload, qos):
        await self.c.publish(topic, payload, qos=qos)

    async def disconnect(self):
        await self.c.disconnect()


def make(arg):
    return Peer()
