"""mip packaging against the virtual board (the real `micropython` binary, a folder as its
filesystem): the board's own mip installs package.json (and the .mpy variant, and each
component's package) from a local HTTP server, as it would from github:OWNER/REPO; a fresh
process with only the installed lib/ on its path then imports the Connector and publishes
QoS 1 to Mosquitto, which an independent subscriber (paho-mqtt) receives. mpremote's
`mip install ./package.json` is tested through the pty virtual board (tools/lghost/vboard)."""
import functools
import http.server
import os
import queue
import shutil
import subprocess
import sys
import threading

import paho.mqtt.client as paho
import pytest

import package as package_tool  # tools/package.py
from lghost import components as C
from lghost import fw_unix
from lghost import mpy
from lghost.vboard import VirtualBoard

ROOT = C.ROOT


class Served:
    """A folder served over HTTP on 127.0.0.1 (a thread), with the paths asked for."""

    def __init__(self, folder):
        self.requests = []
        served = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, fmt, *args):
                served.requests.append((self.path, args[1] if len(args) > 1 else ""))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def _repo_copy(tmp_path):
    """What github:OWNER/REPO serves of this checkout for mip: package.json and lib/."""
    out = tmp_path / "repo"
    out.mkdir()
    shutil.copy(os.path.join(ROOT, "package.json"), str(out))
    shutil.copytree(os.path.join(ROOT, "lib"), str(out / "lib"), ignore=shutil.ignore_patterns("__pycache__"))
    return out


def _board_install(board, url):
    """The board's own mip (frozen into the unix port) installs `url` into board/lib."""
    script = board / "install.py"
    script.write_text("import mip\nmip.install(%r, target='lib')\n" % url)
    r = mpy.run(str(script), lib=False, cwd=str(board), timeout=120)
    os.remove(str(script))
    assert r.returncode == 0 and "Done" in r.stdout, r.stdout + r.stderr
    return r.stdout


def _installed(board):
    lib = str(board / "lib")
    return sorted(os.path.relpath(os.path.join(d, n), lib).replace(os.sep, "/")
                  for d, _, names in os.walk(lib) for n in names)


PUBLISH = """
import asyncio, sys
from lgmqtt import Connector

async def main():
    c = Connector({"id": "mip-node", "type": "mqtt", "name": "mip", "config": {
        "host": %(host)r, "port": %(port)d, "clientId": "lg-mip-%(tag)s", "protocolVersion": 4,
        "connectTimeout": 5000}})
    await c.execute("mqtt:connection", "connect")
    r = await c.execute("mqtt:publish", "write", {"topic": %(topic)r, "payload": "installed by mip", "qos": 1})
    print("published", r["success"], r["queued"], r["qos"])
    print("from", sys.modules["lgmqtt.connector"].__file__)
    await c.execute("mqtt:connection", "disconnect")

asyncio.run(main())
"""


