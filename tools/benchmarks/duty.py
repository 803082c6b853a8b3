"""tools/bench duty: time awake per report of a deep-sleeping sensor node, lgmqtt against
umqtt.simple 1.8.0, and bytes on the wire, in one run on the same interpreters and
brokers.

One report = one process, from its start to its end (a deep sleep on the unix board is
the process exiting): the wake-up, the readings acknowledged, asleep.

  lgmqtt node   firmware/main.py in device.power.mode "deep-sleep" on a board folder
                (the shipped config.json's history in flash): it samples, appends the
                reading to the flash outbox, connects (clean: false), sends the backlog
                (N readings: the N-1 earlier wake-ups only sampled), disconnects, syncs
                the acknowledgements to flash. "same work": availability, remote
                invocation and Home Assistant off, so that the wire carries what
                umqtt's does; "shipped": config.json as it is (availability on, remote
                on: with the kept session it sends no SUBSCRIBE).
  umqtt.simple  connect (clean_session=False), N QoS 1 publishes each waiting for its
                PUBACK, disconnect; the readings in RAM (it has no outbox), nothing in
                flash: the lower bound of that work. As shipped (Nagle on: a PUBLISH
                goes out in four writes), and with TCP_NODELAY set by the application.

for N = 1 and 10, on the 32-bit unix build from .mpy and with lgmqtt, lgnode and umqtt
frozen in (tools/firmware), against Mosquitto with its defaults and with
set_tcp_nodelay true. Medians of --rounds (default 5), ratios lgmqtt / umqtt within
each round. Bytes on the wire: both directions of the report's TCP connection, counted
by a relay. A profile of the lgmqtt wake-up (tools/benchmarks/mp/duty_profile.py)
says where its time goes.

  tools/bench duty [--rounds N] [--builds mpy,frozen] [--brokers default,nodelay]
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)
ROOT = os.path.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.path.insert(0, HERE)

from lghost import fw_unix, mpy  # noqa: E402
from lghost.mosquitto import Broker  # noqa: E402
from lghost.tcp import accept_forever, close_now, listener  # noqa: E402

import peers  # noqa: E402

WORK = os.path.join(ROOT, "build", "bench", "duty")
NS = (1, 10)
SLEEP_EXIT = 76
PROFILE_BROKER = [""]


def say(msg):
    print(msg, file=sys.stderr, flush=True)


class Relay:
    """A TCP relay that counts the bytes of each connection, both ways."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.sock = listener()
        self.port = self.sock.getsockname()[1]
        self.sessions = []  # [up, down] per connection
        accept_forever(self.sock, self._accept)

    def _accept(self, c):
        u = socket.create_connection(self.upstream)
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        n = [0, 0]
        self.sessions.append(n)
        threading.Thread(target=self._pump, args=(c, u, n, 0), daemon=True).start()
        threading.Thread(target=self._pump, args=(u, c, n, 1), daemon=True).start()

    def _pump(self, src, dst, n, i):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                n[i] += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            close_now(src, dst)  # the other pump is blocked reading one of them

    def stop(self):
        self.sock.close()


class Build:
    def __init__(self, name, exe, path, frozen):
        self.name, self.exe, self.path, self.frozen = name, exe, path, frozen

    def run(self, script, args=(), cwd=None, timeout=60):
        """(seconds from the start to the end of the process, exit status, output)."""
        env = mpy.mp_env(self.path, {}, lib=False)
        cmd = [self.exe, script] + list(args)
        t0 = time.monotonic()
        p = subprocess.run(cmd, env=env, cwd=cwd or tempfile.gettempdir(), capture_output=True, text=True,
                           timeout=timeout)
        return time.monotonic() - t0, p.returncode, p.stdout + p.stderr


class Node:
    """A board folder with the firmware in deep sleep, reporting every `n` readings."""

    def __init__(self, build, host, port, n, variant, cid):
        self.build, self.n = build, n
        self.fs = tempfile.mkdtemp(prefix="lgmqtt-bench-duty-")
        with open(os.path.join(ROOT, "config.json")) as f:
            doc = json.load(f)
        c = doc["config"]
        c.update(host=host, port=port, clientId=cid, clean=False)
        dev = doc["device"]
        dev["board"] = "unix"
        dev["power"] = {"mode": "deep-sleep", "samplePeriodMs": 100, "reportEvery": n, "awakeMs": 30000,
                        "listenMs": 0}
        if variant == "same work":
            c["remote"] = {"enabled": False}
            dev.pop("homeassistant", None)
            dev["availability"] = {"enabled": False}
        with open(os.path.join(self.fs, "config.json"), "w") as f:
            json.dump(doc, f)
        self.script = os.path.join(ROOT, "firmware", "main.py")
        if build.frozen:
            shutil.copy(self.script, os.path.join(self.fs, "main.py"))
            self.script = os.path.join(TOOLS, "lghost", "frozen_boot.py")
        self.wake()  # the power-on: reports at once, sets up the session and RTC memory

    def wake(self):
        secs, code, out = self.build.run(self.script, cwd=self.fs)
        if code != SLEEP_EXIT:
            raise SystemExit("bench: the node did not go to sleep (status %d):\n%s" % (code, out[-2000:]))
        return secs, out

    def report(self):
        """Sample-only wake-ups until the backlog holds n-1 readings, then the measured
        one that reports all n. -> (seconds, node's awake_ms, report_ms, readings sent)."""
        for _ in range(self.n - 1):
            secs, out = self.wake()
            if "report=yes" in out:
                raise SystemExit("bench: a sampling wake-up reported:\n" + out)
        secs, out = self.wake()
        line = next((l for l in out.splitlines() if l.startswith("flushed ")), "")
        sent = int(line.split("sent=")[1].split()[0]) if line else 0
        if sent != self.n or "pending=0" not in line:
            raise SystemExit("bench: the report sent %d of %d:\n%s" % (sent, self.n, out))
        awake = int(out.split("awake_ms=")[1].split()[0])
        rep = int(line.split("report_ms=")[1].split()[0])
        return secs, awake, rep, sent

    def close(self):
        shutil.rmtree(self.fs, ignore_errors=True)


