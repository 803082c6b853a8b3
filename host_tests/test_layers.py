"""The layers of lib/lgmqtt, checked from the import graph (every import statement,
at module level or inside a function: a lazy import is still a dependency):

    core       lgmqtt (package), errors, compat, isotime      imports nothing above it
    mqtt       packets, properties, topics, session           core only; sans-I/O
    net        client, supervision, transport, TLS            core, mqtt
    store      ring log, journal, history, outbox             core, mqtt
    umqtt      the blocking umqtt drop-in (if present)        core, mqtt, net's transport halves
    connector  Connector, capabilities, delivery, remote      everything below

Nothing imports upward or sideways (net and store do not know each other), and what
must run without a network stack or an event loop (mqtt, the store's log and its
format) imports neither asyncio nor socket. The package's own __init__ may name the
connector lazily (`from lgmqtt import Connector`): that one edge is the public entry."""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(ROOT, "lib", "lgmqtt")

LAYER = {"core": 0, "mqtt": 1, "net": 2, "store": 2, "umqtt": 3, "connector": 4}
ALLOWED = {
    "core": {"core"},
    "mqtt": {"core", "mqtt"},
    "net": {"core", "mqtt", "net"},
    "store": {"core", "mqtt", "store"},
    "umqtt": {"core", "mqtt", "net", "umqtt"},
    "connector": {"core", "mqtt", "net", "store", "connector"},
}
NO_IO = ("mqtt", "store.log", "store.logformat", "store.records")
# the umqtt drop-in may use the transport's blocking pieces, not the asyncio client
UMQTT_NET = ("lgmqtt.net.tls", "lgmqtt.net.neterr", "lgmqtt.net.brokers")


def _modules():
    for dirpath, _, files in os.walk(LIB):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, os.path.dirname(LIB))[:-3].replace(os.sep, ".")
                if rel.endswith(".__init__"):
                    rel = rel[:-9]
                yield rel, path


def _imports(path, modname):
    tree = ast.parse(open(path).read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError("%s:%d: relative import (MicroPython's are fragile)" % (path, node.lineno))
            yield node.module, node.lineno
            for a in node.names:  # `from lgmqtt.mqtt import session` imports lgmqtt.mqtt.session
                yield node.module + "." + a.name, node.lineno


def _component(mod):
    parts = mod.split(".")
    if parts[0] != "lgmqtt":
        return None
    if len(parts) == 1 or parts[1] in ("errors", "compat", "isotime"):
        return "core"
    return parts[1] if parts[1] in LAYER else None


def _graph():
    known = dict(_modules())
    edges = []
    for mod, path in known.items():
        for target, line in _imports(path, mod):
            if target.startswith("lgmqtt") and target not in known:
                continue  # `from lgmqtt.x import name`: the name, not a module
            edges.append((mod, target, path, line))
    return known, edges


def test_every_module_belongs_to_a_layer():
    known, _ = _graph()
    assert len(known) > 30, known
    assert [m for m in known if _component(m) is None] == []


def test_nothing_imports_upward_or_sideways():
    _, edges = _graph()
    bad = []
    for mod, target, path, line in edges:
        src, dst = _component(mod), _component(target)
        if dst is None:
            continue
        if mod == "lgmqtt" and target.startswith("lgmqtt.connector"):
            continue  # the public entry point, resolved lazily
        if src == "umqtt" and dst == "net" and target not in UMQTT_NET:
            bad.append("%s:%d %s -> %s (the drop-in must not load the asyncio client)" % (path, line, mod, target))
        elif dst not in ALLOWED[src]:
            bad.append("%s:%d %s (%s) -> %s (%s)" % (path, line, mod, src, target, dst))
    assert bad == [], "\n".join(bad)


def test_sans_io_layers_import_neither_asyncio_nor_socket():
    _, edges = _graph()
    bad = [
        "%s:%d %s imports %s" % (path, line, mod, target)
        for mod, target, path, line in edges
        if any(mod == "lgmqtt." + p or mod.startswith("lgmqtt." + p + ".") for p in NO_IO)
        and target.split(".")[0] in ("asyncio", "socket", "ssl", "select", "uasyncio", "usocket")
    ]
    assert bad == [], "\n".join(bad)


def test_the_checker_sees_a_violation(tmp_path):
    # the rule itself can fail: an upward edge in a copy is reported
    src = os.path.join(LIB, "mqtt", "topic.py")
    text = open(src).read() + "\n\ndef _x():\n    from lgmqtt.connector import ops\n"
    p = tmp_path / "topic.py"
    p.write_text(text)
    edges = [(m, t) for t, _ in _imports(str(p), "lgmqtt.mqtt.topic") for m in ["lgmqtt.mqtt.topic"]]
    assert ("lgmqtt.mqtt.topic", "lgmqtt.connector.ops") in edges
    assert _component("lgmqtt.connector.ops") not in ALLOWED["mqtt"]
