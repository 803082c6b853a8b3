"""tools/bench duty's behaviour, never its timings: every report it times sent all its
readings (the bench stops otherwise), each case has its row, the bytes on the wire are
counted on one connection per report, and the "same work" node sends what umqtt.simple
sends, give or take the payloads' few bytes."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DUTY = [sys.executable, os.path.join(ROOT, "tools", "benchmarks", "duty.py")]


def test_duty_bench_runs_both_clients_and_counts_the_wire(micropython32):
    p = subprocess.run(DUTY + ["--rounds", "1", "--builds", "frozen", "--brokers", "nodelay"], capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    for n in (1, 10):
        for client in ("umqtt.simple 1.8.0 ", "umqtt.simple 1.8.0 + TCP_NODELAY", "lgmqtt node (same work)",
                       "lgmqtt node (shipped)"):
            assert re.search(r"^frozen32\s+nodelay\s+%s\s*%d\s" % (re.escape(client.strip()), n), out, re.M), (
                client, n, out)
    wire = dict(((m.group(2), int(m.group(1))), (int(m.group(3)), int(m.group(4)), int(m.group(5))))
                for m in re.finditer(r"^  N=(\d+)\s+(.+?)\s+(\d+) /\s+(\d+)  \((\d+) connection", out, re.M))
    for n in (1, 10):
        up_u, down_u, conns_u = wire[("umqtt.simple", n)]
        up_l, down_l, conns_l = wire[("lgmqtt node (same work)", n)]
        assert conns_u == conns_l == 1, wire
        assert down_u == down_l == 4 + 4 * n, wire  # CONNACK + one PUBACK per reading, nothing else
        assert abs(up_l - up_u) <= 4 * n + 8, wire  # CONNECT, N PUBLISH, DISCONNECT either way
        # the shipped config adds the Will (availability) to CONNECT, and no SUBSCRIBE
        # (the session kept the request subscription)
        assert wire[("lgmqtt node (shipped)", n)][0] > up_l, wire
    assert "Where the lgmqtt wake-up's time goes (frozen32" in out and "backlog acknowledged" in out, out
