# lgmqtt: an MQTT connector for microcontrollers (MicroPython) that runs the same code
# on CPython. The public API grows here; submodules stay importable on their own so a
# board only loads what it uses.
__version__ = "0.1.0"
