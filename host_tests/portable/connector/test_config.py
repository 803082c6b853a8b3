# config.json validation: every invalid case gives CONFIG_ERROR naming the key path and
# what was expected; defaults fill the rest; secrets merge from their own file and never
# show in status, events or errors.
import os

from check import eq, raises
from lgmqtt import Connector, ConnectorError
from lgmqtt.connector import config

BASE = {"id": "n1", "type": "mqtt", "name": "node", "config": {"host": "127.0.0.1", "port": 1883, "clientId": "n1"}}


def _with(path, value):
    import json

    doc = json.loads(json.dumps(BASE))
    node = doc
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    if value is _DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return doc


_DELETE = object()

INVALID = [
    # (path set, value, expected error path, words in "expected")
    ("config.port", 70000, "config.port", "1..65535"),
    ("config.port", "1883", "config.port", "integer"),
    ("config.port", 0, "config.port", "1..65535"),
    ("config.host", _DELETE, "config.host", "host"),
    ("config.host", 12, "config.host", "string"),
    ("config.keepalive", -1, "config.keepalive", "integer"),
    ("config.clean", "yes", "config.clean", "true or false"),
    ("config.protocol", "http", "config.protocol", "'mqtt'"),
    ("config.protocolVersion", 3, "config.protocolVersion", "4"),
    ("config.colour", "red", "config.colour", "one of"),
    ("config.will", {"topic": "a/#", "payload": "x"}, "config.will.topic", "wildcards"),
    ("config.will", {"topic": "dev/status", "qos": 3}, "config.will.qos", "0, 1 or 2"),
    ("config.will", {"payload": "x"}, "config.will.topic", "value"),
    ("config.brokers", [{"host": "a"}, {"port": 1}], "config.brokers[1].host", "value"),
    ("config.brokers", [{"host": "a", "port": 99999}], "config.brokers[0].port", "1..65535"),
    ("config.loadBalancing", "random", "config.loadBalancing", "round-robin"),
    ("config.tls", {"ca": 5}, "config.tls.ca", "string"),
    ("config.tls", {"ca": "-----BEGIN CERTIFICATE-----"}, "config.protocol", "'mqtts'"),
    ("config.properties", {"sessionExpiryInterval": "300"}, "config.properties", "MQTT 5"),
    ("config.properties", {"receiveMaximum": 0}, "config.properties", "MQTT 5"),
    ("config.properties", {"colour": 1}, "config.properties", "MQTT 5"),
    ("config.will", {"topic": "t", "properties": {"willDelayInterval": -1}}, "config.will.properties", "MQTT 5"),
    ("config.history", {"size": "big"}, "config.history.size", "integer"),
    ("config.history", {"record": ["ok/#", "bad/#/x"]}, "config.history.record[1]", ""),
    ("config.history", {"outboxPolicy": "drop-newest"}, "config.history.outboxPolicy", "drop-oldest"),
    ("config.remote", {"topic": "rpc/+"}, "config.remote.topic", "wildcards"),
    ("capabilities", {"enabled": ["mqtt:teleport"]}, "capabilities.enabled[0]", "mqtt:publish"),
    ("device", ["board", "unix"], "device", "an object"),
    ("type", "http", "type", "'mqtt'"),
    ("config", _DELETE, "config", "value"),
]


def test_every_invalid_case_names_its_key():
    for set_path, value, err_path, words in INVALID:
        e = raises(ConnectorError, config.validate, _with(set_path, value))
        eq(e.error, "CONFIG_ERROR", set_path)
        eq(e.details["path"], err_path, set_path)
        assert words in e.details["expected"], (set_path, e.details)
        assert err_path in e.message, e.message
        # the connector refuses it the same way
        eq(raises(ConnectorError, Connector, _with(set_path, value)).details["path"], err_path)


def test_device_section_is_left_to_the_firmware():
    # the connector checks only that `device` is an object; lgnode.nodecfg checks its keys
    dev = {"board": "esp32", "sensors": [{"type": "bme280"}], "power": {"mode": "deep-sleep"}, "x": 1}
    eq(config.validate(_with("device", dev))["device"], dev)


def test_defaults_fill_optional_keys():
    doc = config.validate(BASE)
    c = doc["config"]
    eq((c["protocol"], c["protocolVersion"], c["keepalive"], c["clean"], c["reconnectPeriod"]), ("mqtt", 4, 60, True, 1000))
    eq((c["queueQoSZero"], c["maxReconnectAttempts"], c["connectTimeout"]), (False, 0, 10000))
    eq(doc["capabilities"]["disabled"], ["mqtt:topics"])
    assert "mqtt:publish" in doc["capabilities"]["enabled"]
    tls = config.validate(_with("config.protocol", "mqtts"))
    eq(tls["config"]["port"], 1883)  # explicit port kept
    no_port = _with("config.port", _DELETE)
    no_port["config"]["protocol"] = "mqtts"
    eq(config.validate(no_port)["config"]["port"], 8883)


def test_repo_config_json_is_valid():
    here = os.getenv("LG_REPO") or "."
    doc = config.load(here + "/config.json", None)
    eq(doc["type"], "mqtt")


def _tmpdir():
    d = "/tmp/lgcfg-%d" % (id(BASE) % 100000)
    try:
        os.mkdir(d)
    except OSError:
        pass
    return d


def test_load_not_json_and_secrets():
    d = _tmpdir()
    with open(d + "/bad.json", "w") as f:
        f.write("{not json")
    e = raises(ConnectorError, config.load, d + "/bad.json", None)
    eq((e.error, e.details["expected"]), ("CONFIG_ERROR", "JSON"))
    e = raises(ConnectorError, config.load, d + "/missing.json", None)
    eq(e.error, "CONFIG_ERROR")
    import json

    with open(d + "/c.json", "w") as f:
        json.dump(dict(BASE, config=dict(BASE["config"], protocol="mqtts")), f)
    with open(d + "/s.json", "w") as f:
        json.dump({"config": {"username": "u1", "password": "hunter2-secret"}, "tls": {"key": "-----BEGIN KEY"}}, f)
    doc = config.load(d + "/c.json", d + "/s.json")
    eq((doc["config"]["username"], doc["config"]["password"]), ("u1", "hunter2-secret"))
    st = Connector(doc).status()
    assert "hunter2" not in repr(st)
    red = config.redact(doc)
    eq((red["config"]["password"], red["config"]["tls"]["key"]), ("***", "***"))
    # a secret in a wrong-typed field is not echoed in the error
    bad = dict(BASE, config=dict(BASE["config"], password=12345))
    e = raises(ConnectorError, config.validate, bad)
    assert "12345" not in e.message, e.message
