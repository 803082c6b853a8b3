# Client TLS contexts on both interpreters: PEM or DER certificates and keys in, an
# SSLContext out. Imported by transport.tls_context only when a broker uses TLS.
from lgmqtt.compat import MICROPYTHON
from lgmqtt.errors import CONFIG_ERROR, ConnectorError
from lgmqtt.net.neterr import text as _text


def tls_context(ca=None, cert=None, key=None, verify=True):
    """A client TLS context. ca, cert, key: PEM or DER bytes (ca may hold several PEM
    certificates). verify=True: the server certificate must chain to `ca` (CPython
    without ca: the system store; MicroPython without ca: every handshake fails, it has
    no store) and name server_hostname. verify=False: anything is accepted
    (rejectUnauthorized: false; reporting that is the caller's job)."""
    if (cert is None) != (key is None):
        raise ConnectorError(CONFIG_ERROR, "TLS client certificate and key go together", {"reason": "cert without key"})
    try:
        return _context(_ders(ca) if ca else [], _ders(cert)[0] if cert else None,
                        _ders(key)[0] if key else None, verify)
    except (ValueError, OSError) as e:
        raise ConnectorError(CONFIG_ERROR, "unusable TLS certificate or key: %s" % _text(e), {"reason": _text(e)})


def _ders(data):
    """PEM or DER bytes -> list of DER blocks (MicroPython's mbedtls parses only DER)."""
    if isinstance(data, str):
        data = data.encode()
    if b"-----BEGIN" not in data:
        return [bytes(data)]
    import binascii

    out = []
    pos = 0
    while True:
        start = data.find(b"-----BEGIN", pos)
        if start < 0:
            break
        body = data.find(b"\n", start) + 1
        end = data.find(b"-----END", body)
        if body <= 0 or end < 0:
            raise ValueError("truncated PEM block")
        out.append(binascii.a2b_base64(data[body:end]))
        pos = end + 8
    return out


def _context(cas, cert, key, verify):
    """A client TLS context. cas: list of DER certificates; cert, key: DER or None
    (tls_context converts PEM). verify: CERT_REQUIRED and the host name
    checked against server_hostname; else CERT_NONE."""
    if MICROPYTHON:
        import tls

        ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
        # The unix port's mbedtls has no PEM parser, hence DER. Without a CA, CERT_REQUIRED
        # fails every handshake (MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED): no system store here.
        ctx.verify_mode = tls.CERT_REQUIRED if verify else tls.CERT_NONE
        for ca in cas:
            ctx.load_verify_locations(ca)  # each call adds to the chain
        if cert:
            ctx.load_cert_chain(cert, key)
        return ctx
    import os
    import ssl
    import tempfile

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if verify:
        for ca in cas:
            ctx.load_verify_locations(cadata=ca)
        if not cas:
            ctx.load_default_certs()
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        # CPython loads a client certificate only from a file: write one for the call.
        fd, path = tempfile.mkstemp(suffix=".pem")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(ssl.DER_cert_to_PEM_cert(cert))
                f.write(_pem(_key_label(key), key))
            ctx.load_cert_chain(path)
        finally:
            os.unlink(path)
    return ctx


def _key_label(der):
    # The PEM label OpenSSL wants for a DER key, from the element after the version number:
    # PKCS#8 has an AlgorithmIdentifier (SEQUENCE), SEC1 an OCTET STRING, PKCS#1 an INTEGER.
    pos = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)  # outer SEQUENCE header
    pos += 2 + der[pos + 1]  # version INTEGER (short form)
    return {0x30: "PRIVATE KEY", 0x04: "EC PRIVATE KEY", 0x02: "RSA PRIVATE KEY"}.get(der[pos], "PRIVATE KEY")


def _pem(label, der):
    import base64

    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)
