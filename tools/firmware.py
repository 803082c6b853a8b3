"""Build MicroPython firmware like a board's (32-bit, single-precision floats), with or
without lgmqtt frozen in, and print the path of each binary built (cached: a second run
with the same source, options and lib/ is instant).

    tools/firmware --port unix            mpy-cross and the plain 32-bit unix port
    tools/firmware --port unix --frozen   ... and the same with lgmqtt + boards frozen in
    tools/firmware --port rp2 --board RPI_PICO [--plain]   a Pico firmware (lghost.fw_rp2)

The source is --src PATH (a tree or the .tar.xz archive), else $LGMQTT_MPY_SRC, else
shared/micropython/micropython-src.tar.xz beside the repo, else under /work/shared.
"""
import argparse
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# One builder module per port: unix (fw_unix: mpy_cross(src), build(frozen, src), check(exe))
# and rp2 (fw_rp2, with its own options: --board, --plain).
PORTS = {"unix": "lghost.fw_unix", "rp2": "lghost.fw_rp2"}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--port", default="unix")
    known, _ = pre.parse_known_args(argv)
    if known.port == "rp2":
        from lghost import fw_rp2

        return fw_rp2.main(argv)
    p = argparse.ArgumentParser(prog="tools/firmware", description=__doc__.split("\n")[0])
    p.add_argument("--port", default="unix", choices=sorted(PORTS), help="MicroPython port (default unix)")
    p.add_argument("--frozen", action="store_true", help="also build the firmware with lgmqtt frozen in")
    p.add_argument("--src", help="MicroPython source tree or micropython-src.tar.xz")
    args = p.parse_args(argv)
    fw = importlib.import_module(PORTS[args.port])
    try:
        paths = [("mpy-cross", fw.mpy_cross(args.src)), ("unix32", fw.build(False, args.src))]
        if args.frozen:
            paths.append(("frozen32", fw.build(True, args.src)))
        for name, path in paths[1:]:
            size, third = fw.check(path)
            if size != 2**31 - 1 or third != "0.33333334":
                raise fw.FirmwareError("%s is not board-like: sys.maxsize=%d, 1/3=%s" % (path, size, third))
    except fw.FirmwareError as e:
        print("firmware: error: %s" % e, file=sys.stderr)
        return 2
    for name, path in paths:
        print("%-9s %s" % (name, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
