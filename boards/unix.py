# The virtual board: MicroPython's unix port (or CPython) on a host. No radio, no GPIO;
# the sensor is a deterministic random walk so runs are comparable.
import time

RESET_EXIT = 75  # exit status meaning "reset me" (tools/sim restarts the node)


class Board:
    name = "unix"
    fs_root = "."

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

    def read_sensor(self):
        self._temp += (self._rand() - 0.5) * 0.2
        self._hum += (self._rand() - 0.5) * 0.5
        return {"temperature": round(self._temp, 2), "humidity": round(self._hum, 1)}

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
