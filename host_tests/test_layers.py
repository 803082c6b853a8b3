"""The layers of lib/lgmqtt. What each module imports is checked against the components
table (tools/lghost/components.py) by test_packaging; this file checks the table
itself against the layer picture, so the table cannot be "fixed" by letting a layer
reach upward:

    core       lgmqtt (package), errors, compat, isotime      needs nothing
    mqtt       packets, properties, topics, session           core; sans-I/O
    net        client, supervision, transport, TLS            mqtt
    store      ring log, journal, history, outbox             mqtt (not net: siblings)
    umqtt      the blocking umqtt drop-in                     mqtt, net (its TLS context only)
    connector  Connector, capabilities, delivery, remote      everything below
    lgnode     the sensor node                                the connector

and that what must run without a network stack or an event loop (mqtt, the store's
log, its record format) imports neither asyncio nor socket, even lazily."""
import ast
import os

import pytest

from lghost import components as C

RANK = {"core": 0, "mqtt": 1, "net": 2, "store": 2, "umqtt": 3, "connector": 3, "lgnode": 4}
NO_IO = ("lgmqtt/mqtt/", "lgmqtt/store/log.py", "lgmqtt/store/logformat.py", "lgmqtt/store/records.py")
IO = ("asyncio", "uasyncio", "socket", "usocket", "ssl", "select")


def _closure(name, seen=None):
    seen = set() if seen is None else seen
    for dep in C.COMPONENTS[C.NAMES.index(name)][3]:
        if dep not in seen:
            seen.add(dep)
            _closure(dep, seen)
    return seen


def test_every_component_has_a_layer():
    assert sorted(C.NAMES) == sorted(RANK)


@pytest.mark.parametrize("name", C.NAMES)
def test_a_component_needs_only_layers_below_it(name):
    bad = [d for d in _closure(name) if RANK[d] >= RANK[name]]
    assert bad == [], "%s (layer %d) needs %s" % (name, RANK[name], bad)


def _external_imports(path):
    with open(os.path.join(C.ROOT, "lib", path)) as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module.split(".")[0], node.lineno


def test_sans_io_modules_import_neither_asyncio_nor_socket():
    files = [f for f in C.all_files() if f.startswith(NO_IO)]
    assert "lgmqtt/mqtt/session.py" in files and "lgmqtt/store/log.py" in files
    bad = ["%s:%d imports %s" % (f, line, m) for f in files for m, line in _external_imports(f) if m in IO]
    assert bad == [], "\n".join(bad)
