"""From recorded results (report.py's results.json) to the figures a report shows:
medians with min-max over rounds, ratios to lgmqtt taken within each round, and the
hot-path targets of issue 14 with their measured values. Pure functions, no I/O."""

LG = "lgmqtt"

# (figure, numerator (case, peer), denominator (case, peer), target, today per the issue)
TARGETS = (
    ("QoS 0 msgs/s vs umqtt.simple 1.8.0", ("qos0", LG), ("qos0", "umqtt.simple"), 1.5, "~1.05"),
    ("QoS 1 serial vs raw asyncio lock-step loop", ("qos1_serial", LG), ("qos1_serial", "raw asyncio"), 0.8,
     "~0.5 (different runs)"),
    ("QoS 1 serial vs chumicro-mqtt serial (default broker)", ("qos1_serial", LG), ("qos1_serial", "chumicro-mqtt"),
     1.3, "0.68-0.84"),
    ("QoS 1 windowed vs raw asyncio 20 in flight", ("qos1_window", LG), ("qos1_window", "raw asyncio"), 0.9,
     "0.9-1.0"),
    ("QoS 2 windowed vs own QoS 1 windowed", ("qos2_window", LG), ("qos1_window", LG), 0.6, "0.52"),
    ("connector QoS 1 write (RAM store) vs client publish", ("qos1_serial", "lgmqtt connector (RAM store)"),
     ("qos1_serial", LG), 0.8, "-"),
)
CODEC_TARGETS = (("codec encode vs hand-rolled (v4 QoS 1 PUBLISH)", "encode v4", 0.5, "0.2"),
                 ("codec decode vs hand-rolled (v4 QoS 1 PUBLISH)", "decode v4", 0.5, "0.2"))


def median(xs):
    xs = sorted(xs)
    if not xs:
        return None
    m = len(xs) // 2
    return xs[m] if len(xs) % 2 else (xs[m - 1] + xs[m]) / 2


def spread(xs):
    """{"median", "min", "max", "n"} or None for no values."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def _ok_rates(records):
    """{(broker, round, case, peer): rate} of the runs that completed."""
    return {(r["broker"], r["round"], r["case"], r["peer"]): r["rate"] for r in records if r["status"] == "ok"}


def _ratios(rates, brokers, rounds, num, den):
    out = []
    for b in brokers:
        vals = []
        for rd in rounds:
            a, d = rates.get((b, rd, num[0], num[1])), rates.get((b, rd, den[0], den[1]))
            if a is not None and d:
                vals.append(a / d)
        out.append(spread(vals))
    return out


def throughput_rows(records, case_order, peer_order):
    """One row per (case, peer) that has records, in the given orders:
    {"case", "peer", "cells": {broker: cell}} with a cell either
    {"rate": spread, "ratio": spread or None, "delivered": d, "sent": s} or {"reason": text}."""
    brokers = _order(r["broker"] for r in records)
    rounds = _order(r["round"] for r in records)
    rates = _ok_rates(records)
    rows = []
    for case in case_order:
        for peer in peer_order:
            recs = [r for r in records if r["case"] == case and r["peer"] == peer]
            if not recs:
                continue
            cells = {}
            for b in brokers:
                mine = [r for r in recs if r["broker"] == b]
                ok = [r for r in mine if r["status"] == "ok"]
                if ok:
                    ratio = None if peer == LG else _ratios(rates, [b], rounds, (case, peer), (case, LG))[0]
                    cells[b] = {"rate": spread([r["rate"] for r in ok]), "ratio": ratio,
                                "delivered": sum(r["delivered"] for r in ok), "sent": sum(r["sent"] for r in ok),
                                "failed": [_reason(r) for r in mine if r["status"] != "ok"]}
                elif mine:
                    cells[b] = {"reason": _reason(mine[0]), "status": mine[0]["status"]}
            rows.append({"case": case, "peer": peer, "cells": cells})
    return rows


def _reason(r):
    return "%s: %s" % (r["status"], r.get("reason") or "?") if r["status"] != "unsupported" else r.get("reason")


def _order(xs):
    seen = []
    for x in xs:
        if x not in seen:
            seen.append(x)
    return seen


def targets(records, codec_rounds):
    """[{"figure", "target", "today", "values": {broker or "-": spread}, "met": bool|None}]"""
    brokers = _order(r["broker"] for r in records)
    rounds = _order(r["round"] for r in records)
    rates = _ok_rates(records)
    out = []
    for figure, num, den, target, today in TARGETS:
        vals = dict(zip(brokers, _ratios(rates, brokers, rounds, num, den)))
        # the chumicro target is stated for a default broker; the others for any
        judged = [vals.get("default")] if "default broker" in figure else list(vals.values())
        out.append({"figure": figure, "target": target, "today": today, "values": vals,
                    "met": None if any(v is None for v in judged) or not judged
                    else all(v["median"] >= target for v in judged)})
    for figure, row, target, today in CODEC_TARGETS:
        s = spread([next((x["ratio"] for x in rnd if x.get("name") == row), None) for rnd in codec_rounds])
        out.append({"figure": figure, "target": target, "today": today, "values": {"-": s},
                    "met": None if s is None else s["median"] >= target})
    return out


def codec_rows(codec_rounds):
    names = _order(x["name"] for rnd in codec_rounds for x in rnd)
    return [{"name": n, "rate": spread([x["rate"] for rnd in codec_rounds for x in rnd if x["name"] == n]),
             "ratio": spread([x["ratio"] for rnd in codec_rounds for x in rnd if x["name"] == n])} for n in names]


def store_rows(store_rounds):
    sizes = _order(x["size"] for rnd in store_rounds for x in rnd)
    rows = []
    for s in sizes:
        ok = [x for rnd in store_rounds for x in rnd if x["size"] == s and x.get("status") == "ok"]
        bad = [x for rnd in store_rounds for x in rnd if x["size"] == s and x.get("status") != "ok"]
        row = {"size": s, "error": bad[0].get("reason") if bad and not ok else None}
        for k in ("open_ms", "newest_ms", "scan_ms", "records", "bytes"):
            row[k] = spread([x[k] for x in ok])
        rows.append(row)
    return rows
