# Authenticated remote commands: HMAC-SHA256 over the request, a freshness value and the
# device's client id. The device verifies (Verifier); the host signs (sign, importable
# from CPython: tools/lgctl uses it). MicroPython has hashlib.sha256 but no hmac module,
# so HMAC (RFC 2104) is built here on sha256.
#
# Wire format (one MQTT payload on the device's request topic, UTF-8 JSON):
#
#   {"auth": {"n": 42, "mac": "<64 lowercase hex digits>"}, "body": "<request JSON text>"}
#   {"auth": {"ts": 1718000000123, "mac": "..."}, "body": "..."}
#
#   body  the request exactly as lgmqtt's remote invocation defines it ({"id", "replyTo",
#         "capability", "operation", "params"}), carried as a JSON *string*, so the MAC
#         covers its exact bytes: neither side re-serialises JSON (key order, spacing
#         and float formatting differ between CPython and MicroPython, and a 32-bit
#         board's floats are single precision).
#   n     a counter (integer >= 1): accepted only above the last accepted counter, which
#         the device stores in flash before it runs the command (CounterFile).
#   ts    Unix time in milliseconds: accepted within window_ms (default 300 s) of the
#         device's clock, and only above the last accepted ts (so no replay inside the
#         window either). Needs the device's clock set (NTP); else use n.
#   mac   HMAC-SHA256(key, canonical) in hex, where canonical is the bytes
#             b"lgmqtt-rpc-v1\n" + client_id + b"\n" + (b"n=%d" | b"ts=%d") + b"\n" + body
#         client_id is the device's MQTT client id (a request signed for one device is
#         refused by another with the same key); it may not contain "\n", so the fields
#         split one way only.
#   key   at least 16 bytes, from secrets.json {"auth": {"key": "<hex>"}} (key_from_secrets).
#
# A payload without "auth" is an unsigned request (the plain request JSON): open()
# returns it with authenticated=False, and the caller decides (require()) which calls
# may run unauthenticated. Refusals are ConnectorError with these codes:
#   AUTH_REQUIRED  a state-changing call without auth
#   AUTH_FAILED    malformed auth, or a MAC that does not match (no detail: which part
#                  was wrong is not told to a caller without the key)
#   AUTH_REPLAYED  n / ts not above the last accepted (details: the last accepted value)
#   AUTH_STALE     ts outside the window, or the device clock is not set
# Secrets (the key, MACs computed here) never appear in messages or details.
import json
from binascii import hexlify, unhexlify
from hashlib import sha256

from lgmqtt.compat import const
from lgmqtt.errors import ConnectorError, CONFIG_ERROR, INVALID_PARAMS, STORAGE_ERROR

AUTH_REQUIRED = "AUTH_REQUIRED"
AUTH_FAILED = "AUTH_FAILED"
AUTH_REPLAYED = "AUTH_REPLAYED"
AUTH_STALE = "AUTH_STALE"
TAG = b"lgmqtt-rpc-v1\n"
MIN_KEY = const(16)
_BLOCK = const(64)  # SHA-256 block size
_CLOCK_SET_MS = 1577836800000  # 2020-01-01: a device clock earlier than this was never set


def _pad(key, byte):
    if len(key) > _BLOCK:
        key = sha256(key).digest()
    return bytes((key[i] if i < len(key) else 0) ^ byte for i in range(_BLOCK))


def hmac_sha256(key, msg):
    """RFC 2104 HMAC with SHA-256 -> 32 bytes."""
    inner = sha256(_pad(key, 0x36))
    inner.update(msg)
    outer = sha256(_pad(key, 0x5C))
    outer.update(inner.digest())
    return outer.digest()


def equal(a, b):
    """Compare two byte strings in time that depends only on their length."""
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= a[i] ^ b[i]
    return r == 0


def canonical(client_id, kind, value, body):
    """The signed bytes; kind "n" or "ts"."""
    cid = client_id.encode() if isinstance(client_id, str) else bytes(client_id)
    if b"\n" in cid:
        raise ConnectorError(INVALID_PARAMS, "client id must not contain a newline", {})
    if isinstance(body, str):
        body = body.encode()
    return b"".join((TAG, cid, b"\n", ("%s=%d\n" % (kind, value)).encode(), body))


def sign(key, client_id, body, n=None, ts=None):
    """The signed payload (str) for `body` (the request JSON text): pass exactly one of
    n (counter) or ts (Unix ms)."""
    if (n is None) == (ts is None):
        raise ConnectorError(INVALID_PARAMS, "sign: pass exactly one of n or ts", {})
    kind, value = ("n", n) if n is not None else ("ts", ts)
    if isinstance(body, bytes):
        body = body.decode()
    mac = hexlify(hmac_sha256(key, canonical(client_id, kind, value, body))).decode()
    return json.dumps({"auth": {kind: value, "mac": mac}, "body": body})


def signed_request(key, client_id, request, n=None, ts=None):
    """sign() for a request dict ({"capability", "operation", "params", ...})."""
    return sign(key, client_id, json.dumps(request), n=n, ts=ts)


def key_from_secrets(secrets):
    """secrets.json's {"auth": {"key": "<hex, >= 32 digits>"}} -> key bytes."""
    sec = secrets.get("auth") if isinstance(secrets, dict) else None
    hexkey = sec.get("key") if isinstance(sec, dict) else None
    try:
        key = unhexlify(hexkey) if isinstance(hexkey, str) else b""
    except ValueError:
        key = b""
    if len(key) < MIN_KEY:
        # the value is never shown: it is (part of) the secret
        raise ConnectorError(CONFIG_ERROR, "secrets.json auth.key: expected at least %d bytes as hex digits"
                             % MIN_KEY, {"path": "auth.key", "expected": "hex, at least %d digits" % (2 * MIN_KEY)})
    return key


