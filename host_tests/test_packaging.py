"""The components a board can freeze or install (tools/lghost/components.py): the committed
manifests and package files are what the table gives; MicroPython's own manifest parser,
run over each component manifest alone, freezes exactly that component and what it needs
and no host-only module; and each component's modules import under the real `micropython`
binary with only those files present."""
import ast
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from lghost import components as C
from lghost import fw_unix
from lghost import mpy

ROOT = C.ROOT
LIB = os.path.join(ROOT, "lib")
# The only imports that may reach outside a component's needs, each inside a function on
# a path the component alone never takes: a server-side session (decode -> server), the
# CPython branch of the transport, and the package's `from lgmqtt import Connector`
# (asked for only where the connector is installed).
GUARDED = {("lgmqtt/mqtt/decode.py", "lgmqtt/mqtt/server.py"), ("lgmqtt/net/transport.py", "lgmqtt/net/cpython.py"),
           ("lgmqtt/__init__.py", "lgmqtt/connector/__init__.py")}


def _source():
    try:
        return fw_unix.find_source()
    except fw_unix.NoSource as e:
        if os.environ.get("LGMQTT_REQUIRE_32") == "1":
            pytest.fail("MicroPython source required (LGMQTT_REQUIRE_32=1): %s" % e, pytrace=False)
        pytest.skip("no MicroPython source for its manifest parser: %s" % e)


@pytest.fixture(scope="session")
def manifestfile(tmp_path_factory):
    """MicroPython's tools/manifestfile.py (what a firmware build runs over a manifest),
    taken from the source the firmware tools build from."""
    src = _source()
    if os.path.isdir(src):
        path = os.path.join(src, "tools", "manifestfile.py")
    else:
        out = str(tmp_path_factory.mktemp("manifestfile"))
        with tarfile.open(src) as t:
            member = t.getmember("micropython/tools/manifestfile.py")
            with t.extractfile(member) as f, open(os.path.join(out, "manifestfile.py"), "wb") as g:
                g.write(f.read())
        path = os.path.join(out, "manifestfile.py")
    spec = importlib.util.spec_from_file_location("manifestfile", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _frozen(manifestfile, manifest, path_vars=None):
    """{target path: source path} that a freeze of `manifest` (a file or manifest text) puts in."""
    m = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, path_vars or {})
    m.execute(manifest)
    out = {}
    for f in m.files():
        assert f.target_path not in out, "frozen twice: " + f.target_path
        out[f.target_path] = f.full_path
    return out


def test_every_library_module_is_in_one_component_or_host_only():
    assert C.unclaimed() == []
    owners = {}
    for n in C.NAMES:
        for f in C.own_files(n):
            assert f not in owners, "%s is in %s and %s" % (f, owners[f], n)
            owners[f] = n
    assert not set(owners) & set(C.HOST_ONLY)
    for f in C.HOST_ONLY:
        assert os.path.isfile(os.path.join(LIB, f)), "host-only %s does not exist: update HOST_ONLY" % f


def test_committed_manifests_and_package_files_are_current():
    assert C.stale() == [], "stale packaging files: run tools/package"
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "package.py"), "--check"],
                       capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stderr) == (0, ""), p.stderr


def test_a_stale_or_unclaimed_file_is_named_and_rewritten(tmp_path):
    root = str(tmp_path)
    shutil.copytree(LIB, os.path.join(root, "lib"), ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(ROOT, "package.json"), root)
    assert C.stale(root) == []
    (tmp_path / "lib" / "lgmqtt" / "mqtt" / "extra.py").write_text("X = 1\n")
    affected = ["lib/manifests/mqtt.py", "lib/package-connector.json", "lib/package-mqtt.json",
                "lib/package-net.json", "lib/package-store.json", "lib/package-umqtt.json", "package.json"]
    assert C.stale(root) == affected
    assert C.write(root) == affected
    assert C.stale(root) == [] and C.write(root) == []
    assert "'mqtt/extra.py'," in (tmp_path / "lib" / "manifests" / "mqtt.py").read_text()
    # a new folder (a package of its own) belongs to no component until the table says so
    (tmp_path / "lib" / "lgmqtt" / "extras").mkdir()
    (tmp_path / "lib" / "lgmqtt" / "extras" / "simple.py").write_text("X = 1\n")
    assert C.stale(root) == ["lgmqtt/extras/simple.py (in no component: add it to tools/lghost/components.py)"]
    with pytest.raises(C.ComponentError, match="extras/simple.py"):
        C.write(root)


