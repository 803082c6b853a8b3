# Home Assistant discovery payloads, checked against HA's rules as its documentation
# and source state them (quoted where used), and the availability defaults.
import json

from check import eq, raises
from lgmqtt.errors import ConnectorError
from lgnode import availability as A
from lgnode import discovery as D
from lgnode import sensors as S

NODE = {"node_id": "lg-node-1", "name": "Greenhouse sensor node", "model": "esp32", "sw_version": "0.1.0"}
STATE = "lg/lg-node-1/telemetry"

# HA core, homeassistant/components/mqtt/abbreviations.py: the abbreviations a discovery
# payload may use (the subset that can appear here; anything else must be spelt out).
ABBREVIATIONS = {"avty_t": "availability_topic", "dev": "device", "dev_cla": "device_class", "name": "name",
                 "exp_aft": "expire_after",
                 "pl_avail": "payload_available", "pl_not_avail": "payload_not_available",
                 "stat_cla": "state_class", "stat_t": "state_topic", "uniq_id": "unique_id",
                 "unit_of_meas": "unit_of_measurement", "val_tpl": "value_template"}
DEVICE_ABBREVIATIONS = {"ids": "identifiers", "name": "name", "mf": "manufacturer", "mdl": "model",
                        "sw": "sw_version"}
# HA core, homeassistant/components/sensor/const.py: DEVICE_CLASS_UNITS and
# DEVICE_CLASS_STATE_CLASSES for the classes a node announces (UnitOfPressure and
# UnitOfTemperature from homeassistant/const.py; PERCENTAGE is "%").
PRESSURE_UNITS = ("Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi")
DEVICE_CLASS_UNITS = {"temperature": ("°C", "°F", "K"), "humidity": ("%",),
                      "atmospheric_pressure": PRESSURE_UNITS, "pressure": PRESSURE_UNITS}
DEVICE_CLASS_STATE_CLASSES = {"temperature": ("measurement",), "humidity": ("measurement",),
                              "atmospheric_pressure": ("measurement",), "pressure": ("measurement",)}


def _ha_id(s):
    # "The ID of the node must only consist of characters from the character class
    # [a-zA-Z0-9_-] (alphanumerics, underscore and hyphen)" -- same for object_id
    return bool(s) and all(c.isdigit() or "a" <= c.lower() <= "z" or c in "_-" for c in s)


def _as_ha_reads_it(payload):
    # HA's discovery (homeassistant/components/mqtt/discovery.py): expand abbreviations
    # (payload, then device), then _replace_topic_base: 'if value[0] == TOPIC_BASE and
    # key.endswith("topic"): payload[key] = f"{base}{value[1:]}"' (and the same at the end)
    p = {}
    for k, v in json.loads(payload).items():
        if k != "~":
            assert k in ABBREVIATIONS or k in ABBREVIATIONS.values(), "key HA does not know: " + k
        p[ABBREVIATIONS.get(k, k)] = v
    dev = {}
    for k, v in p.get("device", {}).items():
        assert k in DEVICE_ABBREVIATIONS or k in DEVICE_ABBREVIATIONS.values(), "device key: " + k
        dev[DEVICE_ABBREVIATIONS.get(k, k)] = v
    p["device"] = dev
    if "availability_topic" in p:
        # HA's sensor schema: payload_available defaults to "online", payload_not_available to "offline"
        p.setdefault("payload_available", "online")
        p.setdefault("payload_not_available", "offline")
    if "~" in p:
        base = p.pop("~")
        for k, v in list(p.items()):
            if isinstance(v, str) and v and k.endswith("topic"):
                if v[0] == "~":
                    v = base + v[1:]
                if v[-1] == "~":
                    v = v[:-1] + base
                p[k] = v
    return p


def _render(template, value_json):
    # the two Jinja forms discovery emits: {{value_json.KEY}} and {{value_json['KEY']}}
    body = template.strip()
    assert body[:2] == "{{" and body[-2:] == "}}", template
    expr = body[2:-2].strip()
    if expr.startswith("value_json['"):
        return value_json[expr[12:-2]]
    assert expr.startswith("value_json."), template
    key = expr[11:]
    assert key[0].isalpha() or key[0] == "_", "not a Jinja identifier: " + key
    assert all(c.isalpha() or c.isdigit() or c == "_" for c in key), "not a Jinja identifier: " + key
    return value_json[key]


def _sensors():
    return S.build([{"type": "sim", "id": "room"}, {"type": "internal", "names": {"temperature": "Chip"},
                                                   "objectIds": {"temperature": "mcu-t"}}],
                   internal_temperature=lambda: 40.0)


