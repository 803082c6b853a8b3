# Runs first on a firmware with lgmqtt frozen in (tools/sim --firmware frozen32), where a
# board runs boot.py: the path is a board's ('' then .frozen), lgmqtt and boards must be
# the frozen copies (a stray lib/ would make the run measure the wrong thing), then
# main.py runs from the board's filesystem (the current folder), as at a reset.
import sys

sys.path[:] = ["", ".frozen"]
import boards  # noqa: E402
import lgmqtt  # noqa: E402

for _m in (lgmqtt, boards):
    if not _m.__path__.startswith(".frozen/"):
        print("error FIRMWARE %s is not the frozen copy: %s" % (_m.__name__, _m.__path__))
        sys.exit(3)
print("firmware: lgmqtt from %s, boards from %s" % (lgmqtt.__path__, boards.__path__))
import main  # noqa: E402,F401
