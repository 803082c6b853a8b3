"""Inputs only CPython can build (strings with lone surrogates: MicroPython's str is
always valid UTF-8) still get a ConnectorError with a code, never a bare exception."""
import asyncio

import pytest

from lgmqtt import Connector, ConnectorError


@pytest.mark.parametrize("params, code", [
    ({"topic": "a/\ud800", "payload": 1}, "TOPIC_ERROR"),
    ({"topic": "a", "payload": "x\udc00"}, "INVALID_PARAMS"),
    ({"topic": "a", "payload": 1, "properties": {"correlationData": "\ud800"}}, "INVALID_PARAMS"),
])
def test_unencodable_text_is_a_clear_error(params, code):
    c = Connector({"config": {"host": "127.0.0.1", "port": 1, "clientId": "lg-input", "queueQoSZero": True}})
    with pytest.raises(ConnectorError) as e:
        asyncio.run(c.execute("mqtt:publish", "write", params))
    assert e.value.error == code
    assert c.outbox.stats()["pending"] == 0


def test_update_config_with_a_non_object_is_config_error():
    c = Connector({"config": {"host": "127.0.0.1", "port": 1, "clientId": "lg-input"}})
    with pytest.raises(ConnectorError) as e:
        asyncio.run(c.update_config({"config": "x"}))
    assert e.value.error == "CONFIG_ERROR"
