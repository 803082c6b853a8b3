"""Run the firmware as a virtual sensor node and watch its telemetry arrive.

The node is firmware/main.py under the real `micropython` binary (the pip wheel's, or
with --firmware a board-like 32-bit build, lgmqtt frozen in or not), with a temporary
folder as its filesystem (config.json is written there, as `mpremote cp` would). An
observer (paho-mqtt, an independent client) subscribes before the node starts and
prints each telemetry message; at the end one summary line compares the two sides.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from lghost import mpy  # noqa: E402
from lghost.mosquitto import Broker  # noqa: E402


RESET_EXIT = 75  # boards/unix.py: the node asks to be reset
SLEEP_EXIT = 76  # boards/unix.py: the node goes to deep sleep for the ms in SLEEP_FILE
SLEEP_FILE = "lgsleep.txt"
RTC_FILE = "lgrtc.bin"  # boards/unix.py's RTC memory: gone when the power is cut
POWER_OFF_S = 0.2  # how long a cut node stays without power
FLUSH_CUT_S = 0.08  # a flush cut lands this long after "connected" at most
DRAIN_S = 60
# --power deep-sleep, unless config.json's device.power says otherwise
DEEP_SLEEP = {"samplePeriodMs": 1000, "reportEvery": 5, "awakeMs": 10000, "listenMs": 100}


class SimError(Exception):
    pass


def parse_broker(url):
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mqtt", "tcp"):
        raise SimError("--broker must look like mqtt://HOST:PORT (got %r)" % url)
    host, _, port = rest.rstrip("/").rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SimError("--broker must look like mqtt://HOST:PORT (got %r)" % url)
    return host, int(port)


class Observer:
    """Subscribes to the node's telemetry topic and records what arrives."""

    def __init__(self, host, port, topic, quiet=False):
        import paho.mqtt.client as paho

        self.seqs = []
        self.lock = threading.Lock()
        self.quiet = quiet
        self.subscribed = threading.Event()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lg-sim-observer-%d" % os.getpid())
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        try:
            self.c.connect(host, port, keepalive=30)
        except OSError as e:
            raise SimError("cannot connect to broker mqtt://%s:%d: %s" % (host, port, e.strerror or e))
        self.c.subscribe(topic, qos=1)
        self.c.loop_start()
        if not self.subscribed.wait(10):
            self.stop()
            raise SimError("broker mqtt://%s:%d did not confirm the observer's subscription" % (host, port))

    def _on_message(self, client, userdata, msg):
        try:
            data = json.loads(msg.payload)
            seq = data.get("seq")
        except ValueError:
            data, seq = msg.payload, None
        with self.lock:
            self.seqs.append(seq)
        if not self.quiet:
            print("telemetry %s %s" % (msg.topic, json.dumps(data, separators=(",", ":"))), flush=True)

    def stop(self):
        self.c.loop_stop()
        self.c.disconnect()


def node_config(args, host, port, fsdir):
    with open(args.config) as f:
        cfg = json.load(f)
    cfg["config"]["host"], cfg["config"]["port"] = host, port
    dev = cfg.setdefault("device", {})
    dev["board"] = "unix"
    if args.power == "deep-sleep":
        cfg["config"]["clean"] = False  # one broker session across wake-ups
        p = dev.setdefault("power", {})
        p["mode"] = "deep-sleep"
        for k, v in DEEP_SLEEP.items():
            p.setdefault(k, v)
        if args.interval:
            p["samplePeriodMs"] = args.interval
    elif args.power == "always-on":
        dev.setdefault("power", {})["mode"] = "always-on"
    if args.interval:
        dev.setdefault("telemetry", {})["intervalMs"] = args.interval
    with open(os.path.join(fsdir, "config.json"), "w") as f:
        json.dump(cfg, f)
    topic = dev.get("telemetry", {}).get("topic", "lg/{clientId}/telemetry")
    return topic.replace("{clientId}", cfg["config"]["clientId"]), dev.get("power", {}).get("mode") == "deep-sleep"


