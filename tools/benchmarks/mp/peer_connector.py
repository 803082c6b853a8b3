# lgmqtt's connector: Connector.execute("mqtt:publish", "write") through the outbox, on a
# RAM store (arg "ram": config.history without a path) or a file store (arg "file":
# segment files in a fresh folder under /tmp, as a board's LittleFS holds them). A QoS
# 1/2 write returns after the broker's acknowledgement, as the sensor node awaits it.
import os

import lgapi

_SIZE = 65536  # the default config.history.size


def _rmtree(path):
    try:
        names = os.listdir(path)
    except OSError:
        return
    for n in names:
        p = path + "/" + n
        try:
            os.remove(p)
        except OSError:
            _rmtree(p)
    os.rmdir(path)


class Peer:
    serial = None
    window = None

    def __init__(self, store):
        if store not in ("ram", "file"):
            raise ValueError("connector store: ram or file, not %r" % store)
        self.store = store
        self.path = None

    def load(self):
        self.Connector = lgapi.connector_class()

    def unsupported(self, qos, window, version):
        return None

    async def connect(self, host, port, cid, version, window):
        hist = {"size": _SIZE}
        if self.store == "file":
            self.path = "/tmp/" + cid
            _rmtree(self.path)
            hist["path"] = self.path
        self.c = self.Connector({"id": cid, "type": "mqtt", "name": "bench", "config": {
            "host": host, "port": port, "clientId": cid, "protocolVersion": version, "history": hist}})
        await self.c.execute("mqtt:connection", "connect")

    async def publish(self, topic, payload, qos):
        await self.c.execute("mqtt:publish", "write", {"topic": topic, "payload": payload, "qos": qos})

    async def disconnect(self):
        try:
            await self.c.execute("mqtt:connection", "disconnect")
            await self.c.close()
        finally:
            if self.path:
                _rmtree(self.path)


def make(arg):
    return Peer(arg or "ram")
