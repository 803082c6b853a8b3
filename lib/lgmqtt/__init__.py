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
    # MicroPython consults this hook for `from lgmqtt import codec` before importing
    # the submodule, and does not fall back if it raises: import it here.
    if name[:1] != "_":
        return __import__("lgmqtt." + name, None, None, (name,))
    raise AttributeError(name)
