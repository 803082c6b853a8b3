# config.json's device section, validated by the node (lgnode.nodecfg): every bad key
# is CONFIG_ERROR naming it, defaults are filled in, availability sets the Will, deep
# sleep gets its session settings, and the secret key never shows.
import sys

from check import eq, raises
from lgmqtt.errors import ConnectorError
from lgnode import nodecfg

KEY = "00112233445566778899aabbccddeeff"


def _doc(device=None, **cfg):
    c = {"host": "127.0.0.1", "clientId": "lg-node-1", "history": {"path": "history"}}
    c.update(cfg)
    d = {"id": "n", "type": "mqtt", "name": "Greenhouse", "config": c}
    if device is not None:
        d["device"] = device
    return d


INVALID = [
    # (device section, error path, words in "expected")
    ({"colour": 1}, "device.colour", "one of"),
    ({"board": "arduino"}, "device.board", "'esp32'"),
    ({"telemetry": {"qos": 3}}, "device.telemetry.qos", "0..2"),
    ({"telemetry": {"intervalMs": 5}}, "device.telemetry.intervalMs", "10.."),
    ({"telemetry": {"topic": "lg/+/t"}}, "device.telemetry.topic", "wildcards"),
    ({"telemetry": {"period": 1}}, "device.telemetry.period", "one of"),
    ({"wifi": {"ssid": "x", "channel": 6}}, "device.wifi.channel", "one of"),
    ({"watchdogMs": -1}, "device.watchdogMs", "integer"),
    ({"offlineRebootS": 30}, "device.offlineRebootS", "60..604800"),
    ({"offlineRebootS": "15m"}, "device.offlineRebootS", "0 (never)"),
    ({"ledPin": True}, "device.ledPin", "pin"),
    ({"sensors": {"type": "sim"}}, "device.sensors", "list"),
    ({"availability": {"enabled": "yes"}}, "device.availability.enabled", "true or false"),
    ({"availability": {"topic": "a/#"}}, "device.availability.topic", "wildcards"),
    ({"availability": {"retain": False}}, "device.availability.retain", "one of"),
    ({"homeassistant": {"prefix": "ha/#"}}, "device.homeassistant.prefix", "wildcards"),
    ({"homeassistant": {"nodeId": "lg node"}}, "device.homeassistant.nodeId", "[a-zA-Z0-9_-]"),
    ({"homeassistant": {"name": ""}}, "device.homeassistant.name", "1..64"),
    ({"homeassistant": {"discover": True}}, "device.homeassistant.discover", "one of"),
    ({"auth": {"unauthenticated": ["lg:led.set"]}}, "device.auth.unauthenticated[0]", "read-only"),
    ({"auth": {"unauthenticated": "mqtt:connection.status"}}, "device.auth.unauthenticated", "list"),
    ({"auth": {"windowMs": 10}}, "device.auth.windowMs", "1000.."),
    ({"auth": {"key": "abcd"}}, "auth.key", "hex"),
    ({"power": {"mode": "eco"}}, "device.power.mode", "'deep-sleep'"),
    ({"power": {"mode": "deep-sleep", "reportEvery": 0}}, "device.power.reportEvery", "1..1000"),
    ({"power": {"awakeMs": 100}}, "device.power.awakeMs", "500.."),
    ({"power": {"awakeMs": 1000, "listenMs": 1000}}, "device.power.listenMs", "less than"),
    ({"power": {"sleepMs": 1}}, "device.power.sleepMs", "one of"),
]


def test_every_invalid_key_is_named():
    for dev, path, words in INVALID:
        e = raises(ConnectorError, nodecfg.check, _doc(dev))
        eq(e.error, "CONFIG_ERROR", path)
        eq(e.details["path"], path, repr(dev))
        assert words in e.details["expected"], (dev, e.details)
        assert path in e.message, e.message


def test_defaults():
    doc = _doc()
    dev = nodecfg.check(doc)
    eq(dev["board"], "unix")
    eq(dev["clientId"], "lg-node-1")
    eq(dev["offlineRebootS"], 900)  # 15 minutes without a broker: reset
    eq(nodecfg.check(_doc({"offlineRebootS": 0}))["offlineRebootS"], 0)  # never
    eq(dev["telemetry"], {"topic": "lg/lg-node-1/telemetry", "intervalMs": 2000, "qos": 1})
    eq(dev["sensors"], [{"type": "internal", "objectIds": {"temperature": "temperature"}}])
    eq(dev["availability"], ("lg/lg-node-1/status", "online", "offline"))
    eq(dev["homeassistant"], None)  # on when the section exists
    eq(dev["auth"], {"key": None, "unauthenticated": (), "windowMs": 300000})
    eq(dev["power"], {"mode": "always-on", "samplePeriodMs": 60000, "reportEvery": 10, "maxBacklog": 0,
                      "awakeMs": 15000, "listenMs": 300})
    # availability's Will: the broker says "offline" (retained) when the node vanishes
    eq(doc["config"]["will"], {"topic": "lg/lg-node-1/status", "payload": "offline", "qos": 1, "retain": True})
    eq("clean" in doc["config"], False, "always-on leaves the session setting alone")


