# The node's remote commands, served through lgmqtt's remote invocation (its
# `commands` and `guard` hooks), each callable only when config.remote.allow lists it:
#
#   lg:node.status      {}                    -> the node's state (read-only)
#   lg:telemetry.set    {"intervalMs": N}     the telemetry interval (always-on) or the
#                                             sample period (deep sleep); kept in flash
#   lg:led.set          {"on": true|false}    the status LED (no longer blinks per publish)
#   lg:node.reboot      {}                    reply, say "offline", disconnect, reset
#   and lgmqtt's own capabilities (mqtt:connection.status, mqtt:history.read, ...).
#
# Authentication (lgnode.auth: HMAC-SHA256 with a counter or a timestamp, the key from
# secrets.json {"auth": {"key": "<hex>"}}): with a key, every call needs a signed
# request except the read-only ones device.auth.unauthenticated lists; without a key,
# read-only calls stay open (as without this module) and every other call is refused
# AUTH_REQUIRED. The last accepted counter is in lgauth.txt in flash, written before
# the command runs, so a replay is refused also after a reset.
import json

from lgmqtt.errors import ConnectorError, INVALID_PARAMS
from lgnode import READ_ONLY

COUNTER_FILE = "lgauth.txt"


class Guard:
    def __init__(self, key, client_id, unauthenticated=(), window_ms=300000, counter_path=COUNTER_FILE):
        self.verifier = None
        if key is not None:
            from lgnode.auth import CounterFile, Verifier

            self.verifier = Verifier(key, client_id, CounterFile(counter_path), window_ms)
        self.free = tuple(unauthenticated)

    def unwrap(self, req):
        # a signed request carries the request (and so its replyTo and id) as a string
        body = req.get("body")
        if "auth" in req and isinstance(body, str):
            try:
                inner = json.loads(body)
            except ValueError:
                return req
            if isinstance(inner, dict):
                return inner
        return req

    def open(self, payload):
        try:
            if self.verifier is not None:
                return self.verifier.open(payload)
            req = json.loads(payload)
            if isinstance(req, dict) and "auth" in req:
                raise ConnectorError("AUTH_FAILED", "this node has no key (secrets.json auth.key): it cannot check"
                                     " a signed request", {})
            return req, False
        except ConnectorError as e:
            print("command refused %s" % e.error)
            raise

    def check(self, call, authenticated):
        if authenticated or call in self.free or (self.verifier is None and call in READ_ONLY):
            return
        print("command refused AUTH_REQUIRED call=%s" % call)
        raise ConnectorError("AUTH_REQUIRED", "%s needs a signed request (auth.n or auth.ts with an HMAC%s)"
                             % (call, "" if self.verifier is not None else "; this node has no auth key"),
                             {"call": call})


def _int_param(params, name, lo, hi):
    v = params.get(name)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ConnectorError(INVALID_PARAMS, "%s: expected an integer %d..%d, got %r" % (name, lo, hi, v),
                             {"param": name, "expected": "an integer %d..%d" % (lo, hi)})
    return v


def install(conn, node, dev):
    """Register the commands and the guard on the connector's remote invocation (if on).
    node: the running node (lgnode.node.Node or lgnode.duty.Wake) with interval_ms,
    min_interval_ms, reboot_delay_ms, set_interval(ms), set_led(on), status() and
    async reboot()."""
    remote = conn.serve_remote()
    if remote is None:
        return None
    a = dev["auth"]
    remote.guard = Guard(a["key"], dev["clientId"], a["unauthenticated"], a["windowMs"])

    async def status(params):
        return node.status()

    async def telemetry_set(params):
        ms = _int_param(params, "intervalMs", node.min_interval_ms, 86400000)
        node.set_interval(ms)
        print("command lg:telemetry.set ok intervalMs=%d" % ms)
        return {"intervalMs": ms}

    async def led_set(params):
        on = params.get("on")
        if not isinstance(on, bool):
            raise ConnectorError(INVALID_PARAMS, "on: expected true or false, got %r" % (on,),
                                 {"param": "on", "expected": "true or false"})
        node.set_led(on)
        print("command lg:led.set ok on=%s" % ("true" if on else "false"))
        return {"on": on}

    async def reboot(params):
        import asyncio

        delay = node.reboot_delay_ms

        async def later():
            await asyncio.sleep(delay / 1000)
            await node.reboot()

        asyncio.create_task(later())
        print("command lg:node.reboot ok")
        return {"rebooting": True, "inMs": delay}

    remote.commands.update({"lg:node.status": status, "lg:telemetry.set": telemetry_set, "lg:led.set": led_set,
                            "lg:node.reboot": reboot})
    return remote.guard
