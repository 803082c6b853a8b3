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

    def print_exception(exc, file=None):
        sys.print_exception(exc, file) if file else sys.print_exception(exc)

else:
    import time as _time
    import traceback as _tb

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

    def print_exception(exc, file=None):
        _tb.print_exception(type(exc), exc, exc.__traceback__, file=file)


def time_s():
    """Seconds since 1970 (the unix port and CPython; boards set their RTC by NTP)."""
    t = _time.time()
    # MicroPython on some boards counts from 2000; the board layer corrects the RTC.
    return t


_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)  # the unix port's socket module lacks the names; values are Linux's and lwIP's


def set_nodelay(writer):
    """Disable Nagle on a stream's socket: an MQTT packet is written in one call and must
    leave now, not after the peer's delayed ACK (umqtt.simple: 23 msgs/s without it)."""
    sock = writer.get_extra_info("socket") if not MICROPYTHON else getattr(writer, "s", None)
    if sock is None:
        return False
    try:
        sock.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        return True
    except (OSError, AttributeError):
        return False  # TLS-wrapped sockets on some ports; lwIP sets it per pcb
