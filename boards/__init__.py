# Per-board hardware profiles. Each module defines `Board(device_config)` with:
#   name                      board name
#   async network_up(timeout_ms) -> True/False   bring up Wi-Fi (bounded, yields)
#   read_sensor() -> dict      one telemetry reading
#   led(on)                    status LED (no-op where absent)
#   feed_watchdog()            called from the main loop and around long operations
#   fs_root                    folder for config, secrets and the history log
#   history_storage(seg_size)  a raw flash storage for the history log, or None (files)
# Only firmware/ imports this package; lib/ never touches hardware.


def load(name, device_config):
    mod = __import__("boards." + name, None, None, ("Board",))
    return mod.Board(device_config)
