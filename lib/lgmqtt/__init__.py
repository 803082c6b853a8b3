# lgmqtt: an MQTT connector for microcontrollers (MicroPython) that runs the same code
# on CPython. `from lgmqtt import Connector, ConnectorError` is the public API; the
# names resolve lazily so that importing one layer (say lgmqtt.mqtt.session) does not load
# the whole connector into a board's RAM.
#
# The layers, each a package whose header says what it may import (nothing imports upward):
#   lgmqtt.mqtt       MQTT 3.1.1 + 5.0 packets, properties, topics, the session (sans-I/O)
#   lgmqtt.net        the asyncio client: transport, TLS, brokers, supervision
#   lgmqtt.store      the ring log in flash, its journal, the history and the outbox
#   lgmqtt.connector  the Looking Glass connector: capabilities, events, delivery, config
# and, shared by all: errors, compat (the only MicroPython/CPython branch), isotime.
__version__ = "0.1.0"


def __getattr__(name):
    if name == "Connector":
        from lgmqtt.connector import Connector

        return Connector
    if name == "ConnectorError":
        from lgmqtt.errors import ConnectorError

        return ConnectorError
    # MicroPython consults this hook for `from lgmqtt import mqtt` before importing the
    # subpackage, and does not fall back if it raises: import it here.
    if name[:1] != "_":
        return __import__("lgmqtt." + name, None, None, (name,))
    raise AttributeError(name)
