# Human text for connect, TLS and I/O failures, the same wording on both interpreters
# where the cause is the same. transport.py imports this only when something failed.


_ERRNO_TEXT = {
    "ECONNREFUSED": "connection refused",
    "ECONNRESET": "connection reset by peer",
    "ECONNABORTED": "connection aborted",
    "EPIPE": "connection closed by peer",
    "EHOSTUNREACH": "host unreachable",
    "ENETUNREACH": "network unreachable",
    "ETIMEDOUT": "timed out",
    "ENOTCONN": "not connected",
}


def reason(e, tls):
    """A short human text for a connect/TLS/IO failure, the same wording on both
    interpreters where the cause is the same."""
    vm = getattr(e, "verify_message", None)  # CPython ssl.SSLCertVerificationError
    if vm:
        return "certificate verify failed: " + vm
    if isinstance(e, ValueError):  # MicroPython: mbedtls' verify text in a ValueError
        return "certificate verify failed: " + text(e)
    r = getattr(e, "reason", None)  # CPython ssl.SSLError (its args[0] is no errno)
    if r:
        return "TLS error: %s" % r
    code = e.args[0] if e.args else None
    if isinstance(code, int) and code < 0:  # MicroPython: mbedtls' code, maybe its name
        name = e.args[1] if len(e.args) > 1 else _MBEDTLS.get(code, "mbedtls error -0x%04x" % -code)
        return "TLS error: %s" % name
    name = errname(e)
    if name:
        return ("%s during TLS handshake (%s)" if tls else "%s (%s)") % (_ERRNO_TEXT.get(name, name), name)
    return text(e)


# The mbedtls codes a client meets without their name (read/write errors carry only the number).
_MBEDTLS = {
    -0x7780: "fatal alert from the peer (MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)",
    -0x7880: "peer sent close_notify (MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)",
    -0x7600: "CA chain required (MBEDTLS_ERR_SSL_CA_CHAIN_REQUIRED)",
    -0x2700: "certificate verify failed (MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)",
}


def text(e):
    t = " ".join(str(a).strip() for a in e.args if not isinstance(a, int)) if e.args else ""
    return t or type(e).__name__


def errname(e):
    code = e.args[0] if isinstance(e, OSError) and e.args else None
    if not isinstance(code, int):
        return None
    import errno

    # MicroPython's errno lacks some names: look ours up first; EPIPE is 32 on Linux and
    # on newlib (ESP32) alike, and MicroPython raises it writing to a closed link.
    for name in _ERRNO_TEXT:
        if getattr(errno, name, 32 if name == "EPIPE" else None) == code:
            return name
    return errno.errorcode.get(code)