async def test_config_messages_follow_home_assistants_rules():
    sampler = S.Sampler(_sensors())
    values, _ = await sampler.sample()
    telemetry = json.loads(json.dumps(dict(values, seq=1, ts=1718000000)))
    av = A.availability("lg-node-1")
    msgs = D.config_messages(NODE, sampler.descriptors(), STATE, av)
    eq(len(msgs), 3)
    seen = set()
    for (topic, payload), desc in zip(msgs, sampler.descriptors()):
        # "<discovery_prefix>/<component>/[<node_id>/]<object_id>/config"
        parts = topic.split("/")
        eq((parts[0], parts[1], parts[2], parts[4]), ("homeassistant", "sensor", "lg-node-1", "config"), topic)
        eq(len(parts), 5, topic)
        assert _ha_id(parts[2]) and _ha_id(parts[3]), topic
        eq(parts[3], desc[0])
        size = len(payload.encode())
        assert size <= 400, "payload of %d bytes: %s" % (size, payload)
        p = _as_ha_reads_it(payload)
        # the device registry: "Only works through MQTT discovery and when unique_id is set"
        assert p["unique_id"] not in seen
        seen.add(p["unique_id"])
        eq(p["unique_id"], "lg-node-1_" + desc[0])
        eq(p["device"], {"identifiers": ["lg-node-1"], "name": "Greenhouse sensor node", "model": "esp32",
                         "sw_version": "0.1.0"})
        eq(p["name"], desc[1])
        eq(p["state_topic"], STATE)
        eq(_render(p["value_template"], telemetry), values[desc[0]], "the template finds the value")
        dclass = p["device_class"]
        assert p["unit_of_measurement"] in DEVICE_CLASS_UNITS[dclass], (dclass, p["unit_of_measurement"])
        assert p["state_class"] in DEVICE_CLASS_STATE_CLASSES[dclass], (dclass, p["state_class"])
        eq((p["availability_topic"], p["payload_available"], p["payload_not_available"]),
           ("lg/lg-node-1/status", "online", "offline"))
    eq(_render(json.loads(msgs[2][1])["val_tpl"], {"mcu-t": 40.0}), 40.0, "a hyphenated id: bracket form")
    assert "pl_avail" not in msgs[0][1] and "exp_aft" not in msgs[0][1], "HA's defaults are not repeated"


def test_a_sleeping_nodes_values_expire_and_availability_may_be_off():
    sampler = S.Sampler(_sensors())
    msgs = D.config_messages(NODE, sampler.descriptors(), STATE, None, expire_after=1260)
    for _, payload in msgs:
        p = _as_ha_reads_it(payload)
        # "expire_after: If set, it defines the number of seconds after the sensor's state expires"
        eq(p["expire_after"], 1260)
        assert "availability_topic" not in p and "payload_available" not in p, p
        eq(p["state_topic"], STATE)  # no base without a second topic: spelt out


def test_bme280_values_and_a_custom_prefix():
    sensors = S.build([{"type": "bme280", "bus": {"scl": 1, "sda": 2}}], i2c=lambda bus: None)
    msgs = D.config_messages(dict(NODE, manufacturer="Acme"), S.Sampler(sensors).descriptors(), STATE,
                             ("nodes/1/avail", "up", "down"), prefix="ha")
    eq([t for t, _ in msgs], ["ha/sensor/lg-node-1/bme280_%s/config" % q for q in ("temperature", "humidity", "pressure")])
    for _, payload in msgs:
        p = _as_ha_reads_it(payload)
        eq((p["state_topic"], p["availability_topic"]), (STATE, "nodes/1/avail"), "no common base: spelt out")
        eq((p["payload_available"], p["payload_not_available"]), ("up", "down"))
        eq(p["device"]["manufacturer"], "Acme")
        assert p["unit_of_measurement"] in DEVICE_CLASS_UNITS[p["device_class"]]


def test_removal_clears_the_sensors_no_longer_configured():
    now = S.Sampler(_sensors()).descriptors()
    announced = ["room_temperature", "room_humidity", "old_pressure", "mcu-t", "gone"]
    out = D.removal_messages("lg-node-1", announced, now)
    # "To remove ... publish an empty (retained) string payload to the discovery topic"
    eq(out, [("homeassistant/sensor/lg-node-1/old_pressure/config", ""),
             ("homeassistant/sensor/lg-node-1/gone/config", "")])
    eq(D.removal_messages("lg-node-1", [], now), [])
    # what was announced can be read back from the broker's retained config topics
    eq(D.object_id_of("homeassistant/sensor/lg-node-1/old_pressure/config", "lg-node-1"), "old_pressure")
    eq(D.object_id_of("homeassistant/sensor/other/old_pressure/config", "lg-node-1"), None)
    eq(D.object_id_of("homeassistant/sensor/lg-node-1/a/b/config", "lg-node-1"), None)
    eq(D.object_id_of("homeassistant/binary_sensor/lg-node-1/x/config", "lg-node-1"), None)


def test_ids_outside_has_character_class_are_refused():
    values = S.Sampler(_sensors()).descriptors()
    av = A.availability("n")
    for bad in ("lg node", "lg/node", "", "nöde", None):
        e = raises(ConnectorError, D.config_messages, dict(NODE, node_id=bad), values, STATE, av)
        eq((e.error, e.details["path"]), ("CONFIG_ERROR", "node_id"))
    e = raises(ConnectorError, D.config_messages, NODE, [("a.b", "x", "°C", "temperature", "measurement")], STATE, av)
    eq(e.details["path"], "object_id")
    e = raises(ConnectorError, D.config_messages, NODE, values, "lg/+/telemetry", av)
    eq(e.details["path"], "state_topic")


def test_availability_defaults_and_overrides():
    av = A.availability("lg-node-1")
    eq(av, ("lg/lg-node-1/status", "online", "offline"))
    eq(A.will(av), {"topic": "lg/lg-node-1/status", "payload": "offline", "qos": 1, "retain": True})
    eq(A.online_write(av), {"topic": "lg/lg-node-1/status", "payload": "online", "qos": 1, "retain": True})
    eq(A.offline_write(av)["payload"], "offline")
    eq(A.availability("n1", {"topic": "site/{clientId}/alive", "online": "1", "offline": "0"}),
       ("site/n1/alive", "1", "0"))
    for section, path in (({"topic": "a/#"}, "device.availability.topic"), ({"online": ""}, "device.availability.online"),
                          ({"offline": "online"}, "device.availability.offline"), ({"qos": 1}, "device.availability.qos"),
                          ("x", "device.availability")):
        e = raises(ConnectorError, A.availability, "n1", section)
        eq((e.error, e.details["path"]), ("CONFIG_ERROR", path))
