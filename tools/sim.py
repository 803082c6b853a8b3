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
    cfg["device"]["board"] = "unix"
    if args.interval:
        cfg["device"].setdefault("telemetry", {})["intervalMs"] = args.interval
    with open(os.path.join(fsdir, "config.json"), "w") as f:
        json.dump(cfg, f)
    topic = cfg["device"].get("telemetry", {}).get("topic", "lg/{clientId}/telemetry")
    return topic.replace("{clientId}", cfg["config"]["clientId"])


def run(args):
    broker = None
    node = None
    observer = None
    fsdir = tempfile.mkdtemp(prefix="lgmqtt-board-")
    started = time.monotonic()
    published = []
    connect_errors = []
    try:
        if args.broker:
            host, port = parse_broker(args.broker)
        else:
            broker = Broker().start()
            host, port = broker.host, broker.port
            print("sim: started mosquitto on mqtt://%s:%d" % (host, port), flush=True)
        topic = node_config(args, host, port, fsdir)
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
        # --duration is the node's running time: a first --firmware build (minutes) or
        # the --mpy compile must not eat it
        started = time.monotonic()
        connected = threading.Event()
        resets = 0
        safe = []

        def start():
            n = mpy.popen(script, heap=args.heap, path=path, env=env, cwd=fsdir, binary=binary, lib=lib,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
            threading.Thread(target=pump, args=(n,), daemon=True).start()
            return n

        def pump(n):
            for line in n.stdout:
                line = line.rstrip("\n")
                if line.startswith("published seq="):
                    published.append(int(line.split()[1].split("=")[1]))
                elif line.startswith("connected "):
                    connected.set()
                elif line.startswith("error ") and not connected.is_set():
                    connect_errors.append(line[6:])
                elif line.startswith("safe-mode crashes="):
                    safe.append(line)
                if args.verbose or not line.startswith("published "):
                    print("node: " + line, flush=True)

        node = start()
        print("sim: node running (%s%s%s), board fs %s" % (
            "micropython" if args.firmware == "wheel" else args.firmware, " .mpy" if args.mpy else "",
            " -X heapsize=" + args.heap if args.heap else "", fsdir), flush=True)
        deadline = started + args.duration if args.duration else None
        try:
            while deadline is None or time.monotonic() < deadline:
                if node.poll() is not None:
                    if node.returncode == RESET_EXIT:  # the board reset itself: it boots again
                        resets += 1
                        print("sim: node reset (%d): booting again" % resets, flush=True)
                        node = start()
                        continue
                    time.sleep(0.5)
                    if safe:
                        raise SimError("node is in safe mode after %d resets: %s" % (resets, safe[0]))
                    raise SimError("node exited with status %d" % node.returncode)
                if connect_errors and not connected.is_set():
                    raise SimError("node cannot connect to mqtt://%s:%d: %s" % (host, port, connect_errors[0]))
                time.sleep(0.05)
        except KeyboardInterrupt:
            pass  # Ctrl-C ends the run like --duration does: clean up, then the summary
    finally:
        if node is not None and node.poll() is None:
            os.killpg(node.pid, signal.SIGTERM)
            try:
                node.wait(3)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()
        if observer is not None:
            time.sleep(0.3)  # let the last acknowledged message reach the observer
            observer.stop()
        if broker is not None:
            broker.stop()
        shutil.rmtree(fsdir, ignore_errors=True)
        if broker is not None:
            shutil.rmtree(broker.workdir, ignore_errors=True)
    received = set(s for s in observer.seqs if s is not None)
    lost = len([s for s in published if s not in received])
    print("summary: published=%d received=%d lost=%d duration=%.1f" % (
        len(published), len(observer.seqs), lost, time.monotonic() - started), flush=True)
    return 0 if lost == 0 else 1


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
    p.add_argument("--interval", type=int, help="telemetry interval in ms (default: from config.json)")
    p.add_argument("--config", default=os.path.join(ROOT, "config.json"), help="node config (default: config.json)")
    p.add_argument("--quiet", action="store_true", help="print only the summary")
    p.add_argument("--verbose", action="store_true", help="also print the node's per-publish lines")
    args = p.parse_args(argv)
    if args.mpy and args.firmware == "frozen32":
        p.error("--mpy and --firmware frozen32 exclude each other (frozen code is already compiled)")
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
