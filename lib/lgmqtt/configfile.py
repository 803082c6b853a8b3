# Reading config.json and merging secrets.json, without the validator: the firmware
# hands the result to Connector(), which validates it once (lgmqtt.config is ~20 KB of
# bytecode, loaded only for that).
import json

from lgmqtt.errors import ConnectorError, CONFIG_ERROR


def _json(path, required):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        if not required:
            return None
        raise ConnectorError(CONFIG_ERROR, "cannot read %s: %s" % (path, e), {"path": path, "expected": "a readable file"})
    except ValueError as e:
        raise ConnectorError(CONFIG_ERROR, "%s is not valid JSON: %s" % (path, e), {"path": path, "expected": "JSON"})


def merge_secrets(doc, secrets):
    """secrets: {"config": {"password": ...}, "tls": {"key": ...}, "wifi": {...}} merged in place."""
    if not isinstance(secrets, dict) or not isinstance(doc, dict):
        raise ConnectorError(CONFIG_ERROR, "config and secrets files must hold JSON objects",
                             {"path": "(secrets file)", "expected": "an object"})
    cfg = doc.setdefault("config", {})
    for k, v in secrets.get("config", {}).items():
        cfg[k] = v
    if "tls" in secrets:
        cfg.setdefault("tls", {}).update(secrets["tls"])
    if "wifi" in secrets:
        doc.setdefault("device", {}).setdefault("wifi", {}).update(secrets["wifi"])
    return doc


def read(path="config.json", secrets_path="secrets.json"):
    """config.json with secrets.json (if present) merged in; not yet validated."""
    doc = _json(path, True)
    if secrets_path:
        secrets = _json(secrets_path, False)
        if secrets is not None:
            merge_secrets(doc, secrets)
    return doc
