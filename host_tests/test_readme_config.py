"""The README's config table names every key the validator accepts in `config`, and
no key it refuses (issue 9, item 21). The accepted keys come from the validator itself:
an unknown key's CONFIG_ERROR lists them."""
import os
import re

import pytest

from lgmqtt import ConnectorError
from lgmqtt.connector import config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _accepted():
    with pytest.raises(ConnectorError) as e:
        config.validate({"id": "x", "type": "mqtt", "config": {"host": "h", "zz-unknown": 1}})
    assert e.value.error == "CONFIG_ERROR"
    known = re.search(r"\(known: ([^)]*)\)", e.value.message).group(1)
    return set(k.strip() for k in known.split(","))


def _documented():
    text = open(os.path.join(ROOT, "README.md")).read()
    table = text.split("| key (`config.`) | default | meaning |", 1)[1].split("\n\n", 1)[0]
    keys = set()
    for row in table.splitlines()[2:]:
        first = row.split("|")[1]
        if "(in " in first:
            continue  # a key of a nested object (`servername` in `brokers[]` or `tls`)
        keys |= set(k.split(".")[0] for k in re.findall(r"`([A-Za-z][A-Za-z0-9.]*)`", first))
    return keys


def test_readme_config_table_matches_the_validator():
    accepted, documented = _accepted(), _documented()
    assert len(accepted) > 20
    assert sorted(accepted - documented) == [], "accepted but not in the README's table"
    assert sorted(documented - accepted) == [], "in the README's table but refused"
