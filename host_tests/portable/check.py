# Helpers for portable tests: what pytest would give, in a form MicroPython also runs.
import os


def raises(exc_type, fn, *args, **kw):
    """Call fn; return the exception if it is an exc_type, else fail."""
    try:
        fn(*args, **kw)
    except exc_type as e:
        return e
    raise AssertionError("expected %s from %s" % (exc_type.__name__, getattr(fn, "__name__", fn)))


async def araises(exc_type, coro):
    try:
        await coro
    except exc_type as e:
        return e
    raise AssertionError("expected %s" % exc_type.__name__)


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s%r != %r" % (what + ": " if what else "", a, b))


def without_heap(fn):
    """fn() while no allocation can succeed (MicroPython's heap lock): what a heap
    with no room left does to code that must not allocate. CPython has no such lock:
    there it is a plain call. The result must not be a new object (it could not be made)."""
    try:
        import micropython

        lock, unlock = micropython.heap_lock, micropython.heap_unlock
    except (ImportError, AttributeError):
        return fn()
    lock()
    try:
        return fn()  # (no *args: a call with them allocates)
    finally:
        unlock()


def env(name, default=None):
    v = os.getenv(name)
    return default if v is None else v


class Rng:
    """xorshift32: the same sequence under both interpreters."""

    def __init__(self, seed):
        self.s = seed or 1

    def next(self):
        x = self.s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.s = x
        return x

    def below(self, n):
        return self.next() % n