def umqtt_report(build, host, port, n, cid, nodelay=False):
    secs, code, out = build.run(os.path.join(HERE, "mp", "duty_umqtt.py"),
                                [host, str(port), str(n), cid] + (["nodelay"] if nodelay else []))
    if code != 0 or "done %d" % n not in out:
        raise SystemExit("bench: umqtt.simple failed (status %d):\n%s" % (code, out[-2000:]))
    return secs


def empty_run(build):
    f = os.path.join(tempfile.gettempdir(), "lgmqtt-bench-empty.py")
    with open(f, "w") as g:
        g.write("pass\n")
    return build.run(f)[0]


def med(xs):
    return statistics.median(xs) if xs else None


def fmt_ms(xs):
    return "%.1f (%.1f-%.1f)" % (1000 * med(xs), 1000 * min(xs), 1000 * max(xs))


def builds(names):
    src = fw_unix.find_source(None)
    cache = os.path.join(ROOT, "build", "bench")
    dest, version, reason = peers.fetch_umqtt(os.path.join(cache, "peers"))
    if reason:
        raise SystemExit("bench: umqtt.simple: " + reason)
    out = []
    if "mpy" in names:
        from lghost.mpybuild import build_mpy

        mpyc = fw_unix.mpy_cross(src)
        lib = build_mpy(os.path.join(WORK, "mpy"), ("lgmqtt", "lgnode", "boards"), mpyc)
        os.makedirs(os.path.join(lib, "umqtt"), exist_ok=True)
        subprocess.run([mpyc, "-o", os.path.join(lib, "umqtt", "simple.mpy"),
                        os.path.join(dest, "umqtt", "simple.py")], check=True)
        out.append(Build("unix32 .mpy", fw_unix.build(False, src), [lib], False))
    if "frozen" in names:
        out.append(Build("frozen32", fw_unix.build(True, src, extra=[("umqtt", os.path.join(dest, "umqtt"))]), [],
                         True))
    return out, version


