# Which broker to use next. `brokers: [{host, port, weight}]` with `failover: true`
# moves to the next one when a connection attempt fails; `loadBalancing` picks the
# order: "round-robin" (the configured order) or "weighted" (a weighted shuffle seeded
# by the client id, so a fleet spreads by weight while each device stays predictable).
from lgmqtt.errors import ConnectorError, CONFIG_ERROR


def _seed(s):
    h = 2166136261
    for c in s.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h or 1


class BrokerList:
    def __init__(self, cfg):
        brokers = cfg.get("brokers") or [{"host": cfg.get("host"), "port": cfg.get("port")}]
        self.list = []
        for i, b in enumerate(brokers):
            if not b.get("host"):
                raise ConnectorError(CONFIG_ERROR, "brokers[%d].host is required" % i, {"path": "config.brokers[%d].host" % i})
            e = dict(b)
            if not e.get("port"):
                e["port"] = 8883 if b.get("protocol", cfg.get("protocol")) == "mqtts" else 1883
            e.setdefault("weight", 1)
            self.list.append(e)
        self.failover = cfg.get("failover", len(self.list) > 1)
        self.order = list(range(len(self.list)))
        if cfg.get("loadBalancing") == "weighted" and len(self.list) > 1:
            self.order = self._weighted_order(_seed(cfg.get("clientId", "")))
        self._pos = 0

    def _weighted_order(self, x):
        left = list(range(len(self.list)))
        order = []
        while left:
            total = sum(self.list[i]["weight"] for i in left)
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            r = x % total if total else 0
            for i in left:
                r -= self.list[i]["weight"]
                if r < 0:
                    break
            left.remove(i)
            order.append(i)
        return order

    @property
    def index(self):
        return self.order[self._pos]

    def current(self):
        return self.list[self.index]

    def current_name(self):
        b = self.current()
        return "%s:%d" % (b["host"], b["port"])

    def failed(self):
        """The current broker could not be reached: move on if failover is on."""
        if self.failover:
            self._pos = (self._pos + 1) % len(self.order)

    def select(self, index):
        if not 0 <= index < len(self.list):
            raise ConnectorError(CONFIG_ERROR, "no broker %d (have %d)" % (index, len(self.list)), {"index": index})
        self._pos = self.order.index(index)