@pytest.mark.parametrize("name", C.NAMES)
def test_component_manifest_alone_freezes_its_closure_and_no_host_only_module(manifestfile, name):
    got = _frozen(manifestfile, os.path.join(LIB, "manifests", name + ".py"))
    assert sorted(got) == C.files(name)
    assert not set(got) & set(C.HOST_ONLY)
    for target, src in got.items():
        assert src == os.path.join(LIB, target)
    if name in ("mqtt", "net"):  # the client alone: no store, no connector, no lgnode
        assert not [t for t in got if t.startswith(("lgmqtt/store/", "lgmqtt/connector/", "lgnode/"))]


def test_top_manifest_freezes_every_component_once(manifestfile):
    got = _frozen(manifestfile, os.path.join(LIB, "manifest.py"))
    assert sorted(got) == C.all_files()
    assert "lgmqtt/connector/__init__.py" in got and "lgnode/sensors.py" in got
    # opt reaches every component (a board manifest may ask for -O3)
    m = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, {})
    m.execute("include(%r, opt=3)" % os.path.join(LIB, "manifest.py"))
    assert {f.opt for f in m.files()} == {3}


def test_firmware_builds_manifest_freezes_no_host_only_module(manifestfile):
    # what tools/firmware --port unix --frozen runs the build over: the port's own
    # manifest, lib/manifest.py and boards/
    src = _source()
    tree = src if os.path.isdir(src) else fw_unix._work_tree(src, fw_unix.source_key(src))
    lines, _ = fw_unix.frozen_sources()
    got = _frozen(manifestfile, "\n".join(lines), {
        "MPY_DIR": tree, "PORT_DIR": os.path.join(tree, "ports", "unix"),
        "MPY_LIB_DIR": os.path.join(tree, "lib", "micropython-lib"), "BOARD_DIR": None})
    ours = sorted(t for t in got if t.startswith(("lgmqtt/", "lgnode/")))
    assert ours == C.all_files()
    assert "asyncio/core.py" in got and "boards/unix.py" in got  # the port's and the firmware's parts stay


def _module(path):
    name = path[:-3].replace("/", ".")
    return name[:-len(".__init__")] if name.endswith(".__init__") else name


def _imported(path):
    """Library modules (as lib/ paths) that module `path` imports, at top level or inside
    functions; a name imported from a package counts as its submodule when one exists."""
    with open(os.path.join(LIB, path)) as f:
        tree = ast.parse(f.read(), path)

    def as_file(mod):
        base = os.path.join(*mod.split("."))
        for cand in (base + ".py", os.path.join(base, "__init__.py")):
            if os.path.isfile(os.path.join(LIB, cand)):
                return cand.replace(os.sep, "/")
        raise AssertionError("%s imports %s, which is not in lib/" % (path, mod))

    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods = [node.module] + [node.module + "." + a.name for a in node.names
                                    if os.path.exists(os.path.join(LIB, *(node.module + "." + a.name).split(".")))
                                    or os.path.exists(os.path.join(LIB, *(node.module + "." + a.name).split(".")) + ".py")]
        else:
            continue
        out |= {as_file(m) for m in mods if m.split(".")[0] in C.PACKAGES}
    return out


@pytest.mark.parametrize("name", C.NAMES)
def test_component_imports_stay_within_what_it_needs(name):
    have = set(C.files(name))
    for f in C.own_files(name):
        for dep in _imported(f):
            if (f, dep) in GUARDED:
                continue
            assert dep not in C.HOST_ONLY, "%s imports host-only %s" % (f, dep)
            assert dep in have, "%s (component %s) imports %s, which %s does not need: fix the table" % (
                f, name, dep, name)


def _import_script(mods, absent):
    return "\n".join([
        "import sys",
        "for m in %r:" % (mods,),
        "    __import__(m)",
        "    f = getattr(sys.modules[m], '__file__', '')",
        "    print('imported', m, f)",
        "for m in %r:" % (absent,),
        "    try:",
        "        __import__(m)",
        "        print('present', m)",
        "    except ImportError:",
        "        print('absent', m)",
    ]) + "\n"


@pytest.mark.parametrize("name", C.NAMES)
def test_component_imports_under_micropython_with_only_what_it_needs(tmp_path, name):
    board = tmp_path / "lib"
    for f in C.files(name):
        dst = board / f
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(LIB, f), str(dst))
    mods = [_module(f) for f in C.own_files(name)]
    # one module of each component it does not need, and the host-only ones: all missing
    absent = [_module(C.own_files(n)[0]) for n in C.NAMES if n not in C.closure(name)]
    absent += [_module(f) for f in C.HOST_ONLY]
    script = tmp_path / "imports.py"
    script.write_text(_import_script(mods, absent))
    r = mpy.run(str(script), path=(str(board),), lib=False, cwd=str(tmp_path), timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    for m in mods:
        (line,) = [x for x in lines if x.split()[:2] == ["imported", m]]
        assert line.split()[2].startswith(str(board)), line  # from the copy, not from the repo
    assert sorted(x for x in lines if not x.startswith("imported")) == sorted("absent " + m for m in absent)
