"""Byte vectors from an independent MQTT implementation: mosquitto_pub and
mosquitto_sub (libmosquitto) talk to a small recording server here, which answers just
enough for them to finish (CONNACK, PUBACK/PUBREC/PUBREL/PUBCOMP, SUBACK, UNSUBACK,
PINGRESP, and one PUBLISH to each subscriber). Every packet a client sends is written
to a text file, one per line: `label version index hex`, so the portable codec tests
(MicroPython included) can decode them and check their fields.

The framing and the answers here are written by hand on purpose: they must not reuse
lgmqtt.mqtt.encode, whose output they check.
"""
import os
import shutil
import socket
import subprocess
import threading

import pytest

# label, version, command (after the tool name), messages the server publishes to a
# subscriber: (topic, payload, qos)
SCENARIOS = (
    ("pub_v4_q0", 4, ["mosquitto_pub", "-V", "mqttv311", "-i", "pub-v4-q0", "-t", "a/b", "-m", "hello", "-q", "0"], ()),
    ("pub_v4_q1", 4, ["mosquitto_pub", "-V", "mqttv311", "-i", "pub-v4-q1", "-t", "sensors/t\u00e9mp", "-m", "21.5",
                      "-q", "1", "-r", "-u", "device", "-P", "s3cret", "-k", "30"], ()),
    ("pub_v4_q2", 4, ["mosquitto_pub", "-V", "mqttv311", "-i", "pub-v4-q2", "-t", "q/2", "-m", "exactly once",
                      "-q", "2", "--will-topic", "will/t", "--will-payload", "gone", "--will-qos", "1",
                      "--will-retain", "-c"], ()),
    ("pub_v5_q1", 5, ["mosquitto_pub", "-V", "mqttv5", "-i", "pub-v5-q1", "-t", "a/b", "-m", "{\"t\":1}", "-q", "1",
                      "-D", "publish", "user-property", "a", "b",
                      "-D", "publish", "user-property", "a", "c",
                      "-D", "publish", "content-type", "application/json",
                      "-D", "publish", "message-expiry-interval", "30",
                      "-D", "publish", "payload-format-indicator", "1",
                      "-D", "publish", "response-topic", "reply/to",
                      "-D", "publish", "correlation-data", "abc",
                      "-D", "connect", "session-expiry-interval", "60",
                      "-D", "connect", "receive-maximum", "10",
                      "-D", "connect", "user-property", "c", "d",
                      "-u", "device", "-P", "pw"], ()),
    ("pub_v5_q2", 5, ["mosquitto_pub", "-V", "mqttv5", "-i", "pub-v5-q2", "-t", "q/2", "-m", "x", "-q", "2",
                      "--will-topic", "will/5", "--will-payload", "bye", "--will-qos", "2",
                      "-D", "will", "will-delay-interval", "5",
                      "-D", "will", "user-property", "w", "v",
                      "-D", "will", "content-type", "text/plain",
                      "-D", "connect", "maximum-packet-size", "4096",
                      "-D", "disconnect", "session-expiry-interval", "0"], ()),
    ("pub_v5_q0", 5, ["mosquitto_pub", "-V", "mqttv5", "-i", "pub-v5-q0", "-t", "big", "-s", "-q", "0"], ()),
    ("sub_v4", 4, ["mosquitto_sub", "-V", "mqttv311", "-i", "sub-v4", "-t", "s/#", "-t", "x/+/y", "-q", "1",
                   "-U", "old/topic", "-C", "1"], (("s/1", b"m1", 1),)),
    ("sub_v5", 5, ["mosquitto_sub", "-V", "mqttv5", "-i", "sub-v5", "-t", "s/#", "-q", "2", "-U", "old/5",
                   "-D", "subscribe", "subscription-identifier", "7",
                   "-D", "subscribe", "user-property", "k", "v",
                   "-D", "unsubscribe", "user-property", "u", "1",
                   "-C", "1"], (("s/2", b"m2", 2),)),
)
BIG = b"B" * 20000  # pub_v5_q0 sends this from stdin (-s): a 3-byte remaining length


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(first, body):
    return bytes((first,)) + _varint(len(body)) + body


