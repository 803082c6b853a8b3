"""lgctl: call a capability on a device over MQTT and print the JSON reply.

The device (lgmqtt Connector with remote invocation on) listens on lg/<clientId>/rpc.
The request carries a reply topic and an id in its body (for MQTT 3.1.1 devices) and,
on MQTT 5, the Response Topic and Correlation Data properties as well.
"""
import argparse
import json
import os
import sys
import threading
import uuid

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def parse_broker(url):
    scheme, sep, rest = url.partition("://")
    host, _, port = rest.rstrip("/").rpartition(":")
    if not sep or scheme not in ("mqtt", "tcp") or not host or not port.isdigit():
        raise SystemExit("lgctl: --broker must look like mqtt://HOST:PORT (got %r)" % url)
    return host, int(port)


def call(host, port, device, capability, operation, params, timeout=10.0, topic=None):
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
        c.publish(req_topic, json.dumps(req), qos=1, properties=props)
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
    p.add_argument("--device", required=True, help="the device's clientId")
    p.add_argument("--timeout", type=float, default=10.0)
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status", help="mqtt:connection status")
    h = sub.add_parser("history", help="mqtt:history read")
    h.add_argument("--topic")
    h.add_argument("--limit", type=int, default=20)
    h.add_argument("--since")
    h.add_argument("--order", choices=["newest", "oldest"], default="newest")
    c = sub.add_parser("call", help="any capability: call CAPABILITY OPERATION [PARAMS_JSON]")
    c.add_argument("capability")
    c.add_argument("operation")
    c.add_argument("params", nargs="?", default="{}")
    a = p.parse_args(argv)
    host, port = parse_broker(a.broker)
    if a.cmd == "status":
        cap, op, params = "mqtt:connection", "status", {}
    elif a.cmd == "history":
        cap, op = "mqtt:history", "read"
        params = {"limit": a.limit, "order": a.order}
        if a.topic:
            params["topic"] = a.topic
        if a.since:
            params["since"] = int(a.since) if a.since.isdigit() else a.since
    else:
        cap, op = a.capability, a.operation
        try:
            params = json.loads(a.params)
        except ValueError as e:
            raise SystemExit("lgctl: PARAMS must be JSON: %s" % e)
    reply = call(host, port, a.device, cap, op, params, a.timeout)
    print(json.dumps(reply.get("result", reply), indent=2, sort_keys=True))
    return 0 if "error" not in reply else 1


if __name__ == "__main__":
    sys.exit(main())
