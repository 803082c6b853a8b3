# A board without networking: RPI_PICO's firmware has no socket module (and a Pico W's
# network stack may not be there at boot). The connector must still import, queue
# QoS 1/2 writes to the outbox and read history; connect fails with CONNECTION_FAILED
# naming the cause. The missing module is simulated as the interpreter would see it:
# `import socket` raises ImportError (CPython: None in sys.modules; MicroPython: socket
# is an extensible built-in, so a socket.py first on sys.path shadows it; ours raises).
# lgmqtt is imported afresh while socket is hidden and the original modules are put
# back afterwards, so the other tests keep their module objects.
import sys

from check import araises, eq
from faults import rmtree, tmpdir

_STUB = "raise ImportError(\"no module named 'socket'\")\n"


class _NoSocket:
    def __enter__(self):
        self.saved = {n: m for n, m in sys.modules.items() if n == "socket" or n.split(".")[0] == "lgmqtt"}
        for n in self.saved:
            del sys.modules[n]
        self.dir = None
        if sys.implementation.name == "micropython":
            self.dir = tmpdir("nonet")
            with open(self.dir + "/socket.py", "w") as f:
                f.write(_STUB)
            sys.path.insert(0, self.dir)
        else:
            sys.modules["socket"] = None
        return self

    def __exit__(self, *exc):
        for n in [n for n in sys.modules if n == "socket" or n.split(".")[0] == "lgmqtt"]:
            del sys.modules[n]
        sys.modules.update(self.saved)
        if self.dir is not None:
            sys.path.remove(self.dir)
            rmtree(self.dir)
        return False


def _doc(**cfg):
    c = {"host": "127.0.0.1", "port": 1883, "clientId": "nonet-1", "reconnectPeriod": 100, "connectTimeout": 2000}
    c.update(cfg)
    return {"id": "nonet", "type": "mqtt", "name": "no network", "config": c}


def test_socket_really_hidden():
    with _NoSocket():
        try:
            import socket  # noqa: F401
        except ImportError:
            return
    raise AssertionError("import socket succeeded: the simulation hides nothing")


async def test_connector_without_a_network_module():
    with _NoSocket():
        from lgmqtt import Connector, ConnectorError

        c = Connector(_doc())
        r1 = await c.execute("mqtt:publish", "write", {"topic": "nn/a", "payload": {"v": 1}, "qos": 1})
        r2 = await c.execute("mqtt:publish", "write", {"topic": "nn/b", "payload": "two", "qos": 2})
        eq((r1["queued"], r1["qos"], r2["queued"], r2["qos"]), (True, 1, True, 2))
        assert r2["outboxId"] > r1["outboxId"], (r1, r2)
        h = await c.execute("mqtt:history", "read", {"order": "oldest"})
        eq([(m["topic"], m["payload"], m["qos"], m["direction"]) for m in h["messages"]],
           [("nn/a", {"v": 1}, 1, "published"), ("nn/b", "two", 2, "published")])
        e = await araises(ConnectorError, c.execute("mqtt:connection", "connect"))
        eq((e.error, e.details["reason"]), ("CONNECTION_FAILED", "no network module"))
        assert "no network module" in e.message, e.message
        st = await c.execute("mqtt:connection", "status")
        eq((st["connected"], st["outbox"]["pending"]), (False, 2))
        await c.execute("mqtt:connection", "disconnect")
        eq([m.id for m in c.outbox.pending()], [r1["outboxId"], r2["outboxId"]])
        assert "socket" not in sys.modules or sys.modules["socket"] is None
