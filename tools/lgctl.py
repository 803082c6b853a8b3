"""lgctl: call a capability on a device over MQTT and print the JSON reply.

The device (lgmqtt Connector with remote invocation on) listens on lg/<clientId>/rpc.
The request carries a reply topic and an id in its body (for MQTT 3.1.1 devices) and,
on MQTT 5, the Response Topic and Correlation Data properties as well.

With a key (--key-file, a secrets.json with {"auth": {"key": "<hex>"}} or a file with
the hex key alone; or $LGCTL_KEY) every request is signed (lgnode.auth: HMAC-SHA256
over the request, a counter and the device's client id). The counter is kept per
device in ${XDG_CACHE_HOME:-~/.cache}/lgmqtt/lgctl/<device>.counter (locked while in
use); when the device says it already saw a higher one (AUTH_REPLAYED, after the file
was lost or another host signed), lgctl moves past it and sends the call again once.
--ts signs with the time instead (the device's clock must be set).
"""
import argparse
import json
import os
import sys
import threading
import time
import uuid

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from lgnode import auth  # noqa: E402


def parse_broker(url):
    scheme, sep, rest = url.partition("://")
    host, _, port = rest.rstrip("/").rpartition(":")
    if not sep or scheme not in ("mqtt", "tcp") or not host or not port.isdigit():
        raise SystemExit("lgctl: --broker must look like mqtt://HOST:PORT (got %r)" % url)
    return host, int(port)


def load_key(path=None, env=None):
    """The signing key (bytes) from a secrets.json, a file with the hex key, or
    $LGCTL_KEY; None when none is given. The key never appears in an error."""
    env = os.environ if env is None else env
    if path:
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError as e:
            raise SystemExit("lgctl: cannot read the key file %s: %s" % (path, e.strerror or e))
        if text.startswith("{"):
            try:
                sec = json.loads(text)
            except ValueError:
                raise SystemExit("lgctl: %s is not valid JSON" % path)
        else:
            sec = {"auth": {"key": text}}
    elif env.get("LGCTL_KEY"):
        sec = {"auth": {"key": env["LGCTL_KEY"].strip()}}
    else:
        return None
    try:
        return auth.key_from_secrets(sec)
    except Exception as e:  # ConnectorError: says what is wrong, never the value
        raise SystemExit("lgctl: %s" % getattr(e, "message", e))


class Counter:
    """The next counter for a device, in a file locked while a call is under way (two
    lgctl processes never sign with the same number)."""

    def __init__(self, device, cache=None):
        import fcntl

        base = cache or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lgmqtt")
        folder = os.path.join(base, "lgctl")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in device)
        self.path = os.path.join(folder, safe + ".counter")
        self.f = open(self.path, "a+")
        fcntl.flock(self.f, fcntl.LOCK_EX)
        self.f.seek(0)
        try:
            self.last = int(self.f.read().strip() or 0)
        except ValueError:
            self.last = 0

    def next(self, above=0):
        self.last = max(self.last, above) + 1
        self.f.seek(0)
        self.f.truncate()
        self.f.write("%d\n" % self.last)
        self.f.flush()
        os.fsync(self.f.fileno())  # stored before it is used: a crash never reuses it
        return self.last

    def close(self):
        self.f.close()  # releases the lock


def call(host, port, device, capability, operation, params, timeout=10.0, topic=None, key=None, use_ts=False):
    """One call; signed when a key is given. Returns the device's reply (a dict)."""
    counter = Counter(device) if key is not None and not use_ts else None
    try:
        reply = _call(host, port, device, capability, operation, params, timeout, topic, key, use_ts, counter)
        err = reply.get("error") or {}
        if counter is not None and err.get("error") == "AUTH_REPLAYED":
            # the device accepted a higher counter than ours: go past it, once
            above = (err.get("details") or {}).get("last_n", 0)
            reply = _call(host, port, device, capability, operation, params, timeout, topic, key, use_ts, counter,
                          above)
        return reply
    finally:
        if counter is not None:
            counter.close()


