# lgmqtt's client alone (lgmqtt.net.client.Client through lgapi): publish() awaited per
# message (serial) or by 20 producers at once (windowed, maxInflight 20).
import lgapi


class Peer:
    serial = None
    window = None

    def load(self):
        self.Client = lgapi.client_class()

    def unsupported(self, qos, window, version):
        return None

    async def connect(self, host, port, cid, version, window):
        self.c = self.Client({"host": host, "port": port, "clientId": cid, "protocolVersion": version,
                              "maxInflight": max(window, 20)})
        await self.c.connect()

    async def publish(self, topic, payload, qos):
        await self.c.publish(topic, payload, qos)

    async def disconnect(self):
        await self.c.disconnect()


def make(arg):
    return Peer()
