# Runs inside MicroPython: imports one portable test module and runs the named test
# functions in order, printing one result block per test for the pytest side
# (conftest.py) to read. Coroutine functions run under asyncio.
import sys
import io
import gc

_MARK = "@@LGTEST "


def _run_one(mod, name):
    fn = getattr(mod, name)
    res = fn()
    # A coroutine (async def): MicroPython's generator-based coroutines have `send`.
    if hasattr(res, "send"):
        import asyncio

        asyncio.run(res)


def main():
    modname = sys.argv[1]
    names = sys.argv[2:]
    try:
        mod = __import__(modname)
    except BaseException as e:  # noqa: B036 - report any import failure to pytest
        buf = io.StringIO()
        sys.print_exception(e, buf)
        print(_MARK + "IMPORTERROR " + modname)
        print(buf.getvalue())
        print(_MARK + "END")
        return
    for name in names:
        print(_MARK + "START " + name)
        try:
            _run_one(mod, name)
            print(_MARK + "PASS " + name)
        except BaseException as e:  # noqa: B036
            buf = io.StringIO()
            sys.print_exception(e, buf)
            print(_MARK + "FAIL " + name)
            print(buf.getvalue())
            print(_MARK + "ENDFAIL " + name)
            if isinstance(e, KeyboardInterrupt):
                raise
        gc.collect()
    print(_MARK + "END")


main()