def test_client_id_falls_back_to_the_document_id():
    doc = _doc()
    del doc["config"]["clientId"]
    eq(nodecfg.check(doc)["telemetry"]["topic"], "lg/n/telemetry")


def test_homeassistant_section_turns_discovery_on():
    dev = nodecfg.check(_doc({"board": "esp32", "homeassistant": {}}))
    ha = dev["homeassistant"]
    eq(ha["prefix"], "homeassistant")
    eq(ha["node"]["node_id"], "lg-node-1")
    eq(ha["node"]["name"], "Greenhouse")
    eq(ha["node"]["model"], "lgmqtt node (esp32)")
    assert ha["node"]["sw_version"].startswith("lgnode "), ha
    dev = nodecfg.check(_doc({"homeassistant": {"enabled": False}}))
    eq(dev["homeassistant"], None)
    ha = nodecfg.check(_doc({"homeassistant": {"prefix": "ha", "nodeId": "gh_1", "name": "GH", "model": "v2",
                                               "manufacturer": "Acme"}}))["homeassistant"]
    eq((ha["prefix"], ha["node"]["node_id"], ha["node"]["manufacturer"]), ("ha", "gh_1", "Acme"))
    # a client id that is not an HA id needs an explicit nodeId
    e = raises(ConnectorError, nodecfg.check, _doc({"homeassistant": {}}, clientId="lg.node"))
    eq(e.details["path"], "device.homeassistant.nodeId")


def test_availability_off_or_a_will_of_ones_own():
    doc = _doc({"availability": {"enabled": False}}, will={"topic": "x/gone", "payload": "bye"})
    eq(nodecfg.check(doc)["availability"], None)
    eq(doc["config"]["will"]["topic"], "x/gone")
    e = raises(ConnectorError, nodecfg.check, _doc({}, will={"topic": "x/gone"}))
    eq(e.details["path"], "config.will")
    doc = _doc({"availability": {"topic": "site/{clientId}/alive", "online": "1", "offline": "0"}})
    eq(nodecfg.check(doc)["availability"], ("site/lg-node-1/alive", "1", "0"))
    eq(doc["config"]["will"]["payload"], "0")


def test_deep_sleep_needs_a_flash_outbox_and_keeps_one_session():
    doc = _doc({"power": {"mode": "deep-sleep", "samplePeriodMs": 30000, "reportEvery": 20}})
    dev = nodecfg.check(doc)
    eq(dev["power"]["mode"], "deep-sleep")
    eq(doc["config"]["clean"], False)  # one broker session across wake-ups
    doc = _doc({"power": {"mode": "deep-sleep", "samplePeriodMs": 600000, "reportEvery": 10}}, protocolVersion=5)
    nodecfg.check(doc)
    eq(doc["config"]["properties"], {"sessionExpiryInterval": 24000})  # 4 report periods
    doc = _doc({"power": {"mode": "deep-sleep"}}, clean=True)
    nodecfg.check(doc)
    eq(doc["config"]["clean"], True, "an explicit setting stays")
    e = raises(ConnectorError, nodecfg.check, _doc({"power": {"mode": "deep-sleep"}}, history={}))
    eq(e.details["path"], "config.history.path")
    e = raises(ConnectorError, nodecfg.check, _doc({"power": {"mode": "deep-sleep"}, "telemetry": {"qos": 0}}))
    eq(e.details["path"], "device.telemetry.qos")


def test_history_must_keep_the_telemetry_topic():
    # the sequence number is recovered from the newest telemetry record after a reset
    e = raises(ConnectorError, nodecfg.check, _doc(history={"path": "h", "record": ["alerts/#"]}))
    eq(e.details["path"], "config.history.record")
    assert "lg/lg-node-1/telemetry" in e.message, e.message
    nodecfg.check(_doc(history={"path": "h", "record": ["alerts/#", "lg/+/telemetry"]}))


def test_auth_key_leaves_the_document_and_never_shows():
    dev_in = {"auth": {"key": KEY, "unauthenticated": ["mqtt:connection.status", "lg:node.status"]}}
    doc = _doc(dev_in)
    dev = nodecfg.check(doc)
    eq(dev["auth"]["key"], bytes(range(0, 256, 17)))
    eq(dev["auth"]["unauthenticated"], ("mqtt:connection.status", "lg:node.status"))
    assert "key" not in doc["device"]["auth"], "only the verifier holds the key"
    e = raises(ConnectorError, nodecfg.check, _doc({"auth": {"key": KEY[:-2] + "zz"}}))
    assert KEY[:20] not in e.message and KEY[:20] not in repr(e.details), e.message


def test_prepare_unloads_the_validator():
    import lgnode

    dev = nodecfg.prepare(_doc())
    eq(dev["board"], "unix")
    assert "lgnode.nodecfg" not in sys.modules and "nodecfg" not in lgnode.__dict__
