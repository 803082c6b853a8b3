# Settings changed by remote command (lg:telemetry.set), kept in a small JSON file in
# flash so that they survive a reset and deep sleep: {"intervalMs": N}. Written only
# when a command changes them, by write-then-rename (a power cut leaves the old file
# or the new one). A missing or unreadable file means "as config.json says".
import json

PATH = "lgsettings.json"


def load(path=PATH):
    try:
        with open(path) as f:
            d = json.loads(f.read())
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def save(d, path=PATH):
    import os

    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(d))
    try:
        os.rename(tmp, path)
    except OSError:  # ports whose rename does not replace an existing file
        os.remove(path)
        os.rename(tmp, path)
