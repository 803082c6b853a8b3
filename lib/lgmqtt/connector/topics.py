# mqtt:topics list / create / delete: a small registry of declared topics (in RAM),
# with the highest QoS each may be published with; delete clears a retained one.
from lgmqtt.mqtt import topic as T
from lgmqtt.errors import ConnectorError, TOPIC_ERROR
from lgmqtt.connector.ops import _bad, _qos, _topic_param


_DECL_KEYS = ("name", "description", "maxQos", "retained")


class Registry:
    def __init__(self, decls):
        self.items = {}
        for d in decls:
            self.add(d)

    def add(self, d):
        for k in d:
            if k not in _DECL_KEYS:
                raise _bad(k, d[k], "no such key (known: %s)" % ", ".join(_DECL_KEYS))
        name = T.validate_name(_topic_param(d, "name"))
        desc = d.get("description", "")
        if not isinstance(desc, str):
            raise _bad("description", desc, "a string")
        retained = d.get("retained", False)
        if not isinstance(retained, bool):  # "false" is a non-empty string: never read it as true
            raise _bad("retained", retained, "true or false")
        decl = {"name": name, "description": desc, "maxQos": _qos(d.get("maxQos", 2)), "retained": retained}
        self.items[name] = decl
        return decl

    def get(self, name):
        return self.items.get(name)


async def topics_list(conn, params):
    return {"topics": list(conn.topics.items.values())}


async def topics_create(conn, params):
    name = _topic_param(params, "name") if "name" in params else _topic_param(params)
    d = dict(params, name=name)
    d.pop("topic", None)
    if name in conn.topics.items:
        raise ConnectorError(TOPIC_ERROR, "topic %s already exists" % name, {"topic": name, "reason": "exists"})
    return {"success": True, "topic": conn.topics.add(d)}


async def topics_delete(conn, params):
    name = _topic_param(params, "name") if "name" in params else _topic_param(params)
    decl = conn.topics.items.get(name)
    if decl is None:
        raise ConnectorError(TOPIC_ERROR, "no topic %s" % name, {"topic": name, "reason": "not found"})
    cleared = False
    if decl["retained"]:
        # an empty retained message removes the broker's retained copy (queued when
        # offline); if that is refused the declaration stays
        from lgmqtt.connector.ops import Write

        await conn.delivery.send(Write(conn, name, b"", 1, True, None, ""), conn.connected)
        cleared = True
    del conn.topics.items[name]
    return {"success": True, "deleted": name, "retainedCleared": cleared}
