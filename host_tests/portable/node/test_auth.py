# Authenticated commands: HMAC-SHA256 against RFC 4231, the wire format, and every way
# a request is refused (bad MAC, replay, stale, missing auth), with the counter kept in
# a file across a "reboot".
import json
import os

from check import eq, raises
from faults import rmtree, tmpdir
from lgmqtt.errors import ConnectorError
from lgnode import auth

# RFC 4231, section 4: test cases 1-7 (key, data, HMAC-SHA256; case 5 is truncated to
# 128 bits). Also checked against CPython's hmac in host_tests/test_auth_hmac.py.
RFC4231 = (
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (b"Jefe", b"what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
    (b"\xaa" * 20, b"\xdd" * 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
    (bytes(range(1, 26)), b"\xcd" * 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
    (b"\x0c" * 20, b"Test With Truncation", "a3b6167473100ee06e0c796c2955552b"),
    (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    (b"\xaa" * 131, b"This is a test using a larger than block-size key and a larger than block-size data."
     b" The key needs to be hashed before being used by the HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
)

KEY = bytes(range(32))
CID = "lg-node-1"
NOW = 1718000000000  # ms
LED = {"id": "r1", "capability": "lg:led", "operation": "set", "params": {"on": True, "label": "café"}}
# Signed by CPython's hmac module (not by lgnode.auth): KEY, CID, n=7 and this body text.
CPYTHON_SIGNED = ('{"auth": {"n": 7, "mac": "e72042b7a71779ab2efc24296b5cb6e465dbf928d3b132c66c7abed176fdb00d"}, '
                  '"body": "{\\"id\\": \\"r1\\", \\"capability\\": \\"lg:led\\", \\"operation\\": \\"set\\", '
                  '\\"params\\": {\\"on\\": true, \\"label\\": \\"caf\\u00e9\\"}}"}')


def _verifier(store=None, now=NOW):
    clock = [now]
    return auth.Verifier(KEY, CID, store=store, clock_ms=lambda: clock[0]), clock


def test_hmac_sha256_rfc4231():
    for key, data, want in RFC4231:
        got = "".join("%02x" % b for b in auth.hmac_sha256(key, data))
        eq(got[:len(want)], want, "key of %d bytes" % len(key))


def test_constant_time_equal():
    assert auth.equal(b"abc", b"abc")
    assert not auth.equal(b"abc", b"abd")
    assert not auth.equal(b"abc", b"ab")
    assert auth.equal(b"", b"")


def test_a_request_cpython_signed_is_accepted():
    v, _ = _verifier()
    req, authed = v.open(CPYTHON_SIGNED)
    eq((req, authed), (LED, True))
    eq(v.last_n, 7)


def test_signed_counter_and_timestamp_round_trip():
    v, clock = _verifier()
    req, authed = v.open(auth.signed_request(KEY, CID, LED, n=1))
    eq((req, authed), (LED, True))
    req, authed = v.open(auth.signed_request(KEY, CID, LED, ts=NOW - 1000))
    eq((req, authed), (LED, True))
    eq((v.last_n, v.last_ts), (1, NOW - 1000))
    # the envelope is what the module header says
    env = json.loads(auth.sign(KEY, CID, '{"capability": "mqtt:connection", "operation": "status"}', n=2))
    eq(sorted(env), ["auth", "body"])
    eq(sorted(env["auth"]), ["mac", "n"])
    eq(len(env["auth"]["mac"]), 64)
    eq(env["body"], '{"capability": "mqtt:connection", "operation": "status"}')


def test_unsigned_requests_pass_through_and_require_decides():
    v, _ = _verifier()
    req, authed = v.open(b'{"capability": "mqtt:connection", "operation": "status"}')
    eq(authed, False)
    auth.require("mqtt:connection.status", authed, ("mqtt:connection.status", "mqtt:history.read"))
    e = raises(ConnectorError, auth.require, "lg:led.set", authed, ("mqtt:connection.status",))
    eq(e.error, "AUTH_REQUIRED")
    assert "lg:led.set" in e.message
    auth.require("lg:led.set", True, ())
    for bad in (b"not json", b"[1, 2]"):
        eq(raises(ConnectorError, v.open, bad).error, "INVALID_PARAMS")


def test_tampered_wrong_key_and_other_device_are_refused():
    v, _ = _verifier()
    good = auth.signed_request(KEY, CID, LED, n=5)
    env = json.loads(good)
    tampered = json.dumps({"auth": env["auth"], "body": env["body"].replace("true", "false")})
    other_key = auth.signed_request(bytes(32), CID, LED, n=5)
    other_dev = auth.signed_request(KEY, "lg-node-2", LED, n=5)
    other_n = json.dumps({"auth": {"n": 6, "mac": env["auth"]["mac"]}, "body": env["body"]})
    not_hex = json.dumps({"auth": {"n": 5, "mac": env["auth"]["mac"][:-1] + "g"}, "body": env["body"]})
    for p in (tampered, other_key, other_dev, other_n, not_hex):
        e = raises(ConnectorError, v.open, p)
        eq(e.error, "AUTH_FAILED")
        eq(e.details, {})
        assert env["auth"]["mac"] not in e.message
    eq(v.last_n, 0, "nothing was accepted")
    eq(v.open(good)[1], True)


def test_malformed_auth_is_refused():
    v, _ = _verifier()
    body = '{"capability": "x", "operation": "y"}'
    mac = "0" * 64
    for a in ({"n": 1}, {"mac": mac}, {"n": "1", "mac": mac}, {"n": 0, "mac": mac}, {"n": True, "mac": mac},
              {"n": 1, "ts": 2, "mac": mac}, {"n": 1, "mac": mac[:-2]}, {"n": 1, "mac": 5}, "x", None):
        e = raises(ConnectorError, v.open, json.dumps({"auth": a, "body": body}))
        eq(e.error, "AUTH_FAILED", repr(a))
    eq(raises(ConnectorError, v.open, json.dumps({"auth": {"n": 1, "mac": mac}, "body": {"a": 1}})).error,
       "AUTH_FAILED")
    # a correctly signed body that is not a JSON object
    eq(raises(ConnectorError, v.open, auth.sign(KEY, CID, "[1]", n=1)).error, "INVALID_PARAMS")
    eq(v.last_n, 0, "not consumed")


def test_replayed_counter_is_refused():
    v, _ = _verifier()
    p5 = auth.signed_request(KEY, CID, LED, n=5)
    v.open(p5)
    e = raises(ConnectorError, v.open, p5)
    eq((e.error, e.details), ("AUTH_REPLAYED", {"last_n": 5}))
    eq(raises(ConnectorError, v.open, auth.signed_request(KEY, CID, LED, n=3)).error, "AUTH_REPLAYED")
    eq(v.open(auth.signed_request(KEY, CID, LED, n=6))[1], True)


def test_stale_and_replayed_timestamps_are_refused():
    v, clock = _verifier()
    for ts in (NOW - 300001, NOW + 300001):
        e = raises(ConnectorError, v.open, auth.signed_request(KEY, CID, LED, ts=ts))
        eq(e.error, "AUTH_STALE")
        eq(e.details["skew_ms"], ts - NOW)
    p = auth.signed_request(KEY, CID, LED, ts=NOW + 299999)
    eq(v.open(p)[1], True)
    eq(raises(ConnectorError, v.open, p).error, "AUTH_REPLAYED", "the same request again, inside the window")
    eq(raises(ConnectorError, v.open, auth.signed_request(KEY, CID, LED, ts=NOW)).error, "AUTH_REPLAYED")
    clock[0] = NOW + 10 * 60000
    eq(raises(ConnectorError, v.open, p).error, "AUTH_STALE", "and later, outside it")
    # a device whose clock was never set cannot judge timestamps: counters still work
    v2, _ = _verifier(now=5000)
    e = raises(ConnectorError, v2.open, auth.signed_request(KEY, CID, LED, ts=NOW))
    eq(e.error, "AUTH_STALE")
    assert "clock" in e.message
    eq(v2.open(auth.signed_request(KEY, CID, LED, n=1))[1], True)


def test_counter_survives_a_reboot_in_its_file():
    d = tmpdir("auth")
    try:
        path = d + "/rpc.counter"
        store = auth.CounterFile(path)
        eq(store.load(), (0, 0), "first boot")
        v, _ = _verifier(store)
        p9 = auth.signed_request(KEY, CID, LED, n=9)
        v.open(p9)
        v.open(auth.signed_request(KEY, CID, LED, ts=NOW))
        eq(store.load(), (9, NOW))
        # "reboot": a new verifier over the same file
        v2, _ = _verifier(auth.CounterFile(path))
        eq(raises(ConnectorError, v2.open, p9).error, "AUTH_REPLAYED")
        eq(v2.open(auth.signed_request(KEY, CID, LED, n=10))[1], True)
        eq(sorted(os.listdir(d)), ["rpc.counter"], "no temp file left")
        with open(path, "w") as f:
            f.write("garbage")
        e = raises(ConnectorError, _verifier, auth.CounterFile(path))
        eq(e.error, "STORAGE_ERROR")
    finally:
        rmtree(d)


def test_a_counter_that_cannot_be_stored_refuses_the_command():
    class Full:
        def load(self):
            return 4, 0

        def save(self, n, ts):
            raise OSError(28)

    v, _ = _verifier(Full())
    e = raises(ConnectorError, v.open, auth.signed_request(KEY, CID, LED, n=5))
    eq(e.error, "STORAGE_ERROR")
    eq(v.last_n, 4, "not accepted: it could be replayed after a reboot")


def test_key_from_secrets():
    hexkey = "".join("%02x" % b for b in KEY)
    eq(auth.key_from_secrets({"auth": {"key": hexkey}}), KEY)
    for bad in ({}, {"auth": {}}, {"auth": {"key": "abcd"}}, {"auth": {"key": "zz" * 16}}, {"auth": "x"}, None):
        e = raises(ConnectorError, auth.key_from_secrets, bad)
        eq((e.error, e.details["path"]), ("CONFIG_ERROR", "auth.key"))
        assert "zz" not in e.message
    e = raises(ConnectorError, auth.Verifier, b"short", CID)
    eq(e.error, "CONFIG_ERROR")
    eq(raises(ConnectorError, auth.Verifier, KEY, "a\nb").error, "INVALID_PARAMS")
    eq(raises(ConnectorError, auth.sign, KEY, CID, "{}").error, "INVALID_PARAMS", "neither n nor ts")
