# CPython only: lgnode.auth's HMAC (built on hashlib.sha256 because MicroPython has no
# hmac module) against CPython's hmac for arbitrary keys and messages, and the device's
# verifier against requests signed by an independent signer built on hmac: what
# tools/lgctl (CPython) will send. The portable half is host_tests/portable/node/test_auth.py.
import hashlib
import hmac
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from lgnode import auth


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=200), st.binary(min_size=0, max_size=400))
def test_hmac_matches_cpython(key, msg):
    assert auth.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


def _independent_sign(key, client_id, body, kind, value):
    # written from the wire format in lgnode/auth.py's header, with CPython's hmac
    msg = b"lgmqtt-rpc-v1\n" + client_id.encode() + b"\n" + ("%s=%d" % (kind, value)).encode() + b"\n" + body.encode()
    return json.dumps({"auth": {kind: value, "mac": hmac.new(key, msg, hashlib.sha256).hexdigest()}, "body": body})


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=16, max_size=100), st.text(min_size=1, max_size=40).filter(lambda s: "\n" not in s),
       st.dictionaries(st.text(max_size=10), st.one_of(st.integers(), st.text(max_size=20), st.booleans()),
                       max_size=5), st.integers(min_value=1, max_value=2 ** 40))
def test_verifier_accepts_what_an_independent_signer_signs(key, client_id, params, n):
    body = json.dumps({"capability": "lg:led", "operation": "set", "params": params})
    v = auth.Verifier(key, client_id)
    req, authed = v.open(_independent_sign(key, client_id, body, "n", n))
    assert authed and req["params"] == params
    # and the module's own signer produces exactly the independent signer's output
    assert auth.sign(key, client_id, body, n=n + 1) == _independent_sign(key, client_id, body, "n", n + 1)
