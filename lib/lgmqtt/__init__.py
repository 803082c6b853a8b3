# lgmqtt: an MQTT connector for microcontrollers (MicroPython) that runs the same code
# on CPython. `from lgmqtt import Connector, ConnectorError` is the public API; the
# names resolve lazily so that importing one submodule (say lgmqtt.codec) does not load
# the whole connector into a board's RAM.
__version__ = "0.1.0"


def __getattr__(name):
    if name == "Connector":
        from lgmqtt.connector import Connector

        return Connector
    if name == "ConnectorError":
        from lgmqtt.errors import ConnectorError

        return ConnectorError
    raise AttributeError(name)
