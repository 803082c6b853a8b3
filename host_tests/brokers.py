"""Real Mosquitto brokers for tests: one process per fixture, own port, own config.

Set LGMQTT_EXTERNAL_BROKER=host:port to point the anonymous fixtures at a broker you
run yourself (e.g. `docker compose -f tools/compose.yml up`); fixtures that need a
configuration only a local process can have (passwords, TLS, limits) then say so.
"""
import os

import pytest

from lghost.mosquitto import Broker, ExternalBroker, make_certs, USER, PASSWORD  # noqa: F401


def _external():
    spec = os.environ.get("LGMQTT_EXTERNAL_BROKER")
    return ExternalBroker(spec) if spec else None


def _local_only(what):
    if _external():
        pytest.skip("%s needs a locally started Mosquitto (LGMQTT_EXTERNAL_BROKER is set)" % what)


@pytest.fixture(scope="module")
def slow_sink():
    """A TCP peer that pauses before reading (tools/fakes/sink.py): back-pressure."""
    from sink import SlowSink

    s = SlowSink()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("certs")))


@pytest.fixture(scope="module")
def mosquitto():
    ext = _external()
    if ext:
        yield ext
        return
    b = Broker().start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def mosquitto_auth():
    _local_only("username/password")
    b = Broker(users={USER: PASSWORD}, env_prefix="LG_BROKER_AUTH").start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def mosquitto_tls(certs):
    _local_only("TLS")
    b = Broker(certs=certs, env_prefix="LG_BROKER_TLS").start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def mosquitto_mtls(certs):
    _local_only("mutual TLS")
    b = Broker(certs=certs, require_cert=True, env_prefix="LG_BROKER_MTLS").start()
    yield b
    b.stop()


@pytest.fixture(scope="module")
def mosquitto_limits():
    """MQTT 5 limits: CONNACK carries Maximum Packet Size 1024, Receive Maximum 5, Maximum QoS 1."""
    _local_only("broker limits")
    b = Broker(options=["max_packet_size 1024", "max_inflight_messages 5", "max_qos 1"],
               env_prefix="LG_BROKER_LIMITS").start()
    yield b
    b.stop()


@pytest.fixture
def broker_factory():
    """Make brokers inside a test (e.g. to kill and restart one, or run two for failover)."""
    made = []

    def make(**kw):
        _local_only("a test-owned broker")
        b = Broker(**kw)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


class _FreePorts:
    def __init__(self, n):
        from lghost.mosquitto import free_port

        self.ports = [free_port() for _ in range(n)]

    def env(self):
        return {"LG_FREE_PORTS": ",".join(str(p) for p in self.ports)}


@pytest.fixture(scope="module")
def free_ports():
    """Loopback ports nobody listens on, for tests that start their own server (the
    MicroPython side cannot ask the OS for one: its Server has no .sockets)."""
    return _FreePorts(8)
