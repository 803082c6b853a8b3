"""tools/firmware: board-like builds from the MicroPython source, cached, clear errors."""
import os
import shutil
import subprocess
import sys

from lghost import fw_unix

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = [sys.executable, os.path.join(ROOT, "tools", "firmware.py")]


def _fw(*args):
    return subprocess.run(FIRMWARE + list(args), capture_output=True, text=True, timeout=900)


def test_firmware_prints_the_cached_binaries_and_does_not_rebuild(micropython32):
    first = _fw("--port", "unix")
    assert first.returncode == 0, first.stdout + first.stderr
    paths = dict(line.split(None, 1) for line in first.stdout.splitlines())
    assert sorted(paths) == ["mpy-cross", "unix32"], first.stdout
    assert paths["unix32"] == micropython32  # the one the micropython32 tests run on
    again = _fw("--port", "unix")
    assert again.returncode == 0 and again.stdout == first.stdout, again.stdout + again.stderr
    assert "building" not in again.stderr, again.stderr
    assert fw_unix.check(paths["unix32"]) == (2**31 - 1, "0.33333334")


def test_firmware_unknown_port_is_one_clear_line():
    p = _fw("--port", "esp32")
    assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr
    assert "invalid choice: 'esp32'" in p.stderr, p.stderr


def test_firmware_missing_source_is_one_clear_line(tmp_path):
    missing = str(tmp_path / "nowhere.tar.xz")
    p = _fw("--src", missing)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == "firmware: error: MicroPython source %s does not exist" % missing, p.stderr


def test_frozen_build_key_follows_the_frozen_sources(tmp_path):
    # a copy of lib/ and boards/: the key must change with their contents (the cache
    # would otherwise hand out a firmware with an old lgmqtt frozen in), and only then
    for d in ("lib", "boards"):
        shutil.copytree(os.path.join(ROOT, d), str(tmp_path / d), ignore=shutil.ignore_patterns("__pycache__"))
    lines, key = fw_unix.frozen_sources(root=str(tmp_path))
    assert fw_unix.frozen_sources(root=str(tmp_path))[1] == key
    assert "include(%r)" % str(tmp_path / "lib" / "manifest.py") in lines
    (tmp_path / "lib" / "lgmqtt" / "mqtt" / "topic.py").write_text("# changed\n")
    assert fw_unix.frozen_sources(root=str(tmp_path))[1] != key
    (tmp_path / "lib" / "lgmqtt" / "mqtt" / "topic.py").unlink()
    assert fw_unix.frozen_sources(root=str(tmp_path))[1] != key  # a removed module counts too