class _Conn:
    def __init__(self, sock, version, outgoing):
        self.sock = sock
        self.version = version
        self.outgoing = list(outgoing)
        self.packets = []
        self.buf = b""

    def run(self):
        self.sock.settimeout(10)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                self.buf += data
                while self._one():
                    pass
        except OSError:
            return
        finally:
            self.sock.close()

    def _one(self):
        b = self.buf
        if len(b) < 2:
            return False
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(b):
                return False
            n += (b[i] & 0x7F) * mult
            mult *= 128
            i += 1
            if b[i - 1] < 0x80:
                break
        if len(b) < i + n:
            return False
        pkt, body = b[:i + n], b[i:i + n]
        self.buf = b[i + n:]
        self.packets.append(pkt)
        self._answer(pkt[0], body)
        return True

    def _answer(self, first, body):
        t = first >> 4
        v5 = self.version == 5
        send = self.sock.sendall
        if t == 1:  # CONNECT
            send(b"\x20\x03\x00\x00\x00" if v5 else b"\x20\x02\x00\x00")
        elif t == 3:
            qos = (first >> 1) & 3
            tl = (body[0] << 8) | body[1]
            pid = body[2 + tl:4 + tl]
            if qos == 1:
                send(b"\x40\x02" + pid)
            elif qos == 2:
                send(b"\x50\x02" + pid)
        elif t == 5:  # PUBREC from a subscriber
            send(b"\x62\x02" + body[:2])
        elif t == 6:  # PUBREL
            send(b"\x70\x02" + body[:2])
        elif t in (8, 10):  # SUBSCRIBE / UNSUBSCRIBE
            pid, pos = body[:2], 2
            if v5:
                plen, mult = 0, 1
                while True:
                    c = body[pos]
                    pos += 1
                    plen += (c & 0x7F) * mult
                    mult *= 128
                    if c < 0x80:
                        break
                pos += plen
            codes = bytearray()
            while pos < len(body):
                tl = (body[pos] << 8) | body[pos + 1]
                pos += 2 + tl
                if t == 8:
                    codes.append(body[pos] & 3)
                    pos += 1
                else:
                    codes.append(0)
            if t == 8:
                send(_packet(0x90, pid + (b"\x00" if v5 else b"") + bytes(codes)))
                for i, (topic, payload, qos) in enumerate(self.outgoing):
                    tb = topic.encode()
                    vh = len(tb).to_bytes(2, "big") + tb + ((i + 1).to_bytes(2, "big") if qos else b"")
                    send(_packet(0x30 | (qos << 1), vh + (b"\x00" if v5 else b"") + payload))
                self.outgoing = []
            else:
                send(_packet(0xB0, pid + (b"\x00" + bytes(codes) if v5 else b"")))
        elif t == 12:
            send(b"\xd0\x00")


def capture(scenario, timeout=15):
    label, version, cmd, outgoing = scenario
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(timeout)
    port = srv.getsockname()[1]
    conns = []

    def serve():
        try:
            s, _ = srv.accept()
        except OSError:
            return
        c = _Conn(s, version, outgoing)
        conns.append(c)
        c.run()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    full = [shutil.which(cmd[0]) or cmd[0]] + cmd[1:] + ["-h", "127.0.0.1", "-p", str(port)]
    proc = subprocess.run(full, input=BIG if "-s" in cmd else None, capture_output=True, timeout=timeout)
    th.join(timeout)
    srv.close()
    if proc.returncode != 0 or not conns:
        raise RuntimeError("%s failed (exit %s): %s" % (label, proc.returncode, proc.stderr.decode(errors="replace")))
    return conns[0].packets


class PeerVectors:
    def __init__(self, path):
        self.path = path

    def env(self):
        return {"LG_PEER_VECTORS": self.path}


def write_vectors(path):
    with open(path, "w") as f:
        for sc in SCENARIOS:
            for i, pkt in enumerate(capture(sc)):
                f.write("%s %d %d %s\n" % (sc[0], sc[1], i, pkt.hex()))
    return path


@pytest.fixture(scope="session")
def peer_vectors(tmp_path_factory):
    if not shutil.which("mosquitto_pub") or not shutil.which("mosquitto_sub"):
        raise RuntimeError("mosquitto_pub/mosquitto_sub not found: install the Debian package mosquitto-clients")
    path = os.path.join(str(tmp_path_factory.mktemp("peer")), "vectors.txt")
    return PeerVectors(write_vectors(path))