def main(argv=None):
    ap = argparse.ArgumentParser(prog="tools/bench duty", description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--builds", default="mpy,frozen", help="mpy, frozen or both (default)")
    ap.add_argument("--brokers", default="default,nodelay", help="default (Mosquitto's), nodelay, or both")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    bs, version = builds(args.builds.split(","))
    say("bench: builds ready (%.0f s): %s; umqtt %s" % (time.monotonic() - t0, ", ".join(b.name for b in bs), version))
    brokers = []
    for name in args.brokers.split(","):
        brokers.append((name, Broker(options=["set_tcp_nodelay true"] if name == "nodelay" else []).start()))
    variants = ("same work", "shipped")
    rows, wire, profile = [], {}, {}
    try:
        for b in bs:
            floor = [empty_run(b) for _ in range(args.rounds)]
            rows.append((b.name, "-", "interpreter start, empty script", 0, floor, None, None, None, None))
            for bname, broker in brokers:
                for n in NS:
                    nodes = {v: Node(b, broker.host, broker.port, n, v, "lgb-duty-%s-%d-%s-%s" % (
                        b.name[:6].replace(" ", ""), n, bname, v[:4])) for v in variants}
                    t = {"umqtt": [], "umqtt nodelay": [], "same work": [], "shipped": []}
                    inner = {v: ([], []) for v in variants}
                    try:
                        for r in range(args.rounds):
                            t["umqtt"].append(umqtt_report(b, broker.host, broker.port, n,
                                                           "lgb-duty-u-%d-%s" % (n, bname)))
                            t["umqtt nodelay"].append(umqtt_report(b, broker.host, broker.port, n,
                                                                   "lgb-duty-un-%d-%s" % (n, bname), True))
                            for v in variants:
                                secs, awake, rep, _ = nodes[v].report()
                                t[v].append(secs)
                                inner[v][0].append(awake / 1000)
                                inner[v][1].append(rep / 1000)
                    finally:
                        for nd in nodes.values():
                            nd.close()
                    uv = version.split(",")[0].split()[-1]
                    rows.append((b.name, bname, "umqtt.simple %s" % uv, n, t["umqtt"], None, None, None, None))
                    rows.append((b.name, bname, "umqtt.simple %s + TCP_NODELAY" % uv, n, t["umqtt nodelay"], None,
                                 None, None, None))
                    for v in variants:
                        rows.append((b.name, bname, "lgmqtt node (%s)" % v, n, t[v], inner[v][0], inner[v][1],
                                     [a / u for a, u in zip(t[v], t["umqtt"])],
                                     [a / u for a, u in zip(t[v], t["umqtt nodelay"])]))
                    say("bench: %s, broker %s, N=%d: lgmqtt/umqtt %.2f, lgmqtt/(umqtt + TCP_NODELAY) %.2f" % (
                        b.name, bname, n, med(rows[-2][7]), med(rows[-2][8])))
        # bytes on the wire (the same on every build): through the counting relay, with
        # client ids of one length (they are in CONNECT and in the telemetry topic)
        b = bs[0]
        PROFILE_BROKER[0], broker = brokers[-1]  # nodelay when there: the fixed costs show in the profile
        relay = Relay((broker.host, broker.port))
        try:
            for n in NS:
                before = len(relay.sessions)
                umqtt_report(b, "127.0.0.1", relay.port, n, "lgb-wire-%02d-us" % n)
                time.sleep(0.2)
                wire[("umqtt.simple", n)] = relay.sessions[before:]
                before = len(relay.sessions)
                umqtt_report(b, "127.0.0.1", relay.port, n, "lgb-wire-%02d-un" % n, True)
                time.sleep(0.2)
                wire[("umqtt.simple + TCP_NODELAY", n)] = relay.sessions[before:]
                for v in variants:
                    nd = Node(b, "127.0.0.1", relay.port, n, v, "lgb-wire-%02d-%s" % (n, v[:2]))
                    try:
                        before = len(relay.sessions)
                        nd.report()
                        time.sleep(0.2)
                        wire[("lgmqtt node (%s)" % v, n)] = relay.sessions[before:]
                    finally:
                        nd.close()
            # where the lgmqtt wake-up's time goes (same work, N=10, each build)
            for b in bs:
                nd = Node(b, broker.host, broker.port, 10, "same work", "lgb-duty-prof-%s" % b.name[:6].strip())
                try:
                    for _ in range(9):
                        nd.wake()
                    script = os.path.join(HERE, "mp", "duty_profile.py")
                    if b.frozen:
                        shutil.copy(script, os.path.join(nd.fs, "duty_profile.py"))
                        script = os.path.join(nd.fs, "duty_profile.py")
                    secs, code, out = b.run(script, cwd=nd.fs)
                    profile[b.name] = ([l.split(" ", 1)[1].rsplit("|", 1) for l in out.splitlines()
                                        if l.startswith("@@PROFILE ")], secs, out if code else "")
                finally:
                    nd.close()
        finally:
            relay.stop()
    finally:
        for _, broker in brokers:
            broker.stop()
    report(rows, wire, profile, args.rounds)


def report(rows, wire, profile, rounds):
    print("Time awake per report: process start to end (the unix board's deep sleep ends the process), ms,"
          " median (min-max) of %d rounds; node awake = firmware/main.py's own count from its first line,"
          " report = Wi-Fi + connect + backlog + disconnect + sync; ratios to umqtt.simple as shipped and with"
          " TCP_NODELAY set by the application, in the same round" % rounds)
    print()
    head = ("build", "broker", "client", "N", "process ms", "node awake ms", "report ms", "/ umqtt",
            "/ umqtt+NODELAY")
    out = [head]

    def rfmt(ratio):
        return "%.2f (%.2f-%.2f)" % (med(ratio), min(ratio), max(ratio)) if ratio else ""

    for build, broker, what, n, t, awake, rep, ratio, ratio_nd in rows:
        out.append((build, broker, what, str(n) if n else "-", fmt_ms(t), fmt_ms(awake) if awake else "",
                    fmt_ms(rep) if rep else "", rfmt(ratio), rfmt(ratio_nd)))
    widths = [max(len(r[i]) for r in out) for i in range(len(head))]
    for i, r in enumerate(out):
        print("  ".join(c.ljust(widths[k]) for k, c in enumerate(r)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    print("Bytes on the wire per report (client -> broker / broker -> client, the report's TCP connection):")
    for (what, n), sessions in sorted(wire.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        up = sum(s[0] for s in sessions)
        down = sum(s[1] for s in sessions)
        print("  N=%-2d %-28s %5d / %4d  (%d connection%s)" % (n, what, up, down, len(sessions),
                                                              "" if len(sessions) == 1 else "s"))
    for name, (steps, secs, err) in profile.items():
        print()
        print("Where the lgmqtt wake-up's time goes (%s, same work, N=10, broker %s; process %.1f ms):"
              % (name, PROFILE_BROKER[0], 1000 * secs))
        if err:
            print("  profile failed:\n" + err[-1500:])
        for step, us in steps:
            print("  %-56s %7.1f ms" % (step, int(us) / 1000))


if __name__ == "__main__":
    main()
