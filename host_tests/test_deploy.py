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
        assert not os.path.exists(os.path.join(vb.fs, "lib", "lgmqtt", "session.py"))
        assert os.path.exists(os.path.join(vb.fs, "lib", "boards", "unix.mpy"))
        r = subprocess.run([os.path.join(os.path.dirname(sys.executable), "mpremote"), "connect", vb.dev, "resume",
                            "exec", "import sys; sys.path.insert(0, 'lib'); import lgmqtt.codec, lgmqtt.session, boards;"
                            " b = boards.load('unix', {}); print('reading', sorted(b.read_sensor()))"],
                           capture_output=True, text=True, timeout=60)
        assert "reading ['humidity', 'temperature']" in r.stdout, r.stdout + r.stderr