def _publish_from(board, broker, tag, lib=None, binary=None, env=None):
    """A fresh micropython with only board/lib (or `lib`) on its path publishes QoS 1;
    returns the file the connector was loaded from, once an independent subscriber got
    the message."""
    topic = "lgmip/%s" % tag
    got = queue.Queue()
    sub = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="lgmip-observer-" + tag)
    subscribed = threading.Event()
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got.put((m.topic, m.payload, m.qos))
    sub.connect(broker.host, broker.port)
    sub.loop_start()
    try:
        assert subscribed.wait(10), "observer did not subscribe"
        script = board / "publish.py"
        script.write_text(PUBLISH % {"host": broker.host, "port": broker.port, "topic": topic, "tag": tag})
        r = mpy.run(str(script), path=(lib or str(board / "lib"),), lib=False, cwd=str(board), timeout=120,
                    binary=binary, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "published True False 1" in r.stdout, r.stdout + r.stderr
        assert got.get(timeout=10) == (topic, b"installed by mip", 1)
        (line,) = [x for x in r.stdout.splitlines() if x.startswith("from ")]
        return line[5:]
    finally:
        sub.loop_stop()
        sub.disconnect()


@pytest.mark.parametrize("variant", ["py", "mpy"])
def test_mip_install_over_http_then_the_connector_publishes(tmp_path, mosquitto, variant):
    if variant == "py":
        folder, ext = _repo_copy(tmp_path), ".py"
    else:
        folder, ext = tmp_path / "mpy", ".mpy"
        package_tool.build_mpy(str(folder))
    board = tmp_path / "board"
    board.mkdir()
    with Served(str(folder)) as web:
        _board_install(board, web.url + "/package.json")
    want = [f[:-3] + ext for f in C.all_files()]
    assert _installed(board) == want
    # everything mip fetched was there, and nothing else was asked for
    prefix = "/lib/" if variant == "py" else "/"
    assert sorted(p for p, _ in web.requests) == sorted(["/package.json"] + [prefix + f for f in want])
    assert {code for _, code in web.requests} == {"200"}
    where = _publish_from(board, mosquitto, variant)
    assert where == str(board / "lib" / "lgmqtt" / "connector" / ("__init__" + ext))


@pytest.mark.parametrize("name", C.MIP_COMPONENTS)
def test_mip_install_of_one_component_installs_its_closure_only(tmp_path, name):
    folder = _repo_copy(tmp_path)
    board = tmp_path / "board"
    board.mkdir()
    with Served(str(folder)) as web:
        _board_install(board, web.url + "/lib/package-%s.json" % name)
    assert _installed(board) == C.files(name)
    if name != "connector":
        assert not os.path.exists(str(board / "lib" / "lgmqtt" / "connector"))


def test_mpremote_mip_install_local_package_json_on_the_virtual_board(tmp_path, mosquitto):
    folder = _repo_copy(tmp_path)
    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    board = tmp_path / "board"
    board.mkdir()
    with VirtualBoard(fs=str(board)) as vb:
        # the unix port's sys.path has no /lib of the board's own: name the target
        r = subprocess.run([mpremote, "connect", vb.dev, "resume", "mip", "install", "--target", "lib",
                            "./package.json"], cwd=str(folder), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and "Done" in r.stdout, r.stdout + r.stderr
    assert _installed(board) == C.all_files()
    where = _publish_from(board, mosquitto, "mpremote")
    assert where == str(board / "lib" / "lgmqtt" / "connector" / "__init__.py")


HEAP_AFTER_IMPORT = """
import gc
gc.collect()
a = gc.mem_alloc()
from lgmqtt import Connector
gc.collect()
print("heap", gc.mem_alloc() - a)
"""


def test_mpy_files_in_a_romfs_image_import_in_place_and_publish(tmp_path, mosquitto, micropython32_romfs):
    # `mpremote romfs build` (as `romfs deploy` writes it to a board's ROMFS partition) of the
    # mip .mpy tree under lib/; the build maps the image at /rom as a board maps its flash
    rom = tmp_path / "rom"
    package_tool.build_mpy(str(rom / "lib"))
    img = tmp_path / "lgmqtt.romfs"
    fw_unix.romfs_image(str(rom), str(img))
    assert img.stat().st_size > 0
    env = {"MICROPY_ROMFS": str(img)}
    board = tmp_path / "board"
    board.mkdir()
    where = _publish_from(board, mosquitto, "romfs", lib="/rom/lib", binary=micropython32_romfs, env=env)
    assert where == "/rom/lib/lgmqtt/connector/__init__.mpy"
    # in place: the same .mpy files cost far less heap from /rom than from a filesystem,
    # where their bytecode, strings and names are copied into the heap
    script = tmp_path / "heap.py"
    script.write_text(HEAP_AFTER_IMPORT)
    heap = {}
    for where in ("/rom/lib", str(rom / "lib")):
        r = mpy.run(str(script), path=(where,), lib=False, cwd=str(board), binary=micropython32_romfs, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        heap[where] = int(r.stdout.split("heap ")[1].split()[0])
    assert heap["/rom/lib"] < 0.6 * heap[str(rom / "lib")], heap
