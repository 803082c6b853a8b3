# mqtt:history read / clear / retained. The log scans are paced: the event loop gets a
# turn every few records (lgmqtt.connector.delivery.paced), so a long history never stalls a node.
from lgmqtt.compat import const
from lgmqtt.connector import payloads
from lgmqtt.mqtt import topic as T
from lgmqtt.connector.delivery import paced
from lgmqtt.errors import ConnectorError, INVALID_PARAMS
from lgmqtt.connector.ops import _bad, _topic_param

_CONTENT_TYPE = const(0x03)


async def history_read(conn, params):
    limit = params.get("limit", 100)
    order = params.get("order", "newest")
    if order not in ("newest", "oldest"):
        raise _bad("order", order, "'newest' or 'oldest'")
    f = params.get("topic")
    if f is not None:
        T.validate_filter(_topic_param(params))
    try:
        # paced: the scan gives the event loop a turn every few records
        entries = await paced(conn.history.read_steps(f, limit, params.get("since"), order == "newest"))
    except ConnectorError as e:
        if e.error == "CONFIG_ERROR":
            raise ConnectorError(INVALID_PARAMS, e.message, e.details)
        raise
    _for_user(entries)
    return {"messages": entries, "count": len(entries), "order": order}


def _for_user(entries):
    # History entries as the application sees them, the same for read and retained:
    # the payload decoded by its contentType, properties by their names.
    for e in entries:
        props = e.get("properties") or {}
        e["payload"] = payloads.decode(e["payload"], props.get(_CONTENT_TYPE))
        if props:
            e["properties"] = payloads.props_from_wire(props)


async def history_clear(conn, params):
    f = params.get("topic")
    if f is not None:
        T.validate_filter(_topic_param(params))
    conn.history.clear(f)
    return {"success": True, "cleared": f if f is not None else "all"}


async def history_retained(conn, params):
    out = await paced(conn.history.retained_steps(params.get("topic")))
    _for_user(out)
    return {"messages": out, "count": len(out)}


# ---- mqtt:topics (a small registry of declared topics) ----------------------------
