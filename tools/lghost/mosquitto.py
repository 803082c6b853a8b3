"""Mosquitto processes for tests and host tools: own port, own generated config.

Broker(users=..., certs=..., require_cert=..., options=[...]).start() / stop() / kill().
make_certs(folder) writes a throwaway CA, server and client certificates.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

USER, PASSWORD = "device", "s3cret-pw"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def mosquitto_binary():
    for cand in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if cand and os.path.exists(cand):
            return cand
    raise RuntimeError("mosquitto not found: install the Debian package 'mosquitto' (tools/test does)")


def _run(cmd, **kw):
    subprocess.run(cmd, check=True, capture_output=True, **kw)


def make_certs(folder):
    """A throwaway CA, a server cert for localhost/127.0.0.1, a client cert, and an
    unrelated CA (for the 'wrong CA' case). PEM and DER of each."""
    os.makedirs(folder, exist_ok=True)

    def key(name):
        _run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", os.path.join(folder, name + ".key")])

    def ca(name):
        key(name)
        _run(["openssl", "req", "-x509", "-new", "-key", os.path.join(folder, name + ".key"), "-days", "30",
              "-subj", "/CN=lgmqtt test %s" % name, "-out", os.path.join(folder, name + ".crt")])

    def leaf(name, cn, san, usage):
        key(name)
        ext = os.path.join(folder, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n" % usage)
            if san:
                f.write("subjectAltName=%s\n" % san)
        _run(["openssl", "req", "-new", "-key", os.path.join(folder, name + ".key"), "-subj", "/CN=" + cn,
              "-out", os.path.join(folder, name + ".csr")])
        _run(["openssl", "x509", "-req", "-in", os.path.join(folder, name + ".csr"), "-CA", os.path.join(folder, "ca.crt"),
              "-CAkey", os.path.join(folder, "ca.key"), "-CAcreateserial", "-days", "30", "-extfile", ext,
              "-out", os.path.join(folder, name + ".crt")])

    ca("ca")
    ca("wrongca")
    leaf("server", "localhost", "DNS:localhost,IP:127.0.0.1", "serverAuth")
    leaf("client", "lgmqtt-client", None, "clientAuth")
    for name in ("ca", "wrongca", "server", "client"):
        _run(["openssl", "x509", "-in", os.path.join(folder, name + ".crt"), "-outform", "DER",
              "-out", os.path.join(folder, name + ".crt.der")])
    for name in ("server", "client"):
        _run(["openssl", "pkey", "-in", os.path.join(folder, name + ".key"), "-outform", "DER",
              "-out", os.path.join(folder, name + ".key.der")])
    for f in os.listdir(folder):
        os.chmod(os.path.join(folder, f), 0o644)
    return folder


class Broker:
    """A Mosquitto process. `options` are extra mosquitto.conf lines for the listener
    (e.g. max_packet_size 1024, max_inflight_messages 5)."""

    def __init__(self, workdir=None, users=None, certs=None, require_cert=False, options=(), port=None,
                 env_prefix="LG_BROKER", persistence=False):
        self.persistence = persistence
        self.env_prefix = env_prefix
        self.workdir = workdir or tempfile.mkdtemp(prefix="lgmqtt-broker-")
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.tls_port = free_port() if certs else None
        self.users = users
        self.certs = certs
        self.require_cert = require_cert
        self.options = list(options)
        self.proc = None
        self._write_config()

    def _write_config(self):
        lines = ["per_listener_settings true", "log_dest stderr", "log_type error", "log_type warning",
                 ]
        if self.persistence:  # sessions and queued messages survive a restart (not a kill -9)
            lines += ["persistence true", "persistence_location %s/" % self.workdir, "autosave_interval 1"]
        else:
            lines.append("persistence false")
        if os.geteuid() == 0:
            lines.append("user root")

        def auth():
            if self.users:
                pw = os.path.join(self.workdir, "passwd")
                with open(pw, "w") as f:
                    f.write("")
                for u, p in self.users.items():
                    _run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", "-b", pw, u, p])
                os.chmod(pw, 0o644)
                return ["allow_anonymous false", "password_file " + pw]
            return ["allow_anonymous true"]

        lines += ["listener %d %s" % (self.port, self.host)] + auth() + self.options
        if self.certs:
            c = self.certs
            lines += ["listener %d %s" % (self.tls_port, self.host)] + auth() + self.options + [
                "cafile " + os.path.join(c, "ca.crt"),
                "certfile " + os.path.join(c, "server.crt"),
                "keyfile " + os.path.join(c, "server.key"),
            ]
            if self.require_cert:
                lines.append("require_certificate true")
        self.conf = os.path.join(self.workdir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.conf, 0o644)

    def start(self, timeout=10.0):
        self.log = open(os.path.join(self.workdir, "mosquitto.log"), "ab")
        self.proc = subprocess.Popen([mosquitto_binary(), "-c", self.conf], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        ports = [p for p in (self.port, self.tls_port) if p]
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("mosquitto exited at start: " + self.read_log())
            try:
                for p in ports:
                    socket.create_connection((self.host, p), timeout=0.5).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("mosquitto did not listen on %s in %ss: %s" % (ports, timeout, self.read_log()))
                time.sleep(0.02)

    def read_log(self):
        try:
            with open(os.path.join(self.workdir, "mosquitto.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        from lghost.mpy import stop

        stop(self.proc)
        self.proc = None

    def kill(self):
        """Abrupt death (SIGKILL): no DISCONNECT, no will cleanup, sockets reset."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def url(self, tls=False):
        return "%s://%s:%d" % ("mqtts" if tls else "mqtt", self.host, self.tls_port if tls else self.port)

    def env(self, prefix=None):
        """Environment variables telling a portable test where this broker is."""
        prefix = prefix or self.env_prefix
        e = {prefix + "_HOST": self.host, prefix + "_PORT": str(self.port)}
        if self.users:
            u, p = next(iter(self.users.items()))
            e.update({prefix + "_USER": u, prefix + "_PASSWORD": p})
        if self.certs:
            e.update({prefix + "_TLS_PORT": str(self.tls_port), prefix + "_CERTS": self.certs})
        return e


class ExternalBroker:
    def __init__(self, spec):
        host, _, port = spec.rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port)
        self.users = self.certs = None

    def env(self, prefix="LG_BROKER"):
        return {prefix + "_HOST": self.host, prefix + "_PORT": str(self.port)}

    def url(self, tls=False):
        return "mqtt://%s:%d" % (self.host, self.port)


