"""The throughput runs behind `tools/bench report`: every peer and case under one
micropython binary, against local Mosquitto brokers started here, with deliveries
counted by an independent subscriber (subscriber.py).

A driver process (mp/driver.py) per group of peers takes one case at a time on stdin.
A case whose peer cannot run it comes back with the reason; a peer that raises is an
error with its exception; a driver that dies or hangs is recorded as such, restarted,
and the run goes on with the next case. Each record:

    {"broker": "default", "round": 0, "peer": "lgmqtt", "case": "qos1_serial",
     "status": "ok" | "unsupported" | "error" | "unavailable", "reason": str | None,
     "sent": int, "delivered": int, "ms": float, "rate": delivered msgs/s}
"""
import json
import os
import queue
import subprocess
import threading
import time
import uuid

import peers as peerlib
from subscriber import Subscriber

MARK = "@@BENCH "


class Case:
    def __init__(self, key, title, qos, window, n, version=4):
        self.key, self.title, self.qos, self.window, self.n, self.version = key, title, qos, window, n, version


CASES = (
    Case("qos0", "QoS 0 stream", 0, 1, 20000),
    Case("qos1_serial", "QoS 1 serial (await each)", 1, 1, 5000),
    Case("qos1_window", "QoS 1 windowed (20 in flight)", 1, 20, 8000),
    Case("qos2_serial", "QoS 2 serial (await each)", 2, 1, 3000),
    Case("qos2_window", "QoS 2 windowed (20 in flight)", 2, 20, 5000),
    Case("qos1_serial_v5", "QoS 1 serial, MQTT 5", 1, 1, 5000, version=5),
)

# Broker settings compared, as mosquitto.conf lines. Subscriber-side queue limits are
# lifted in both, so that a slow subscriber cannot be mistaken for a lost message.
BROKER_COMMON = ["max_queued_messages 0"]
BROKERS = (("default", []), ("nodelay", ["set_tcp_nodelay true"]))


def mp_env(path):
    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join([".frozen"] + list(path) + [os.path.join(peerlib.ROOT, "lib")])
    return env


class Driver:
    """One mp/driver.py process for a group of peers; restarted after a crash."""

    def __init__(self, micropython, path, host, port):
        self.cmd = [micropython, os.path.join(peerlib.MP_DIR, "driver.py"), host, str(port)]
        self.env = mp_env(path)
        self.proc = None

    def _start(self):
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=peerlib.ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.err = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, None), daemon=True).start()

    def _pump(self, stream, q):
        for line in stream:
            if q is None:
                self.err.append(line.rstrip())
                del self.err[:-20]
            elif line.startswith(MARK):
                q.put(line[len(MARK):])
        if q is not None:
            q.put(None)  # EOF: the process is gone

    def ask(self, cmd, timeout):
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
            line = self.lines.get(timeout=timeout)
        except (BrokenPipeError, OSError):
            line = None
        except queue.Empty:
            self.kill()
            return {"status": "error", "reason": "hung: no answer in %d s (process killed)" % timeout}
        if line is None:
            try:
                code = self.proc.wait(5)
            except subprocess.TimeoutExpired:
                code = None
            time.sleep(0.1)  # let the stderr pump catch the last lines
            last = next((l for l in reversed(self.err) if l.strip()), "no output")
            self.proc = None
            return {"status": "error", "reason": "crashed (exit %s): %s" % (code, last.strip()[:200])}
        return json.loads(line)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


def groups(peer_list):
    out = {}
    for p in peer_list:
        out.setdefault(p.group, []).append(p)
    return list(out.values())


def run_throughput(micropython, brokers, sources, peer_list=peerlib.PEERS, cases=CASES, rounds=3, cap_ms=3000,
                   scale=1.0, log=print):
    """brokers: [(setting name, running Broker)]. Returns the list of records.

    Case-major: within a round and broker, every peer runs a case before the next case
    starts (one driver process per group stays up meanwhile), so the runs a ratio
    compares are seconds apart, not minutes: the load of a shared machine drifts."""
    records = []
    run_id = uuid.uuid4().hex[:8]
    subs = {name: Subscriber(b.host, b.port, "lgb/" + run_id).start() for name, b in brokers}
    k = 0
    try:
        for r in range(rounds):
            for setting, broker in brokers:
                procs = []
                for group in groups(peer_list):
                    path, missing = [], {}
                    for p in group:
                        pp, why = peerlib.mp_path(p, sources)
                        if pp is None:
                            missing[p.name] = why
                        else:
                            path += [x for x in pp if x not in path]
                    procs.append((group, missing, Driver(micropython, path, broker.host, broker.port)))
                try:
                    for case in cases:
                        for group, missing, drv in procs:
                            for p in group:
                                if p.cases is not None and case.key not in p.cases:
                                    continue
                                k += 1
                                rec = {"broker": setting, "round": r, "peer": p.name, "case": case.key}
                                if p.name in missing:
                                    rec.update(status="unavailable", reason=missing[p.name])
                                else:
                                    rec.update(_one(drv, subs[setting], p, case, run_id, k, cap_ms, scale))
                                records.append(rec)
                                log(_line(rec))
                finally:
                    for _, _, drv in procs:
                        drv.close()
    finally:
        for s in subs.values():
            s.stop()
    return records


def _one(drv, sub, p, case, run_id, k, cap_ms, scale):
    topic = "lgb/%s/%d" % (run_id, k)
    cmd = {"peer": p.module, "arg": p.arg, "qos": case.qos, "window": case.window, "version": case.version,
           "n": max(1, int(case.n * scale)), "cap_ms": cap_ms, "topic": topic,
           "done": "lgbdone/%s/%d" % (run_id, k), "cid": "lgb-%s-%d" % (run_id, k)}
    res = drv.ask(cmd, timeout=cap_ms / 1000 + 60)
    out = {"status": res.get("status"), "reason": res.get("reason"), "note": res.get("note")}
    if res.get("status") == "ok":
        sent = res["sent"]
        delivered = sub.settle(topic, sent)
        out.update(sent=sent, delivered=min(delivered, sent), duplicates=max(0, delivered - sent), ms=res["ms"],
                   rate=min(delivered, sent) * 1000.0 / res["ms"] if res["ms"] else 0.0)
    return out


def _line(rec):
    if rec["status"] == "ok":
        return "  %-8s r%d %-30s %-15s %8.0f msgs/s  delivered %d/%d" % (
            rec["broker"], rec["round"], rec["peer"], rec["case"], rec["rate"], rec["delivered"], rec["sent"])
    return "  %-8s r%d %-30s %-15s %s: %s" % (rec["broker"], rec["round"], rec["peer"], rec["case"], rec["status"],
                                             rec["reason"])