def _call(host, port, device, capability, operation, params, timeout, topic, key, use_ts, counter, above=0):
    rid = uuid.uuid4().hex[:12]
    reply_topic = "lgctl/%s/reply" % rid
    req_topic = topic or "lg/%s/rpc" % device
    done = threading.Event()
    out = {}
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lgctl-" + rid, protocol=paho.MQTTv5)

    def on_message(cl, u, msg):
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        if body.get("id") == rid:
            out["reply"] = body
            done.set()

    subscribed = threading.Event()
    c.on_message = on_message
    c.on_subscribe = lambda *a: subscribed.set()
    try:
        c.connect(host, port, keepalive=30)
    except OSError as e:
        raise SystemExit("lgctl: cannot connect to mqtt://%s:%d: %s" % (host, port, e.strerror or e))
    c.loop_start()
    try:
        c.subscribe(reply_topic, qos=1)
        if not subscribed.wait(timeout):
            raise SystemExit("lgctl: broker did not confirm the reply subscription")
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = reply_topic
        props.CorrelationData = rid.encode()
        req = {"id": rid, "replyTo": reply_topic, "capability": capability, "operation": operation,
               "params": params}
        if key is None:
            payload = json.dumps(req)
        elif use_ts:
            payload = auth.signed_request(key, device, req, ts=int(time.time() * 1000))
        else:
            payload = auth.signed_request(key, device, req, n=counter.next(above))
        c.publish(req_topic, payload, qos=1, properties=props)
        if not done.wait(timeout):
            raise SystemExit("lgctl: no reply from %s within %.0f s (is it connected, with remote on?)"
                             % (device, timeout))
    finally:
        c.loop_stop()
        c.disconnect()
    return out["reply"]


def main(argv=None):
    p = argparse.ArgumentParser(prog="tools/lgctl", description=__doc__.split("\n")[0])
    p.add_argument("--broker", default=os.environ.get("LGCTL_BROKER", "mqtt://127.0.0.1:1883"))
    p.add_argument("--device", help="the device's clientId")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for the reply (a sleeping node answers at its next report)")
    p.add_argument("--key-file", help="sign requests with the key in this secrets.json (auth.key) or hex file"
                                      " (default: $LGCTL_KEY; none: unsigned)")
    p.add_argument("--ts", action="store_true", help="sign with the time instead of a counter")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status", help="mqtt:connection status")
    sub.add_parser("node", help="lg:node.status: the node's own state")
    h = sub.add_parser("history", help="mqtt:history read")
    h.add_argument("--topic")
    h.add_argument("--limit", type=int, default=20)
    h.add_argument("--since")
    h.add_argument("--order", choices=["newest", "oldest"], default="newest")
    led = sub.add_parser("led", help="lg:led.set: switch the LED")
    led.add_argument("state", choices=["on", "off"])
    iv = sub.add_parser("interval", help="lg:telemetry.set: the telemetry interval (deep sleep: sample period)")
    iv.add_argument("ms", type=int)
    sub.add_parser("reboot", help="lg:node.reboot")
    sub.add_parser("keygen", help="print a new key as a secrets.json auth section (no device needed)")
    c = sub.add_parser("call", help="any capability: call CAPABILITY OPERATION [PARAMS_JSON]")
    c.add_argument("capability")
    c.add_argument("operation")
    c.add_argument("params", nargs="?", default="{}")
    a = p.parse_args(argv)
    if a.cmd == "keygen":
        print(json.dumps({"auth": {"key": os.urandom(32).hex()}}))
        return 0
    if not a.device:
        p.error("--device is required")
    host, port = parse_broker(a.broker)
    key = load_key(a.key_file)
    if a.cmd == "status":
        cap, op, params = "mqtt:connection", "status", {}
    elif a.cmd == "node":
        cap, op, params = "lg:node", "status", {}
    elif a.cmd == "history":
        cap, op = "mqtt:history", "read"
        params = {"limit": a.limit, "order": a.order}
        if a.topic:
            params["topic"] = a.topic
        if a.since:
            params["since"] = int(a.since) if a.since.isdigit() else a.since
    elif a.cmd == "led":
        cap, op, params = "lg:led", "set", {"on": a.state == "on"}
    elif a.cmd == "interval":
        cap, op, params = "lg:telemetry", "set", {"intervalMs": a.ms}
    elif a.cmd == "reboot":
        cap, op, params = "lg:node", "reboot", {}
    else:
        cap, op = a.capability, a.operation
        try:
            params = json.loads(a.params)
        except ValueError as e:
            raise SystemExit("lgctl: PARAMS must be JSON: %s" % e)
    reply = call(host, port, a.device, cap, op, params, a.timeout, key=key, use_ts=a.ts)
    print(json.dumps(reply.get("result", reply), indent=2, sort_keys=True))
    return 0 if "error" not in reply else 1


if __name__ == "__main__":
    sys.exit(main())
