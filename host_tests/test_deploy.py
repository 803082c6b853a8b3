"""tools/deploy against a virtual board (micropython -i behind a pty): the files land
where a board's filesystem would have them, compiled to .mpy, and import there."""
import os
import subprocess
import sys

from lghost.vboard import VirtualBoard

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_deploy_mpy_to_virtual_board_and_import_there():
    with VirtualBoard() as vb:
        p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "deploy.py"), "--port", vb.dev,
                            "--board", "unix", "--resume", "--mpy"], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        assert os.path.exists(os.path.join(vb.fs, "main.py"))
        assert os.path.exists(os.path.join(vb.fs, "lib", "lgmqtt", "errors.mpy"))
        assert not os.path.exists(os.path.join(vb.fs, "lib", "lgmqtt", "mqtt", "session.py"))
        assert os.path.exists(os.path.join(vb.fs, "lib", "lgmqtt", "mqtt", "session.mpy"))
        # host-only modules are not deployed
        assert not os.path.exists(os.path.join(vb.fs, "lib", "lgmqtt", "mqtt", "server.mpy"))
        assert not os.path.exists(os.path.join(vb.fs, "lib", "lgmqtt", "net", "cpython.mpy"))
        assert os.path.exists(os.path.join(vb.fs, "lib", "boards", "unix.mpy"))
        r = subprocess.run([os.path.join(os.path.dirname(sys.executable), "mpremote"), "connect", vb.dev, "resume",
                            "exec", "import sys; sys.path.insert(0, 'lib'); import lgmqtt.mqtt.encode, lgmqtt.mqtt.session, boards;"
                            " b = boards.load('unix', {}); print('reading', sorted(b.read_sensor()))"],
                           capture_output=True, text=True, timeout=60)
        assert "reading ['humidity', 'temperature']" in r.stdout, r.stdout + r.stderr


def test_deploy_leaves_no_secrets_behind_on_success_or_failure(tmp_path):
    secrets = tmp_path / "secrets.json"
    secrets.write_text('{"wifi": {"ssid": "s", "password": "wifi-pass"}, "config": {"password": "mqtt-pass"}}')
    # deploy stages in the temp folder: give it one of its own (another deploy running
    # on the machine must not count as a folder left behind)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    # a failure: no board on that port (mpremote fails after staging)
    p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "deploy.py"), "--port", str(tmp_path / "nope"),
                        "--board", "unix", "--secrets", str(secrets)], capture_output=True, text=True, timeout=120,
                       env=env)
    assert p.returncode != 0
    assert os.listdir(tmp) == [], "staging folder left behind"
    with VirtualBoard() as vb:
        p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "deploy.py"), "--port", vb.dev,
                            "--board", "unix", "--resume", "--secrets", str(secrets)],
                           capture_output=True, text=True, timeout=120, env=env)
        assert p.returncode == 0, p.stdout + p.stderr
        assert os.path.exists(os.path.join(vb.fs, "secrets.json"))
        assert os.path.exists(os.path.join(vb.fs, "lib", "lgnode", "supervise.py"))
    assert os.listdir(tmp) == [], "staging folder left behind"


def test_staged_secrets_are_private(tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    import deploy

    secrets = tmp_path / "secrets.json"
    secrets.write_text('{"config": {"password": "p"}}')
    out = tmp_path / "stage"
    out.mkdir(mode=0o700)
    deploy.stage(str(out), "unix", os.path.join(ROOT, "config.json"), str(secrets), False)
    assert oct(os.stat(out / "secrets.json").st_mode & 0o777) == "0o600"
