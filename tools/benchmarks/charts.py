"""PNG charts for the report (matplotlib, Agg backend: no display needed).

draw(results, out_dir) -> {"throughput", "heap", "store", "heap_lg": path or None}"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import summary as S  # noqa: E402

COLORS = {"default": "#4c72b0", "nodelay": "#dd8452"}


def _save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def throughput(res, out_dir):
    cases = res["meta"].get("cases", [])
    peers = list(res["meta"].get("peers", {}))
    brokers = S._order(r["broker"] for r in res["throughput"])
    rows = S.throughput_rows(res["throughput"], [c["key"] for c in cases], peers)
    ncol = 2
    nrow = max(1, (len(cases) + 1) // 2)
    fig, axes = plt.subplots(nrow, ncol, figsize=(13, 3.2 * nrow), squeeze=False)
    for i, case in enumerate(cases):
        ax = axes[i // ncol][i % ncol]
        mine = [r for r in rows if r["case"] == case["key"]]
        names = [r["peer"] for r in mine]
        h = 0.8 / max(1, len(brokers))
        notes = {}  # row -> reasons of the settings it could not run in (said once if alike)
        for j, b in enumerate(brokers):
            ys, vals, lo, hi = [], [], [], []
            for k, r in enumerate(mine):
                c = r["cells"].get(b) or {}
                if "rate" in c and c["rate"]:
                    s = c["rate"]
                    ys.append(k + (j - (len(brokers) - 1) / 2) * h)
                    vals.append(max(s["median"], 0.1))
                    lo.append(max(s["median"] - s["min"], 0))
                    hi.append(s["max"] - s["median"])
                else:
                    text = (c.get("reason") or "not run")[:70]
                    if text not in notes.setdefault(k, []):
                        notes[k].append(text)
            ax.barh(ys, vals, height=h, xerr=[lo, hi], color=COLORS.get(b), label=b if i == 0 else None, capsize=2)
        for k, texts in notes.items():
            ax.text(1.2, k, " / ".join(texts), va="center", fontsize=6, color="#666")
        ax.set_xscale("log")
        ax.set_xlim(1, None)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(case["title"], fontsize=9)
        ax.set_xlabel("delivered msgs/s (log scale; bars: median, whiskers: min-max)", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
    for i in range(len(cases), nrow * ncol):
        axes[i // ncol][i % ncol].axis("off")
    fig.suptitle("Throughput per case and peer (%s)" % res["meta"].get("interpreter", {}).get("version", ""),
                 fontsize=10)
    fig.legend(title="broker", fontsize=7, title_fontsize=7, loc="upper right")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return _save(fig, out_dir, "throughput.png")


def heap(res, out_dir):
    hp = {k: v for k, v in (res.get("heap_peers") or {}).items() if v.get("status") == "ok"}
    if not hp:
        return None
    names = list(hp)
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.5))
    h = 0.27
    for j, (key, label) in enumerate((("import", "after import"), ("connected", "connected"),
                                      ("published", "after publishing"))):
        ax.barh([k + (j - 1) * h for k in range(len(names))], [hp[n][key] / 1024 for n in names], height=h,
                label=label)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("KB in use (gc.mem_alloc after collect, .py source)")
    ax.legend(fontsize=8)
    ax.set_title("Heap per peer", fontsize=10)
    fig.tight_layout()
    return _save(fig, out_dir, "heap.png")


def store(res, out_dir):
    rows = [r for r in S.store_rows(res.get("store", [])) if not r["error"]]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    xs = [r["size"] / 1024 for r in rows]
    for key, label in (("open_ms", "open (outbox recovery)"), ("newest_ms", "history read: newest 100 of 1 topic"),
                       ("scan_ms", "history read: full scan")):
        med = [r[key]["median"] for r in rows]
        ax.errorbar(xs, med, yerr=[[m - r[key]["min"] for m, r in zip(med, rows)],
                                   [r[key]["max"] - m for m, r in zip(med, rows)]], marker="o", capsize=3, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(xs)
    ax.set_xticklabels(["%d KB" % x for x in xs])
    ax.set_xlabel("log size (config.history.size)")
    ax.set_ylabel("ms")
    ax.set_title("Store cost versus log size (file store)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, out_dir, "store.png")


def heap_lg(res, out_dir):
    hl = res.get("heap_lg") or {}
    if hl.get("status") != "ok":
        return None
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, key, xlabel in ((a, "subs", "subscriptions"), (b, "window", "window W (messages in flight)")):
        pts = hl.get(key, [])
        ax.plot([p[0] for p in pts], [p[1] / 1024 for p in pts], marker="o")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("KB in use")
    a.set_title("lgmqtt client heap vs subscriptions", fontsize=9)
    b.set_title("lgmqtt client peak heap vs window", fontsize=9)
    fig.tight_layout()
    return _save(fig, out_dir, "heap_lgmqtt.png")


def draw(res, out_dir):
    return {"throughput": throughput(res, out_dir), "heap": heap(res, out_dir), "store": store(res, out_dir),
            "heap_lg": heap_lg(res, out_dir)}
