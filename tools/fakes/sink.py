# A TCP peer that reads slowly, for tests of writers under back-pressure (CPython, a
# thread): its receive buffer is small and it reads nothing for `pause` seconds after a
# connection arrives, so the sender's socket fills and its writes wait in drain(). Then it
# checks what arrived: lines "t,i,<padding>" whose i runs 0, 1, 2... per t, each once, in
# order; at "END" it answers "OK <count>" or "BAD <why>" and closes.
import threading
import time

from lghost.tcp import accept_forever, listener


class SlowSink:
    def __init__(self, pause=0.5, rcvbuf=2048):
        self.pause = pause
        self.sock = listener(4, rcvbuf)
        self.port = self.sock.getsockname()[1]
        accept_forever(self.sock, lambda c: threading.Thread(target=self._serve, args=(c,), daemon=True).start())

    def env(self):
        return {"LG_SINK_HOST": "127.0.0.1", "LG_SINK_PORT": str(self.port)}

    def stop(self):
        self.sock.close()

    def _serve(self, c):
        time.sleep(self.pause)
        seen, buf, verdict = {}, b"", None
        with c:
            while verdict is None:
                data = c.recv(65536)
                if not data:
                    return
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if line == b"END":
                        verdict = b"OK %d\n" % sum(seen.values())
                        break
                    try:
                        t, i, _ = line.split(b",", 2)
                        t, i = int(t), int(i)
                    except ValueError:
                        verdict = b"BAD garbled line %r\n" % line[:40]
                        break
                    if i != seen.get(t, 0):
                        verdict = b"BAD writer %d: got %d, expected %d (lost or repeated bytes)\n" % (t, i, seen.get(t, 0))
                        break
                    seen[t] = i + 1
            c.sendall(verdict)