def _now_ms():
    import time

    t = getattr(time, "time_ns", None)
    return t() // 1000000 if t else int(time.time() * 1000)


class CounterFile:
    """The last accepted (n, ts) in a small file, replaced by rename so that a power cut
    leaves either the old or the new value, never a torn one."""

    def __init__(self, path):
        self.path = path

    def load(self):
        """-> (n, ts); (0, 0) when the file does not exist yet."""
        try:
            with open(self.path) as f:
                text = f.read()
        except OSError:
            return 0, 0
        try:
            n, ts = text.split()
            return int(n), int(ts)
        except ValueError:
            # a zero here would accept replayed commands: refuse instead
            raise ConnectorError(STORAGE_ERROR, "%s is corrupt: counter-signed commands are refused until it"
                                 " is fixed" % self.path, {"path": self.path})

    def save(self, n, ts):
        import os

        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            f.write("%d %d\n" % (n, ts))
        try:
            os.rename(tmp, self.path)
        except OSError:
            os.remove(self.path)  # ports whose rename does not replace an existing file
            os.rename(tmp, self.path)


class Verifier:
    """The device side. store: an object with load() -> (n, ts) and save(n, ts) (a
    CounterFile), or None to keep the counters in RAM only (a reboot then accepts
    counters again from 1: only for tests). clock_ms: Unix time in ms (the board's)."""

    def __init__(self, key, client_id, store=None, window_ms=300000, clock_ms=_now_ms):
        if len(key) < MIN_KEY:
            raise ConnectorError(CONFIG_ERROR, "auth key: expected at least %d bytes" % MIN_KEY,
                                 {"path": "auth.key", "expected": "at least %d bytes" % MIN_KEY})
        self._ipad = _pad(key, 0x36)
        self._opad = _pad(key, 0x5C)
        self.client_id = client_id
        self.store = store
        self.window_ms = window_ms
        self.clock_ms = clock_ms
        self.last_n, self.last_ts = store.load() if store is not None else (0, 0)
        canonical(client_id, "n", 0, b"")  # refuses a client id with a newline now, not per request

    def _mac(self, msg):
        inner = sha256(self._ipad)
        inner.update(msg)
        outer = sha256(self._opad)
        outer.update(inner.digest())
        return outer.digest()

    def open(self, payload):
        """payload (bytes or str) -> (request dict, authenticated). Raises ConnectorError
        INVALID_PARAMS for a payload that is not a JSON object, AUTH_* for a signed one
        that is refused. An accepted counter/ts is stored before this returns."""
        try:
            req = json.loads(payload)
        except ValueError:
            raise ConnectorError(INVALID_PARAMS, "request is not JSON", {})
        if not isinstance(req, dict):
            raise ConnectorError(INVALID_PARAMS, "request must be a JSON object", {})
        if "auth" not in req:
            return req, False
        auth, body = req.get("auth"), req.get("body")
        kind = "n" if isinstance(auth, dict) and "n" in auth else "ts"
        value = auth.get(kind) if isinstance(auth, dict) else None
        mac = auth.get("mac") if isinstance(auth, dict) else None
        if (not isinstance(body, str) or not isinstance(value, int) or isinstance(value, bool) or value < 1
                or not isinstance(mac, str) or len(mac) != 64 or len(auth) != 2):
            raise ConnectorError(AUTH_FAILED, "malformed auth: expected {\"auth\": {\"n\" or \"ts\": int, \"mac\":"
                                 " hex}, \"body\": \"<request JSON>\"}", {})
        try:
            given = unhexlify(mac)
        except ValueError:
            given = b""
        if not equal(self._mac(canonical(self.client_id, kind, value, body)), given):
            raise ConnectorError(AUTH_FAILED, "request signature does not match", {})
        if kind == "n":
            if value <= self.last_n:
                raise ConnectorError(AUTH_REPLAYED, "counter %d is not above the last accepted (%d)"
                                     % (value, self.last_n), {"last_n": self.last_n})
            n, ts = value, self.last_ts
        else:
            now = self.clock_ms()
            if now < _CLOCK_SET_MS:
                raise ConnectorError(AUTH_STALE, "the device clock is not set: sign with a counter (n)", {})
            if abs(value - now) > self.window_ms:
                raise ConnectorError(AUTH_STALE, "timestamp is %d ms from the device clock (window %d ms)"
                                     % (value - now, self.window_ms), {"skew_ms": value - now})
            if value <= self.last_ts:
                raise ConnectorError(AUTH_REPLAYED, "timestamp %d is not above the last accepted (%d)"
                                     % (value, self.last_ts), {"last_ts": self.last_ts})
            n, ts = self.last_n, value
        try:
            inner = json.loads(body)
        except ValueError:
            inner = None
        if not isinstance(inner, dict):
            raise ConnectorError(INVALID_PARAMS, "signed body must be a JSON object", {})
        if self.store is not None:
            try:
                self.store.save(n, ts)
            except OSError as e:
                # not stored -> replayable after a reboot: do not run it
                raise ConnectorError(STORAGE_ERROR, "cannot store the request counter: %s" % e, {})
        self.last_n, self.last_ts = n, ts
        return inner, True


def require(call, authenticated, unauthenticated_ok=()):
    """Raise AUTH_REQUIRED unless `call` ("capability.operation") is authenticated or
    listed as allowed without it (read-only calls, when so configured)."""
    if not authenticated and call not in unauthenticated_ok:
        raise ConnectorError(AUTH_REQUIRED, "%s needs a signed request (auth.n or auth.ts with an HMAC)" % call,
                             {"call": call})
