# The only module that branches between MicroPython and CPython. Everything else
# imports these names from here and stays interpreter-agnostic.
import sys

MICROPYTHON = sys.implementation.name == "micropython"

if MICROPYTHON:
    from micropython import const  # noqa: F401  (folded at compile time)
    import time as _time

    ticks_ms = _time.ticks_ms
    ticks_add = _time.ticks_add
    ticks_diff = _time.ticks_diff

else:
    import time as _time

    def const(x):
        return x

    _T0 = _time.monotonic_ns()
    # Same contract as MicroPython's ticks: a wrapping millisecond counter. The period is
    # 2**30 like on the ports, so wrap-around bugs show on the host too.
    _TICKS_PERIOD = 1 << 30
    _TICKS_HALF = _TICKS_PERIOD >> 1

    def ticks_ms():
        return ((_time.monotonic_ns() - _T0) // 1000000) & (_TICKS_PERIOD - 1)

    def ticks_add(t, delta):
        return (t + delta) & (_TICKS_PERIOD - 1)

    def ticks_diff(a, b):
        return ((a - b + _TICKS_HALF) & (_TICKS_PERIOD - 1)) - _TICKS_HALF


def time_s():
    """Seconds since 1970 on CPython and the unix port; on boards, since the RTC's epoch
    (the board profiles set the RTC by NTP when Wi-Fi comes up: boards/_wifi.py)."""
    return _time.time()



def unload(name):
    """Forget module `name` ("pkg.mod"): one-shot code (validators, the config reader)
    leaves the heap at the next collection once nothing else holds it. From .mpy its
    bytecode is heap; frozen, its globals are."""
    sys.modules.pop(name, None)
    i = name.rfind(".")
    if i > 0:
        parent = sys.modules.get(name[:i])
        if parent is not None:
            parent.__dict__.pop(name[i + 1:], None)
