"""Recorded results -> report.md and PNG charts (matplotlib, no display needed).

    render(results, out_dir) -> {"report": path, "charts": [paths]}
"""
import os

import summary as S

BROKER_TITLES = {"default": "default broker", "nodelay": "broker set_tcp_nodelay true"}


def _f(x, fmt="%.0f"):
    return "-" if x is None else fmt % x


def _spread(s, fmt="%.0f"):
    if s is None:
        return "-"
    if s["n"] == 1 or s["min"] == s["max"]:
        return fmt % s["median"]
    return (fmt + " (" + fmt + "–" + fmt + ")") % (s["median"], s["min"], s["max"])


def _ratio(s):
    # small ratios keep three decimals: 0.003 is not 0
    return _spread(s, "%.3f" if s and s["median"] < 0.1 else "%.2f")


def _esc(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _brokers(res):
    return S._order(r["broker"] for r in res["throughput"]) or list(res["meta"].get("brokers", {}))


def header(res):
    m = res["meta"]
    i = m.get("interpreter", {})
    b = m.get("broker", {})
    mach = m.get("machine", {})
    lines = ["# lgmqtt benchmark report", "",
             "- Date: %s; %d round(s); throughput cases capped at %s ms or the case's message count, whichever "
             "comes first." % (m.get("date", "?"), m.get("rounds", 0), m.get("cap_ms", "?")),
             "- Interpreter: `%s` — %s, %s-bit, %s floats; %s" % (i.get("path", "?"), i.get("version", "?"),
                                                                  i.get("bits", "?"), i.get("float", "?"),
                                                                  i.get("implementation", "")),
             "- Broker: %s on loopback, started by the bench; settings compared: %s. Every broker also has %s "
             "(a slow subscriber cannot look like a lost message)." % (
                 b.get("version", "?"), "; ".join("**%s** (%s)" % (k, ", ".join(v) or "mosquitto defaults: Nagle on")
                                                  for k, v in b.get("settings", {}).items()),
                 ", ".join("`%s`" % x for x in b.get("common", []))),
             "- Machine: %s, %s cores, %s, CPython %s (harness and subscriber)." % (
                 mach.get("cpu", "?"), mach.get("cores", "?"), mach.get("system", "?"), mach.get("python", "?")),
             "- Peers: " + "; ".join("%s %s" % (k, v) for k, v in m.get("peers", {}).items()) + ".",
             "- Delivery: counted by an independent subscriber (paho-mqtt, QoS 2 subscription); a rate is "
             "**delivered** messages per second of the publisher's clock, and delivered/sent is summed over the "
             "rounds. Ratios are taken to lgmqtt within the same round and broker, then the median (min–max) "
             "over rounds.", ""]
    if m.get("elapsed_s"):
        lines.insert(-1, "- Run time: " + ", ".join("%s %.0f s" % kv for kv in m["elapsed_s"].items()) + ".")
    return lines


def peers_list(res):
    notes = res["meta"].get("peer_notes") or {}
    if not notes:
        return []
    out = ["## Peers and how each is driven", ""]
    for name, version in res["meta"].get("peers", {}).items():
        out.append("- **%s** %s%s" % (name, version, (": " + notes[name]) if notes.get(name) else ""))
    return out + [""]


def targets_table(res):
    brokers = _brokers(res)
    rows = S.targets(res["throughput"], res.get("codec", []))
    head = "| figure | target | today (issue 14) | " + " | ".join(BROKER_TITLES.get(b, b) for b in brokers) + \
        " | met |"
    out = ["## Hot-path targets (issue 14, item 4)", "",
           "Ratios measured in this run (median, min–max over rounds). The codec figures need no broker.", "",
           head, "|" + "---|" * (4 + len(brokers))]
    for t in rows:
        vals = t["values"]
        if "-" in vals:
            cells = [_spread(vals["-"], "%.2f")] + [""] * (len(brokers) - 1)
        else:
            cells = [_spread(vals.get(b), "%.2f") for b in brokers]
        met = {True: "yes", False: "no", None: "n/a"}[t["met"]]
        out.append("| %s | ≥ %.1f | %s | %s | %s |" % (t["figure"], t["target"], t["today"], " | ".join(cells), met))
    return out + [""]


def throughput_table(res):
    brokers = _brokers(res)
    cases = res["meta"].get("cases", [])
    titles = {c["key"]: c["title"] for c in cases}
    rows = S.throughput_rows(res["throughput"], [c["key"] for c in cases], list(res["meta"].get("peers", {})))
    out = ["## Throughput", "", "Messages per second delivered, 64-byte payload, median (min–max) over rounds; "
           "×lgmqtt is the peer's rate over lgmqtt's in the same round.", ""]
    head = "| case | peer | " + " | ".join("%s: msgs/s | delivered/sent | ×lgmqtt" % BROKER_TITLES.get(b, b)
                                           for b in brokers) + " |"
    out += [head, "|" + "---|" * (2 + 3 * len(brokers))]
    for r in rows:
        cells = []
        for b in brokers:
            c = r["cells"].get(b)
            if c is None:
                cells += ["-", "-", "-"]
            elif "reason" in c:
                cells += ["*%s*" % _esc(c["reason"]), "-", "-"]
            else:
                rate = _spread(c["rate"])
                if c["failed"]:
                    rate += " (failed in %d round(s): %s)" % (len(c["failed"]), _esc(c["failed"][0]))
                cells += [rate, "%d/%d" % (c["delivered"], c["sent"]), _ratio(c["ratio"])
                          if c["ratio"] else ("1" if r["peer"] == S.LG else "-")]
        out.append("| %s | %s | %s |" % (titles.get(r["case"], r["case"]), r["peer"], " | ".join(cells)))
    return out + [""]


def codec_table(res):
    rows = S.codec_rows(res.get("codec", []))
    if not rows:
        return []
    out = ["## Codec", "", "QoS 1 PUBLISH, 26-byte topic, 64-byte payload; packets per second and the share of "
           "a hand-rolled loop that does only what the wire needs (tools/benchmarks/codec.py).", "",
           "| operation | packets/s | of hand-rolled |", "|---|---:|---:|"]
    for r in rows:
        out.append("| %s | %s | %s |" % (r["name"], _spread(r["rate"]), _spread(r["ratio"], "%.2f")))
    return out + [""]


def store_table(res):
    rows = S.store_rows(res.get("store", []))
    if not rows:
        return []
    out = ["## Store cost versus log size", "", "File store (4 segments), filled with 100-byte messages on 5 topics "
           "until it wrapped, 50 outbox messages pending; milliseconds (median, min–max). Open = outbox recovery "
           "(ring log recovery + state scan); newest 100 = history read of one topic of 5; full scan = a read that "
           "matches nothing.", "", "| log size | records | open (recovery) ms | newest 100 ms | full scan ms |",
           "|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["error"]:
            out.append("| %d KB | *%s* | | | |" % (r["size"] // 1024, _esc(r["error"])))
            continue
        out.append("| %d KB | %s | %s | %s | %s |" % (r["size"] // 1024, _spread(r["records"]),
                                                      _spread(r["open_ms"], "%.1f"), _spread(r["newest_ms"], "%.1f"),
                                                      _spread(r["scan_ms"], "%.1f")))
    return out + [""]


def heap_tables(res):
    out = []
    hp = res.get("heap_peers") or {}
    if hp:
        out += ["## Heap per peer", "", "`gc.mem_alloc()` after `gc.collect()`, bytes, modules from `.py` source, "
                "minus the reading before the import (asyncio already loaded, not counted); one fresh interpreter "
                "per peer; after %s QoS 1 publishes." % res["meta"].get("heap_publishes", "?"), "",
                "| peer | after import | connected | after publishing |", "|---|---:|---:|---:|"]
        for name, h in hp.items():
            if h.get("status") != "ok":
                out.append("| %s | *%s* | | |" % (name, _esc("%s: %s" % (h.get("status"), h.get("reason")))))
            else:
                out.append("| %s | %d | %d | %d |" % (name, h["import"], h["connected"], h["published"]))
        out.append("")
    hl = res.get("heap_lg") or {}
    if hl.get("status") == "ok":
        out += ["## lgmqtt heap versus subscriptions and window", "",
                "Client alone; bytes as above. Subscriptions: while connected with k filters subscribed. Window: "
                "largest live heap sampled at each scheduling turn while W QoS 1 messages are kept in flight "
                "(maxInflight W).", "", "| subscriptions | heap | | window W | peak heap |", "|---:|---:|---|---:|---:|"]
        subs, wins = hl.get("subs", []), hl.get("window", [])
        for i in range(max(len(subs), len(wins))):
            s = subs[i] if i < len(subs) else ("", "")
            w = wins[i] if i < len(wins) else ("", "")
            out.append("| %s | %s | | %s | %s |" % (s[0], s[1], w[0], w[1]))
        out.append("")
    elif hl:
        out += ["## lgmqtt heap versus subscriptions and window", "", "*%s*" % _esc(hl.get("reason")), ""]
    return out


def render(res, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    import charts  # matplotlib is imported only to draw

    paths = charts.draw(res, out_dir)
    lines = header(res) + targets_table(res) + throughput_table(res)
    lines += ["![throughput per case and peer](%s)" % os.path.basename(paths["throughput"]), ""]
    lines += codec_table(res) + store_table(res)
    if paths.get("store"):
        lines += ["![cost versus log size](%s)" % os.path.basename(paths["store"]), ""]
    lines += heap_tables(res)
    for key, alt in (("heap", "heap per peer"), ("heap_lg", "lgmqtt heap versus subscriptions and window")):
        if paths.get(key):
            lines += ["![%s](%s)" % (alt, os.path.basename(paths[key])), ""]
    lines += peers_list(res)
    report = os.path.join(out_dir, "report.md")
    with open(report, "w") as f:
        f.write("\n".join(lines))
    return {"report": report, "charts": [p for p in paths.values() if p]}
