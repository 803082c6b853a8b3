# The virtual board: MicroPython's unix port (or CPython) on a host. No radio, no GPIO,
# no I2C; the internal temperature is a deterministic random walk (plus a daily swing)
# so runs are comparable. Its filesystem is the current folder (tools/sim: a temporary folder).
#
# Resets and deep sleep are the process ending with a status tools/sim understands:
#   RESET_EXIT (75)  reset: the sim boots the node again at once
#   SLEEP_EXIT (76)  deep sleep: the sleep time is in SLEEP_FILE; the sim boots the
#                    node again after it, as the RTC timer wakes a board
# RTC memory (what a board keeps through deep sleep but not through a power cut) is
# RTC_FILE: the sim deletes it when it cuts the power.
import time

RESET_EXIT = 75
SLEEP_EXIT = 76
SLEEP_FILE = "lgsleep.txt"
RTC_FILE = "lgrtc.bin"


class Board:
    name = "unix"
    fs_root = "."
    i2c = None  # no I2C bus: a bme280 sensor is a CONFIG_ERROR naming its bus

    def __init__(self, device_config):
        self._seed = 12345
        self._temp = 21.0
        self._hum = 45.0

    async def network_up(self, timeout_ms=10000):
        return True  # the host's network is already up

    def _rand(self):
        # xorshift32: no dependency on the `random` module (absent on some ports)
        x = self._seed
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._seed = x & 0xFFFFFFFF
        return self._seed / 0xFFFFFFFF

    def history_storage(self, segment_size):
        return None  # segment files on the filesystem (config.history.path)

    def internal_temperature(self):
        # a day's swing of +-2 degC (so that deep-sleep wake-ups, each a new process,
        # read different values) plus the random walk
        import math

        self._temp += (self._rand() - 0.5) * 0.2
        day = 2 * math.sin(2 * math.pi * (time.time() % 86400) / 86400)
        return round(self._temp + day, 2)

    def read_sensor(self):
        t = self.internal_temperature()
        self._hum += (self._rand() - 0.5) * 0.5
        return {"temperature": t, "humidity": round(self._hum, 1)}

    def led(self, on):
        pass

    def feed_watchdog(self):
        pass

    def now(self):
        return time.time()

    def reset_cause(self):
        return None

    def reset(self):
        # The process ends with RESET_EXIT: tools/sim starts it again on the same board
        # folder, as a board boots again after machine.reset().
        import sys

        sys.exit(RESET_EXIT)

    # ---- deep sleep and RTC memory -------------------------------------------------
    def wake_reason(self):
        """"timer" (woken from deep sleep), "reset" (RTC memory kept) or "power-on"."""
        import os

        try:
            os.remove(SLEEP_FILE)
            slept = True
        except OSError:
            slept = False
        kept = self.rtc_memory() is not None
        return ("timer" if slept else "reset") if kept else "power-on"

    def rtc_memory(self):
        try:
            with open(RTC_FILE, "rb") as f:
                return f.read()
        except OSError:
            return None

    def set_rtc_memory(self, data):
        with open(RTC_FILE, "wb") as f:
            f.write(data)

    def deep_sleep(self, ms):
        import sys

        with open(SLEEP_FILE, "w") as f:
            f.write("%d\n" % ms)
        sys.exit(SLEEP_EXIT)
