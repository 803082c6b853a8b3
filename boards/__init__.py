# Per-board hardware profiles. Each module defines `Board(device_config)` with:
#   name                      board name
#   async network_up(timeout_ms) -> True/False   bring up Wi-Fi (bounded, yields)
#   has_network                False on a board without a radio (no offline reset there)
#   read_sensor() -> dict      one reading of the board's own sensors (tests, tools)
#   internal_temperature()     degC of the chip's own sensor (lgnode's "internal" sensor)
#   i2c(bus) or None           bus {id, scl, sda, freq} -> a machine.I2C-like object
#   deep_sleep(ms)             sleep, then boot again as after a reset (does not return)
#   wake_reason()              "timer" | "reset" | "power-on", or None when unknown
#   rtc_memory(), set_rtc_memory(b)   bytes kept through deep sleep (optional)
#   reset()                    reset the board (does not return)
#   led(on)                    status LED (no-op where absent)
#   feed_watchdog()            called from the main loop and around long operations
#   fs_root                    folder for config, secrets and the history log
#   history_storage(seg_size)  a raw flash storage for the history log, or None (files)
# Only firmware/ imports this package; lib/ never touches hardware.


def load(name, device_config):
    mod = __import__("boards." + name, None, None, ("Board",))
    return mod.Board(device_config)


def machine_i2c(bus):
    """lgnode.sensors' bus {id: 0/1 or "soft", scl, sda, freq} (defaults filled in) ->
    machine.I2C on that controller, or SoftI2C (bit-banged, any pins) for "soft": the
    same on every MicroPython port that has I2C (ESP32, RP2040)."""
    from machine import Pin

    if bus["id"] == "soft":
        from machine import SoftI2C

        return SoftI2C(scl=Pin(bus["scl"]), sda=Pin(bus["sda"]), freq=bus["freq"])
    from machine import I2C

    return I2C(bus["id"], scl=Pin(bus["scl"]), sda=Pin(bus["sda"]), freq=bus["freq"])
