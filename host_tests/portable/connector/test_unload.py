# One-shot code leaves the heap: the config validator after Connector() (also after a
# CONFIG_ERROR), and lgmqtt.compat.unload's contract (module and parent attribute gone).
import sys

from check import eq, raises
from lgmqtt import Connector, ConnectorError
from lgmqtt.compat import unload


def _loaded():
    import lgmqtt.connector as pkg

    return "lgmqtt.connector.config" in sys.modules or "config" in pkg.__dict__


def test_validator_gone_after_the_connector_is_built():
    Connector({"id": "u", "type": "mqtt", "config": {"host": "127.0.0.1", "clientId": "u1"}})
    eq(_loaded(), False)


def test_validator_gone_after_a_config_error():
    e = raises(ConnectorError, Connector, {"id": "u", "type": "mqtt", "config": {"host": "127.0.0.1", "port": "x"}})
    eq(e.error, "CONFIG_ERROR")
    eq(_loaded(), False)


def test_unload_forgets_module_and_parent_attribute():
    import lgmqtt.connector.configfile  # noqa: F401
    import lgmqtt.connector as pkg

    eq("configfile" in pkg.__dict__, True)
    unload("lgmqtt.connector.configfile")
    eq(("lgmqtt.connector.configfile" in sys.modules, "configfile" in pkg.__dict__), (False, False))
    unload("lgmqtt.connector.configfile")  # twice: nothing to do, no error
    unload("nosuch")
    import lgmqtt.connector.configfile as again  # loads again when needed

    eq(callable(again.read), True)
