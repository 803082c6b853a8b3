"""Private copies of another module's constants stay equal to the original. MicroPython
folds `_NAME = const(v)` at compile time, so modules copy the numbers they need
(packet types, property ids, session event kinds) instead of importing them, and a
copy that drifts from the original is a silent protocol bug. Every `_NAME = const(...)`
in lib/ whose NAME is a public integer constant of the defining modules must have the
same value."""
import ast
import os

from lgmqtt.mqtt import props, session, wire
from lgmqtt import errors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFINING = (wire, props, session)


def _public():
    out = {}
    for m in DEFINING:
        for k, v in vars(m).items():
            if k.isupper() and not k.startswith("_") and type(v) is int:
                out.setdefault(k, {})[m.__name__] = v
    return out


def _copies():
    for dirpath, _, files in os.walk(os.path.join(ROOT, "lib")):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(dirpath, f)
            for node in ast.walk(ast.parse(open(path).read(), path)):
                if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                        and node.targets[0].id.startswith("_") and isinstance(node.value, ast.Call)
                        and getattr(node.value.func, "id", None) == "const" and node.value.args
                        and isinstance(node.value.args[0], ast.Constant)):
                    yield os.path.relpath(path, ROOT), node.lineno, node.targets[0].id[1:], node.value.args[0].value


def test_private_constant_copies_equal_their_originals():
    public = _public()
    checked, bad = 0, []
    for path, line, name, value in _copies():
        orig = public.get(name)
        if orig is None:
            continue
        checked += 1
        for mod, v in orig.items():
            if v != value and not path.replace(os.sep, "/").endswith(mod.replace(".", "/") + ".py"):
                bad.append("%s:%d _%s = %r but %s.%s = %r" % (path, line, name, value, mod, name, v))
    assert checked >= 10, checked  # the copies exist (packet types, property ids, event kinds)
    assert bad == [], "\n".join(bad)


def test_error_codes_are_their_own_names():
    # a code is compared as a string everywhere: the constant's value is its name
    codes = [k for k, v in vars(errors).items() if k.isupper() and isinstance(v, str)]
    assert len(codes) > 10
    assert [k for k in codes if getattr(errors, k) != k] == []
