# Availability: where and how the node says it is online.
#
# Default topic lg/<clientId>/status, payloads "online" / "offline", retained, QoS 1:
# - the payloads are Home Assistant's defaults for payload_available and
#   payload_not_available, so discovery need not override them (it states them anyway);
# - the topic lives in the device's own namespace next to lg/<clientId>/telemetry and
#   lg/<clientId>/rpc, so one broker ACL rule (lg/<clientId>/#) covers everything the
#   node publishes, and it exists whether or not Home Assistant discovery is on (lgctl
#   and other consumers read it too); a topic under the discovery prefix would tie
#   every consumer to HA's prefix setting;
# - retained: a subscriber that arrives later (HA restarting) learns the state at once,
#   and the broker's Will (set at CONNECT) leaves a retained "offline" when the node
#   vanishes without a DISCONNECT.
from lgmqtt.errors import ConnectorError, CONFIG_ERROR

DEFAULT_TOPIC = "lg/{clientId}/status"
ONLINE = "online"
OFFLINE = "offline"


def _bad(path, expected, value):
    return ConnectorError(CONFIG_ERROR, "%s: expected %s, got %r" % (path, expected, value),
                          {"path": path, "expected": expected})


def availability(client_id, section=None, path="device.availability"):
    """-> (topic, online payload, offline payload) from an optional config section
    {topic ("{clientId}" is replaced), online, offline}."""
    section = section or {}
    if not isinstance(section, dict):
        raise _bad(path, "an object", section)
    for k in section:
        if k not in ("topic", "online", "offline"):
            raise ConnectorError(CONFIG_ERROR, "%s.%s: unknown key (known: offline, online, topic)" % (path, k),
                                 {"path": "%s.%s" % (path, k), "expected": "one of offline, online, topic"})
    topic = section.get("topic", DEFAULT_TOPIC)
    if not isinstance(topic, str) or not topic or "+" in topic or "#" in topic or "\x00" in topic:
        raise _bad(path + ".topic", "a topic name without wildcards", topic)
    out = [topic.replace("{clientId}", client_id)]
    for k, d in (("online", ONLINE), ("offline", OFFLINE)):
        v = section.get(k, d)
        if not isinstance(v, str) or not v:
            raise _bad("%s.%s" % (path, k), "a non-empty string", v)
        out.append(v)
    if out[1] == out[2]:
        raise _bad(path + ".offline", "a payload different from online", out[2])
    return tuple(out)


def will(av):
    """The lgmqtt config.will section: the broker publishes `offline`, retained."""
    return {"topic": av[0], "payload": av[2], "qos": 1, "retain": True}


def online_write(av):
    """mqtt:publish write params announcing the node online (publish after connect)."""
    return {"topic": av[0], "payload": av[1], "qos": 1, "retain": True}


def offline_write(av):
    """... and offline (publish before a clean disconnect: no Will is sent then)."""
    return {"topic": av[0], "payload": av[2], "qos": 1, "retain": True}
