# One telemetry message per sampling tick, with every configured sensor's values:
#
#   {"seq": 42, "ts": 1718000000, "bme280_temperature": 21.53, "bme280_humidity": 45.1,
#    "internal_temperature": null, "errors": [{"sensor": "internal", "error":
#    "SENSOR_ERROR", "message": "..."}]}
#
#   seq     1, 2, 3... never repeated by this node, across resets and deep sleep: at
#           boot it goes on from the newest telemetry message in the history (the
#           outbox and history live in flash; lgnode.nodecfg makes sure the history
#           keeps the topic). tools/sim counts lost messages by it.
#   ts      the board's clock (Unix seconds) when the values were read: buffered
#           readings keep the time they were taken, not the time they were sent
#   values  one key per value (its object id, lgnode.sensors); null when the sensor
#           failed, and then an entry in "errors" (present only when not empty)
#
# The console lines of the connector's events are here too (both power modes use them).
import asyncio
import gc

from lgmqtt.compat import const
from lgmqtt.errors import ConnectorError, CONFIG_ERROR

_RESERVED = ("seq", "ts", "errors")
_TRIES = const(3)  # writes of one reading that ran out of heap
_RETRY_S = 0.1


def console(conn):
    """Print the connector's events, one line each (README: the node's console lines)."""
    conn.on("connected", lambda e: print("connected broker=%s" % e["broker"]))
    conn.on("disconnected", lambda e: print("disconnected reason=%s" % e["reason"]))
    conn.on("error", lambda e: print("error %s %s" % (e["error"], e["message"])))
    conn.on("message-published", _on_published)


def _on_published(m):
    p = m.get("payload")
    if isinstance(p, dict) and "seq" in p:
        print("published seq=%d topic=%s" % (p["seq"], m["topic"]))


class Telemetry:
    def __init__(self, conn, board, dev):
        from lgnode.sensors import Sampler, build

        self.conn = conn
        self.board = board
        self.topic = dev["telemetry"]["topic"]
        self.qos = dev["telemetry"]["qos"]
        sensors = dev["sensors"]
        if isinstance(sensors, list):  # the config's entries, not yet built (firmware/main.py builds them first)
            sensors = build(sensors, i2c=getattr(board, "i2c", None),
                            internal_temperature=getattr(board, "internal_temperature", None))
        self.sampler = Sampler(sensors)
        for d in self.sampler.descriptors():
            if d[0] in _RESERVED:
                raise ConnectorError(CONFIG_ERROR, "device.sensors: object id %r is a telemetry key of its own"
                                     % d[0], {"path": "device.sensors", "expected": "object ids other than "
                                              + ", ".join(_RESERVED)})
        self.seq = 0
        self.errors = []  # the last tick's sensor errors (lg:node.status)

    async def restore_seq(self):
        """Go on from the newest telemetry message this node stored (0 on a new flash)."""
        try:
            r = await self.conn.execute("mqtt:history", "read", {"topic": self.topic, "limit": 1})
        except ConnectorError as e:
            # mqtt:history disabled, or the log unreadable: numbers start again at 1
            print("error %s sequence number not recovered: %s" % (e.error, e.message))
            return self.seq
        for m in r.get("messages", ()):
            p = m.get("payload")
            if isinstance(p, dict) and isinstance(p.get("seq"), int) and p["seq"] > self.seq:
                self.seq = p["seq"]
        return self.seq

    async def tick(self):
        """Sample every sensor that is due and write one message (QoS from
        device.telemetry: through the outbox in flash). -> (seq, queued)."""
        values, errors = await self.sampler.sample()
        self.seq += 1
        seq = self.seq
        reading = {"seq": seq, "ts": self.board.now()}
        for k in values:
            reading[k] = values[k]
        self.errors = errors
        if errors:
            reading["errors"] = errors
            for e in errors:
                print("sensor-error sensor=%s %s %s" % (e["sensor"], e["error"], e["message"]))
        tries = _TRIES
        while True:
            try:
                r = await self.conn.execute("mqtt:publish", "write", {"topic": self.topic, "payload": reading,
                                                                      "qos": self.qos})
                break
            except ConnectorError as e:
                tries -= 1
                if not (tries and e.details.get("outOfMemory")):
                    print("error %s %s" % (e.error, e.message))
                    return seq, False
            # Out of heap before the outbox took it (after, the write answers queued):
            # the reading is not lost to a moment's shortage, such as a TLS handshake's
            # buffers; the heap is collected and the write tried again a little later.
            gc.collect()
            await asyncio.sleep(_RETRY_S)
        queued = bool(r.get("queued"))
        if queued:
            print("queued seq=%d" % seq)
        return seq, queued
