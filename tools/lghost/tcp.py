"""A local TCP listener for the fake peers of tests and benchmarks (relays, proxies, fake
brokers, slow sinks): one free port on 127.0.0.1 and an accept loop in a daemon thread.

    sock = listener(rcvbuf=None)          # port: sock.getsockname()[1]
    accept_forever(sock, on_accept)       # on_accept(conn) per connection, until sock closes
    close_now(a, b)                       # end connections now, even those another thread reads
"""
import socket
import threading


def listener(backlog=8, rcvbuf=None):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # inherited by accepted sockets
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


def accept_forever(sock, on_accept):
    def loop():
        while True:
            try:
                c, _ = sock.accept()
            except OSError:  # closed: the peer is stopped
                return
            on_accept(c)

    threading.Thread(target=loop, daemon=True).start()


def close_now(*socks):
    """Shut each socket down, then close it. close() alone does not end a connection that
    another thread is blocked reading (the read holds the socket open): the peer would see
    nothing until that read returns - a broker would keep a dead session, and a device
    reconnecting meanwhile would take it over (no Will published)."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:  # not connected, or already shut
            pass
        try:
            s.close()
        except OSError:
            pass
