# The connector's validated `config` section -> the Client's settings: TLS material
# read (PEM text or a file on the device), MQTT 5 properties and the Will encoded.
# Loaded once per connect; nothing here stays in RAM afterwards.
from lgmqtt.mqtt.wire import Will
from lgmqtt.connector import payloads
from lgmqtt.errors import ConnectorError, CONFIG_ERROR


def _read_pem(v, key):
    """A PEM string, or a path to a PEM/DER file on the device's filesystem -> bytes.
    Errors name the config key, never the value (it may be a private key)."""
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if "-----BEGIN" in v:
        return v.strip().encode()
    try:
        with open(v, "rb") as f:
            return f.read()
    except OSError as e:
        raise ConnectorError(CONFIG_ERROR, "config.tls.%s: cannot read the file it names (%s)" % (key, e.args[0]),
                             {"path": "config.tls." + key, "expected": "PEM text or a readable file"})


def client_config(cfg):
    c = dict(cfg)
    tls = c.get("tls") or {}
    c["tls"] = {k: _read_pem(tls.get(k), k) for k in ("ca", "cert", "key")}
    if tls.get("servername") and not c.get("brokers"):
        c["brokers"] = [{"host": c["host"], "port": c["port"], "servername": tls["servername"]}]
    if "rejectUnauthorized" in tls:
        c["rejectUnauthorized"] = tls["rejectUnauthorized"]
    v5 = c.get("protocolVersion") == 5
    c["connectProperties"] = payloads.props_to_wire(c.get("properties")) if v5 else None
    w = c.get("will")
    if w:
        data, ctype = payloads.encode(w.get("payload", ""))
        wprops = payloads.props_to_wire(w.get("properties")) if v5 else None
        c["will"] = Will(w["topic"], data, w.get("qos", 0), w.get("retain", False), wprops)
    return c