class Node:
    """The node's processes, one after the other: a reset (75) boots it again at once, a
    deep sleep (76) after the sleep time it wrote, a power cut (SIGKILL) after a moment
    without power and with its RTC memory gone. Reads its console lines."""

    def __init__(self, args, fsdir, start):
        self.args, self.fsdir, self._start = args, fsdir, start
        self.published, self.queued = [], []
        self.connected = threading.Event()
        self.connect_errors, self.safe = [], []
        self.resets = self.wakes = self.reports = self.cuts = self.cuts_in_flush = 0
        self.awake_s = 0.0
        self.lock = threading.Lock()
        self.proc = None
        self.last_flush = None     # the last "flushed ..." line's pending count
        self.session = False       # between "connected" and this wake-up's end

    def start(self):
        self.wakes += 1
        self.session = False
        self.t_start = time.monotonic()
        self.proc = self._start()
        threading.Thread(target=self._pump, args=(self.proc,), daemon=True).start()
        return self.proc

    def _pump(self, n):
        verbose = self.args.verbose
        for line in n.stdout:
            line = line.rstrip("\n")
            with self.lock:
                if line.startswith("published seq="):
                    self.published.append(int(line.split()[1].split("=")[1]))
                elif line.startswith("queued seq="):
                    self.queued.append(int(line.split("=")[1]))
                elif line.startswith("connected "):
                    self.connected.set()
                    self.session = True
                    self.t_connected = time.monotonic()
                elif line.startswith("flushed "):
                    self.reports += 1
                    self.session = False
                    self.last_flush = int(line.split("pending=")[1].split()[0])
                elif line.startswith("error ") and not self.connected.is_set():
                    self.connect_errors.append(line[6:])
                elif line.startswith("safe-mode crashes="):
                    self.safe.append(line)
            if verbose or not line.startswith(("published ", "queued ")):
                print("node: " + line, flush=True)

    def ended(self):
        """The process's end: its lifetime counts as time awake."""
        self.proc.wait()
        self.lifetime = time.monotonic() - self.t_start
        self.awake_s += self.lifetime

    def sleep_ms(self):
        try:
            with open(os.path.join(self.fsdir, SLEEP_FILE)) as f:
                return int(f.read())
        except (OSError, ValueError):
            raise SimError("node exited to deep sleep without writing %s" % SLEEP_FILE)

    def cut_power(self):
        """SIGKILL (whatever it was doing, flash writes included), then RTC memory gone."""
        in_flush = self.session
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.ended()
        self.cuts += 1
        self.cuts_in_flush += 1 if in_flush else 0
        try:
            os.remove(os.path.join(self.fsdir, RTC_FILE))
        except OSError:
            pass
        print("sim: power cut %d%s" % (self.cuts, " (during a flush)" if in_flush else ""), flush=True)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Cutter:
    """When to cut the power: once at --cut-power-at SECONDS, or (random) at random
    moments: in a sixth of the wake-ups somewhere in its run (boot, sampling, the
    outbox write; the moment drawn from how long wake-ups have lasted), and in the
    first report and a third of the others within FLUSH_CUT_S of "connected", while
    the backlog goes out (the session lasts at least listenMs more)."""

    def __init__(self, spec, rng):
        self.spec, self.rng = spec, rng
        self.at = None if spec in (None, "random") else float(spec)
        self.boot_at = self.flush_at = None
        self.rolled = False
        self.lifetimes = []
        self.flush_cuts = 0

    def new_wake(self, now, lifetime=None):
        if lifetime is not None:
            self.lifetimes = (self.lifetimes + [lifetime])[-20:]
        self.boot_at = self.flush_at = None
        self.rolled = False
        if self.spec == "random" and self.rng.random() < 1 / 6:
            est = sorted(self.lifetimes)[len(self.lifetimes) // 2] if self.lifetimes else 0.3
            self.boot_at = now + self.rng.uniform(0, est)

    def due(self, node, now, run_started):
        if self.at is not None:
            if now - run_started >= self.at:
                self.at = None
                return True
            return False
        if self.spec != "random":
            return False
        if node.session and not self.rolled:
            self.rolled = True
            if not self.flush_cuts or self.rng.random() < 1 / 3:  # the run's first report is always cut
                self.flush_cuts += 1
                self.flush_at = node.t_connected + self.rng.uniform(0, FLUSH_CUT_S)
        for t in (self.boot_at, self.flush_at):
            if t is not None and now >= t:
                self.boot_at = self.flush_at = None
                return True
        return False


def run(args):
    import random

    broker = None
    node = None
    observer = None
    fsdir = tempfile.mkdtemp(prefix="lgmqtt-board-")
    started = time.monotonic()
    try:
        if args.broker:
            host, port = parse_broker(args.broker)
        else:
            broker = Broker().start()
            host, port = broker.host, broker.port
            print("sim: started mosquitto on mqtt://%s:%d" % (host, port), flush=True)
        topic, duty = node_config(args, host, port, fsdir)
        observer = Observer(host, port, topic, args.quiet)
        env = {"PYTHONUNBUFFERED": "1"}
        binary, mpyc = None, None
        if args.firmware != "wheel":
            from lghost import fw_unix

            try:
                binary = fw_unix.build(frozen=args.firmware == "frozen32")
                mpyc = fw_unix.mpy_cross() if args.mpy else None
            except fw_unix.FirmwareError as e:
                raise SimError("--firmware %s: %s" % (args.firmware, e))
        script, path, lib = os.path.join(ROOT, "firmware", "main.py"), [ROOT], True
        if args.firmware == "frozen32":
            # main.py goes on the board's filesystem; lgmqtt and boards come from the
            # firmware (frozen_boot.py checks that), nothing from lib/
            shutil.copy(script, os.path.join(fsdir, "main.py"))
            script, path, lib = os.path.join(HERE, "lghost", "frozen_boot.py"), [], False
        elif args.mpy:  # run the library compiled, as `tools/deploy --mpy` puts it on a board
            from lghost.mpybuild import build_mpy

            path = [build_mpy(os.path.join(fsdir, "lib"), ("lgmqtt", "lgnode", "boards"), mpyc)]

        def spawn():
            return mpy.popen(script, heap=args.heap, path=path, env=env, cwd=fsdir, binary=binary, lib=lib,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

        rng = random.Random(args.seed)
        cutter = Cutter(args.cut_power_at, rng)
        node = Node(args, fsdir, spawn)
        # --duration is the node's running time: a first --firmware build (minutes) or
        # the --mpy compile must not eat it
        started = time.monotonic()
        node.start()
        cutter.new_wake(time.monotonic())
        print("sim: node running (%s%s%s%s), board fs %s" % (
            "micropython" if args.firmware == "wheel" else args.firmware, " .mpy" if args.mpy else "",
            " -X heapsize=" + args.heap if args.heap else "", ", deep sleep" if duty else "", fsdir), flush=True)
        deadline = started + args.duration if args.duration else None
        try:
            _loop(args, node, cutter, deadline, started, duty)
        except KeyboardInterrupt:
            pass  # Ctrl-C ends the run like --duration does: clean up, then the summary
    finally:
        if node is not None:
            node.stop()
        if observer is not None:
            time.sleep(0.3)  # let the last acknowledged message reach the observer
            observer.stop()
        if broker is not None:
            broker.stop()
        shutil.rmtree(fsdir, ignore_errors=True)
        if broker is not None:
            shutil.rmtree(broker.workdir, ignore_errors=True)
    received = set(s for s in observer.seqs if s is not None)
    # every reading the node said it stored (queued) or the broker acknowledged (published)
    lost = len([s for s in set(node.published) | set(node.queued) if s not in received]) if duty else \
        len([s for s in node.published if s not in received])
    line = "summary: published=%d received=%d lost=%d duration=%.1f" % (
        len(node.published), len(observer.seqs), lost, time.monotonic() - started)
    if duty or args.cut_power_at:
        line += " wakeups=%d reports=%d awake_ms_per_report=%.0f awake_ms_per_wake=%.0f cuts=%d cuts_in_flush=%d" % (
            node.wakes, node.reports, 1000 * node.awake_s / max(1, node.reports),
            1000 * node.awake_s / max(1, node.wakes), node.cuts, node.cuts_in_flush)
    print(line, flush=True)
    return 0 if lost == 0 else 1


def _loop(args, node, cutter, deadline, started, duty):
    draining = None  # deep sleep, after --duration: wake-ups without cuts or sleep until the backlog is sent
    while True:
        now = time.monotonic()
        if deadline is not None and now >= deadline and draining is None:
            if not duty:
                return
            draining = now + DRAIN_S
            node.last_flush = None  # a report from now on must leave nothing pending
            print("sim: duration over: waking the node until its backlog is sent", flush=True)
        if draining is not None and now >= draining:
            raise SimError("the node did not send its backlog within %d s after --duration" % DRAIN_S)
        p = node.proc
        if p.poll() is not None:
            node.ended()
            code = p.returncode
            if code == RESET_EXIT:  # the board reset itself: it boots again
                node.resets += 1
                print("sim: node reset (%d): booting again" % node.resets, flush=True)
            elif code == SLEEP_EXIT and duty:
                if draining is not None and node.last_flush == 0:
                    return  # everything it stored was sent
                wake_at = time.monotonic() + node.sleep_ms() / 1000
                while draining is None and time.monotonic() < wake_at and (
                        deadline is None or time.monotonic() < deadline):
                    time.sleep(0.01)  # asleep; the end of --duration wakes it for the drain
            else:
                time.sleep(0.5)
                if node.safe:
                    raise SimError("node is in safe mode after %d resets: %s" % (node.resets, node.safe[0]))
                raise SimError("node exited with status %d" % code)
            node.start()
            cutter.new_wake(time.monotonic(), node.lifetime)
            continue
        if draining is None and cutter.due(node, now, started):
            node.cut_power()
            time.sleep(POWER_OFF_S)
            node.start()
            cutter.new_wake(time.monotonic(), None)
            continue
        if node.connect_errors and not node.connected.is_set() and not duty:
            raise SimError("node cannot connect to the broker: %s" % node.connect_errors[0])
        time.sleep(0.005)


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/sim", description=__doc__.split("\n")[0])
    p.add_argument("--broker", help="mqtt://HOST:PORT of an existing broker (default: start a local Mosquitto)")
    p.add_argument("--duration", type=float, default=0, help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--heap", help="MicroPython heap size, e.g. 96k, to emulate a board's RAM")
    p.add_argument("--mpy", action="store_true", help="run the library compiled to .mpy (as deployed with --mpy)")
    p.add_argument("--firmware", default="wheel", choices=("wheel", "unix32", "frozen32"),
                   help="interpreter: the pip wheel's micropython (64-bit, default), or a board-like"
                        " 32-bit build (tools/firmware): unix32 loads lgmqtt from lib/, frozen32 has it"
                        " frozen in")
    p.add_argument("--interval", type=int, help="telemetry interval in ms (deep sleep: the sample period;"
                   " default: from config.json)")
    p.add_argument("--power", choices=("always-on", "deep-sleep"),
                   help="device.power.mode (default: from config.json); deep-sleep: one process per wake-up,"
                        " %s unless config.json sets them" % ", ".join("%s %s" % kv for kv in DEEP_SLEEP.items()))
    p.add_argument("--cut-power-at", metavar="random|SECONDS",
                   help="cut the node's power (SIGKILL; the board folder stays, RTC memory goes) once SECONDS"
                        " into the run, or at random moments (about every third wake-up, half of them"
                        " during a flush)")
    p.add_argument("--seed", type=int, help="random seed for --cut-power-at random (printed)")
    p.add_argument("--config", default=os.path.join(ROOT, "config.json"), help="node config (default: config.json)")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.add_argument("--verbose", action="store_true", help="also print the node's per-publish lines")
    args = p.parse_args(argv)
    if args.mpy and args.firmware == "frozen32":
        p.error("--mpy and --firmware frozen32 exclude each other (frozen code is already compiled)")
    if args.cut_power_at not in (None, "random"):
        try:
            if float(args.cut_power_at) < 0:
                raise ValueError
        except ValueError:
            p.error("--cut-power-at: expected random or a number of seconds, got %r" % args.cut_power_at)
    if args.cut_power_at == "random" and args.seed is None:
        import random

        args.seed = random.randrange(1 << 30)
    if args.seed is not None:
        print("sim: seed %d (--seed replays the cuts' pattern)" % args.seed, flush=True)
    # Ctrl-C and SIGTERM both end the run cleanly through the finally blocks above.
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return run(args)
    except SimError as e:
        print("sim: error: %s" % e, file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
