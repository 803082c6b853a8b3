# Home Assistant MQTT discovery: pure functions from the node's identity and its sensor
# values to the retained messages that make HA create (or remove) one sensor entity per
# value. Nothing here publishes; the caller writes each (topic, payload) retained.
#
# The rules followed (Home Assistant's MQTT integration documentation, "Discovery"):
# - topic <discovery_prefix>/<component>/[<node_id>/]<object_id>/config, component
#   "sensor"; node_id and object_id only from the character class [a-zA-Z0-9_-];
# - the payload is a JSON object; keys may be abbreviated (HA's ABBREVIATIONS and
#   DEVICE_ABBREVIATIONS tables: stat_t = state_topic, uniq_id = unique_id, ...), and
#   "~" is the topic base: a *_topic value that starts with "~" has it replaced by the
#   base. Both, and JSON without spaces, keep a payload near 360 bytes;
# - `device` (identifiers, name, model, sw_version) ties the entities to one device in
#   HA's registry, which requires unique_id; unique_id is "<node_id>_<object_id>";
# - availability: availability_topic with payload_available / payload_not_available,
#   given only when they are not HA's defaults "online" / "offline" (lgnode.availability);
# - expire_after (a sleeping node's values become unavailable when none came for that
#   many seconds);
# - an empty retained payload on a config topic removes that entity (and clears the
#   retained config).
# A value's object id is also its key in the telemetry JSON, so the value_template is
# {{value_json.<object_id>}} (bracket syntax when the id is not a Jinja identifier).
import json

from lgmqtt.errors import ConnectorError, CONFIG_ERROR
from lgnode import valid_id

DEFAULT_PREFIX = "homeassistant"


def _check(path, value, what):
    if not valid_id(value):
        raise ConnectorError(CONFIG_ERROR, "%s: %s %r is not made of [a-zA-Z0-9_-] (Home Assistant's rule)"
                             % (path, what, value), {"path": path, "expected": "characters from [a-zA-Z0-9_-]"})


def _check_topic(path, t):
    if not isinstance(t, str) or not t or "+" in t or "#" in t or "\x00" in t:
        raise ConnectorError(CONFIG_ERROR, "%s: expected a topic name without wildcards, got %r" % (path, t),
                             {"path": path, "expected": "a topic name without wildcards"})


def config_topic(prefix, node_id, object_id):
    return "%s/sensor/%s/%s/config" % (prefix, node_id, object_id)


def _template(key):
    # object ids are [a-zA-Z0-9_-]: a Jinja attribute name unless it has a "-" or
    # starts with a digit
    ident = (key[0].isalpha() or key[0] == "_") and "-" not in key
    return "{{value_json.%s}}" % key if ident else "{{value_json['%s']}}" % key


def _base(a, b):
    # the longest common prefix of two topics that ends at a level boundary
    n = 0
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            break
        if a[i] == "/":
            n = i
    return a[:n] if n else None


def config_messages(node, values, state_topic, availability, prefix=DEFAULT_PREFIX, expire_after=None):
    """node: {"node_id", "name", "model", "sw_version"[, "manufacturer"]}; values:
    (object_id, name, unit, device_class, state_class) descriptors (lgnode.sensors);
    state_topic: where the telemetry JSON goes; availability: (topic, online, offline),
    or None (no availability: HA then shows the entities available); expire_after:
    seconds after which HA shows a value as unavailable when no new one came (a
    sleeping node's, which stays "online" while it sleeps), or None.
    -> [(config topic, JSON payload)], to be published retained."""
    node_id = node.get("node_id")
    _check("node_id", node_id, "node id")
    _check_topic("prefix", prefix)
    _check_topic("state_topic", state_topic)
    if availability is not None:
        _check_topic("availability topic", availability[0])
    dev = {"ids": [node_id], "name": node.get("name") or node_id}
    for key, short in (("model", "mdl"), ("sw_version", "sw"), ("manufacturer", "mf")):
        if node.get(key):
            dev[short] = node[key]
    base = _base(state_topic, availability[0]) if availability is not None else None
    cut = len(base) if base else 0
    out = []
    for oid, name, unit, dclass, sclass in values:
        _check("object_id", oid, "object id")
        p = {"name": name, "uniq_id": "%s_%s" % (node_id, oid)}
        if base:
            p["~"] = base
        p["stat_t"] = "~" + state_topic[cut:] if base else state_topic
        p["val_tpl"] = _template(oid)
        if unit:
            p["unit_of_meas"] = unit
        if dclass:
            p["dev_cla"] = dclass
        if sclass:
            p["stat_cla"] = sclass
        if expire_after:
            p["exp_aft"] = expire_after
        if availability is not None:
            p["avty_t"] = "~" + availability[0][cut:] if base else availability[0]
            # HA's defaults are "online" / "offline": stated only when they differ
            # (45 bytes less per message, in a burst the node sends while connecting)
            if availability[1] != "online":
                p["pl_avail"] = availability[1]
            if availability[2] != "offline":
                p["pl_not_avail"] = availability[2]
        p["dev"] = dev
        out.append((config_topic(prefix, node_id, oid), json.dumps(p, separators=(",", ":"))))
    return out


def removal_messages(node_id, announced, values, prefix=DEFAULT_PREFIX):
    """Object ids announced before (e.g. read back from the retained config topics,
    see object_id_of) that `values` no longer has -> [(config topic, "")], to be
    published retained: HA removes those entities."""
    current = [v[0] for v in values]
    return [(config_topic(prefix, node_id, oid), "") for oid in announced if oid not in current]


def object_id_of(topic, node_id, prefix=DEFAULT_PREFIX):
    """The object id in one of this node's config topics, else None. Subscribing to
    <prefix>/sensor/<node_id>/+/config returns the retained ones: what was announced."""
    head = "%s/sensor/%s/" % (prefix, node_id)
    if topic.startswith(head) and topic.endswith("/config"):
        oid = topic[len(head):-7]
        if valid_id(oid):
            return oid
    return None
