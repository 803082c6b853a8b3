# Reading config.json and merging secrets.json, without the validator: the firmware
# hands the result to Connector(), which validates it once (lgmqtt.connector.config is ~20 KB of
# bytecode, loaded only for that).
import json

from lgmqtt.errors import ConnectorError, CONFIG_ERROR


_SECRET_SECTIONS = ("config", "tls", "wifi", "auth")


def _json(path, required):
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        if not required:
            return None
        raise ConnectorError(CONFIG_ERROR, "cannot read %s: %s" % (path, e), {"path": path, "expected": "a readable file"})
    try:
        _strict(text)  # the reader decides what is JSON, not the interpreter's parser
        return json.loads(text)
    except (ValueError, RuntimeError) as e:  # RuntimeError: nested too deep for the parser
        raise ConnectorError(CONFIG_ERROR, "%s is not valid JSON: %s" % (path, e), {"path": path, "expected": "JSON"})


def _strict(text):
    # MicroPython's json accepts what RFC 8259 does not (trailing commas), CPython's
    # accepts NaN and Infinity: refuse both the same way on both interpreters. Outside
    # strings, the only words are true, false and null, and no , comes before } or ].
    i, n = 0, len(text)
    last = ""
    while i < n:
        c = text[i]
        if c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "}]" and last == ",":
            raise ValueError("trailing comma before %s at character %d" % (c, i))
        elif c.isalpha() and not (c in "eE" and i and text[i - 1] in "0123456789."):  # 1e5 is a number
            j = i
            while j < n and text[j].isalpha():
                j += 1
            if text[i:j] not in ("true", "false", "null"):
                raise ValueError("unexpected word %r at character %d" % (text[i:j][:16], i))
            i = j - 1
        if c not in " \t\r\n":
            last = c
        i += 1


def merge_secrets(doc, secrets):
    """secrets: {"config": {"password": ...}, "tls": {"key": ...}, "wifi": {...}, "auth": {...}}
    merged in place. A wrongly shaped file is CONFIG_ERROR naming the key (its values
    never appear in the message)."""
    if not isinstance(secrets, dict) or not isinstance(doc, dict):
        raise ConnectorError(CONFIG_ERROR, "config and secrets files must hold JSON objects",
                             {"path": "(secrets file)", "expected": "an object"})
    for k, v in secrets.items():
        if k not in _SECRET_SECTIONS:
            raise ConnectorError(CONFIG_ERROR, "secrets.%s: unknown section (known: %s)"
                                 % (k, ", ".join(_SECRET_SECTIONS)),
                                 {"path": "secrets." + k, "expected": "one of " + ", ".join(_SECRET_SECTIONS)})
        if not isinstance(v, dict):
            raise ConnectorError(CONFIG_ERROR, "secrets.%s: expected an object" % k,
                                 {"path": "secrets." + k, "expected": "an object"})
    cfg = doc.setdefault("config", {})
    dev = doc.setdefault("device", {})
    if not isinstance(cfg, dict) or not isinstance(dev, dict):
        raise ConnectorError(CONFIG_ERROR, "config and device must be objects to take secrets",
                             {"path": "config", "expected": "an object"})
    for k, v in secrets.get("config", {}).items():
        cfg[k] = v
    if "tls" in secrets:
        tls = cfg.setdefault("tls", {})
        if not isinstance(tls, dict):
            raise ConnectorError(CONFIG_ERROR, "config.tls: expected an object", {"path": "config.tls",
                                                                                  "expected": "an object"})
        tls.update(secrets["tls"])
    for sec in ("wifi", "auth"):
        if sec in secrets:
            d = dev.setdefault(sec, {})
            if not isinstance(d, dict):
                raise ConnectorError(CONFIG_ERROR, "device.%s: expected an object" % sec,
                                     {"path": "device." + sec, "expected": "an object"})
            d.update(secrets[sec])
    return doc


def read(path="config.json", secrets_path="secrets.json"):
    """config.json with secrets.json (if present) merged in; not yet validated."""
    doc = _json(path, True)
    if secrets_path:
        secrets = _json(secrets_path, False)
        if secrets is not None:
            merge_secrets(doc, secrets)
    return doc
