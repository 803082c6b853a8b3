"""A TCP proxy between a device and a real broker that sees MQTT packets go by, whole,
in both directions, and can stop the world at one of them: for tests that kill a
device at an exact step of a protocol exchange (e.g. right after the broker's PUBREC
reached it). CPython only (threads); the device and the broker are real.

    proxy = MqttProxy(("127.0.0.1", broker_port)).start()
    proxy.trigger = ("b2c", 5, 1, "after", callback)  # direction, packet type, nth, before|after
    ... the device connects to proxy.port ...
"""
import socket
import threading

from lghost.tcp import accept_forever, close_now, listener


def _frames(buf):
    """Split whole MQTT packets off the front of buf: (list of frames, rest)."""
    out = []
    i = 0
    while True:
        if len(buf) - i < 2:
            break
        rl, mul, j = 0, 1, i + 1
        while j < len(buf):
            b = buf[j]
            rl += (b & 0x7F) * mul
            mul *= 128
            j += 1
            if not b & 0x80:
                break
        else:
            break
        if buf[j - 1] & 0x80 or len(buf) - j < rl:
            break
        out.append(bytes(buf[i:j + rl]))
        i = j + rl
    return out, buf[i:]


class MqttProxy:
    def __init__(self, upstream):
        self.upstream = upstream
        self.sock = listener()
        self.port = self.sock.getsockname()[1]
        self.trigger = None  # (direction "c2b"|"b2c", packet type, nth, "before"|"after", callback)
        self.seen = []       # (direction, packet type) of every packet passed
        self.fired = threading.Event()
        self._count = 0
        self._lock = threading.Lock()
        self._conns = []
        self._stop = False

    def start(self):
        accept_forever(self.sock, self._accept)
        return self

    def arm(self, direction, ptype, nth, when, callback):
        with self._lock:
            self.trigger = (direction, ptype, nth, when, callback)
            self._count = 0
            self.fired.clear()

    def _accept(self, c):
        if self._stop:
            c.close()
            return
        try:
            u = socket.create_connection(self.upstream)
        except OSError:
            c.close()
            return
        self._conns += [c, u]
        dead = threading.Event()
        threading.Thread(target=self._pump, args=(c, u, "c2b", dead), daemon=True).start()
        threading.Thread(target=self._pump, args=(u, c, "b2c", dead), daemon=True).start()

    def _decide(self, direction, frame):
        """'pass', or 'cut' (drop this and everything after, after the callback ran)."""
        ptype = frame[0] >> 4
        with self._lock:
            self.seen.append((direction, ptype))
            t = self.trigger
            if t is None or self.fired.is_set() or t[0] != direction or t[1] != ptype:
                return "pass", None
            self._count += 1
            if self._count < t[2]:
                return "pass", None
            self.fired.set()
            return ("cut" if t[3] == "before" else "pass-then-cut"), t[4]

    def _pump(self, src, dst, direction, dead):
        buf = b""
        try:
            while not dead.is_set():
                data = src.recv(65536)
                if not data:
                    break
                frames, buf = _frames(buf + data)
                for f in frames:
                    what, cb = self._decide(direction, f)
                    if what == "cut":
                        cb()
                        return
                    dst.sendall(f)
                    if what == "pass-then-cut":
                        cb()
                        return
        except OSError:
            pass
        finally:
            dead.set()
            close_now(src, dst)  # the other pump is blocked reading one of them

    def stop(self):
        self._stop = True
        self.sock.close()
        close_now(*self._conns)
