# mqtt:publish pending / discard / retry: the outbox as the application sees it. A
# message is "pending" (waiting to be sent or acknowledged) or "parked" (given up after
# the link died on it repeatedly: kept, not sent, until discarded or retried).
from lgmqtt.connector import payloads
from lgmqtt.isotime import format_iso
from lgmqtt.connector.ops import _bad

_MAX_LIST = 100


def _int_param(params, name, default, lo, hi):
    v = params.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or v > hi:
        raise _bad(name, v, "an integer %d..%d" % (lo, hi))
    return v


async def pending(conn, params):
    from lgmqtt.connector.delivery import paced

    state = params.get("state", "all")
    if state not in ("pending", "parked", "all"):
        raise _bad("state", state, "'pending', 'parked' or 'all'")
    limit = _int_param(params, "limit", 20, 1, _MAX_LIST)
    after = _int_param(params, "after", 0, 0, 0xFFFFFFFF)
    with_payload = params.get("payload", False)
    ob = conn.outbox
    parked = ob.parked_ids()
    ids = parked if state == "parked" else ob.pending_ids() if state == "pending" else sorted(ob.pending_ids() + parked)
    ids = [i for i in ids if i > after][:limit]
    out = []
    for m in await paced(ob.records_steps(ids)):
        payload = m.payload()
        d = {"outboxId": m.id, "state": "parked" if m.id in parked else "pending", "topic": m.topic(), "qos": m.qos,
             "retain": m.retain, "size": len(payload), "timestamp": format_iso(m.t)}
        if with_payload:
            d["payload"] = payloads.decode(payload)
        out.append(d)
    return {"messages": out, "count": len(out), "counts": {"pending": len(ob.pending_ids()), "parked": len(parked)}}


def _chosen(conn, params, parked_only):
    ob = conn.outbox
    parked = ob.parked_ids()
    if params.get("all") is True and not parked_only:
        return ob.pending_ids() + parked
    if params.get("parked") is True:
        return parked
    if "outboxIds" in params:
        ids = params["outboxIds"]
        if not isinstance(ids, list) or not ids:
            raise _bad("outboxIds", ids, "a non-empty list of outbox ids")
    elif "outboxId" in params:
        ids = [params["outboxId"]]
    else:
        raise _bad("outboxId", None, "outboxId, outboxIds, parked: true" + ("" if parked_only else " or all: true"))
    known = parked if parked_only else set(ob.pending_ids() + parked)
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or i not in known:
            raise _bad("outboxId", i, "the id of a %s message" % ("parked" if parked_only else "pending or parked"))
    return ids


async def discard(conn, params):
    ids = _chosen(conn, params, False)  # all checked before any is removed
    for i in ids:
        conn.outbox.discard(i)
    return {"success": True, "discarded": ids}


async def retry(conn, params):
    ids = sorted(_chosen(conn, params, True))
    ob = conn.outbox
    done = []
    for m in ob.records(ids):
        new = ob.put_message(m)  # queued again first: a power cut can only duplicate
        ob.discard(m.id)
        done.append({"from": m.id, "outboxId": new})
    if conn.connected:
        conn.delivery.kick()
    return {"success": True, "retried": done}
