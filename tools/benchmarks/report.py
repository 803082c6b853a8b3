"""tools/bench report: lgmqtt against today's peers, in one run, as a Markdown report
with PNG charts.

    tools/bench report [--rounds N] [--out DIR] [--micropython PATH] [--quick]
    tools/bench report --from DIR/results.json [--out DIR]      (render recorded results)

Starts two local Mosquitto brokers (defaults, and set_tcp_nodelay true), fetches the
peers into build/bench/peers/ (peers.py), runs every throughput case N rounds
(harness.py), the codec, store and heap figures (figures.py), writes DIR/results.json,
then DIR/report.md and its charts (render.py). --quick: one round, a tenth of the
messages, 1 s caps (a smoke run; its figures are noisier).
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import figures  # noqa: E402
import harness  # noqa: E402
import peers as peerlib  # noqa: E402
from lghost import mpy  # noqa: E402
from lghost.mosquitto import Broker, mosquitto_binary  # noqa: E402

CACHE = os.path.join(peerlib.ROOT, "build", "bench")


def collect(micropython, rounds, cap_ms, scale, peer_list=peerlib.PEERS, cases=harness.CASES, extras=True,
            log=print):
    """Run everything; return the results dict that render.render() draws."""
    t_all = time.monotonic()
    sources = peerlib.fetch(CACHE)
    for name, (path, version, why) in sources.items():
        log("peers: %s: %s" % (name, version if path else "unavailable (%s)" % why))
    brokers = []
    try:
        for setting, opts in harness.BROKERS:
            brokers.append((setting, Broker(options=harness.BROKER_COMMON + opts).start()))
        meta = {"date": figures.now(), "rounds": rounds, "cap_ms": cap_ms, "scale": scale,
                "interpreter": figures.interpreter(micropython),
                "broker": {"version": figures.broker_version(mosquitto_binary()),
                           "settings": dict(harness.BROKERS), "common": harness.BROKER_COMMON},
                "machine": figures.machine(),
                "peers": {p.name: peerlib.peer_version(p, sources) for p in peer_list},
                "peer_notes": {p.name: p.note for p in peer_list if p.note},
                "cases": [vars(c) for c in cases], "heap_publishes": 20, "elapsed_s": {}}
        res = {"meta": meta}
        t0 = time.monotonic()
        log("throughput: %d round(s) x %d broker settings" % (rounds, len(brokers)))
        res["throughput"] = harness.run_throughput(micropython, brokers, sources, peer_list, cases, rounds, cap_ms,
                                                   scale, log)
        meta["elapsed_s"]["throughput"] = time.monotonic() - t0
        if extras:
            t0 = time.monotonic()
            res["codec"], res["store"] = [], []
            for r in range(rounds):
                log("codec and store, round %d" % r)
                c = figures.run_codec(micropython)
                res["codec"].append(c["rows"])
                s = figures.run_store(micropython)
                res["store"].append(s["rows"] or [{"size": 0, "status": "error", "reason": s["error"]}])
            meta["elapsed_s"]["codec+store"] = time.monotonic() - t0
            t0 = time.monotonic()
            log("heap per peer")
            res["heap_peers"] = figures.run_heap_peers(micropython, brokers[0][1], sources, peer_list)
            res["heap_lg"] = figures.run_heap_lg(micropython, brokers[0][1])
            meta["elapsed_s"]["heap"] = time.monotonic() - t0
        meta["elapsed_s"]["total"] = time.monotonic() - t_all
        return res
    finally:
        for _, b in brokers:
            b.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tools/bench report", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(CACHE, "report"))
    ap.add_argument("--micropython", default=None, help="interpreter binary (default: the pip micropython)")
    ap.add_argument("--quick", action="store_true", help="1 round, a tenth of the messages, 1 s caps")
    ap.add_argument("--from", dest="from_json", default=None, help="render a results.json instead of running")
    a = ap.parse_args(argv)
    if a.from_json:
        with open(a.from_json) as f:
            res = json.load(f)
    else:
        mp = os.path.abspath(a.micropython) if a.micropython else mpy.micropython_binary()
        if not os.access(mp, os.X_OK):
            raise SystemExit("bench: %s is not an executable interpreter" % mp)
        rounds, cap, scale = (1, 1000, 0.1) if a.quick else (max(1, a.rounds), 3000, 1.0)
        res = collect(mp, rounds, cap, scale)
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump(res, f, indent=1)
    import render

    out = render.render(res, a.out)
    print("report: %s" % out["report"])
    for p in out["charts"]:
        print("chart:  %s" % p)
    return out


if __name__ == "__main__":
    main()
