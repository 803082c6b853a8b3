# Runs first at every reset. Keep it tiny: anything that can fail belongs in main.py,
# where the watchdog and error reporting are set up. lib/ holds lgmqtt and boards.
import sys

if "/lib" not in sys.path:
    sys.path.append("/lib")
