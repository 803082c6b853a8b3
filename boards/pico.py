# Raspberry Pi Pico profile (RP2040, no radio): the internal temperature sensor on
# ADC 4, the LED on GPIO 25, the watchdog, and the history log as segment files on the
# board's LittleFS at / (the filesystem the firmware formats in the flash after the
# program). Without a radio the node never connects: writes queue in the outbox.
# boards.picow builds on it and adds Wi-Fi. Hardware objects are made on first use,
# never at import.
import time

try:
    from micropython import const
except ImportError:  # CPython: host tests import the profiles
    def const(x):
        return x

_ADC_TEMP = const(4)     # ADC input 4: the on-die temperature sensor
_WDT_MAX_MS = const(8388)  # the RP2040's 24-bit watchdog counter at 2 ticks per us


class Board:
    name = "pico"
    fs_root = "/"
    led_pin = 25  # the plain Pico's LED is GPIO 25 (on the W that pin is the radio's SPI select)
    has_network = False  # offline by design: device.offlineRebootS does not apply

    def __init__(self, device_config):
        self._cfg = device_config
        self._wdt = None
        self._led = None
        self._adc = None
        wdt_ms = device_config.get("watchdogMs", 0)
        if wdt_ms:
            from machine import WDT

            self._wdt = WDT(timeout=min(wdt_ms, _WDT_MAX_MS))

    async def network_up(self, timeout_ms=15000):
        return False  # no radio: the connector queues QoS 1/2 writes until there is one

    def history_storage(self, segment_size):
        # The whole flash after the program is LittleFS (rp2.Flash()); there is no
        # spare raw partition as on an ESP32 without rebuilding the firmware's layout.
        return None  # segment files on the filesystem (config.history.path)

    def internal_temperature(self):
        if self._adc is None:
            from machine import ADC

            self._adc = ADC(_ADC_TEMP)
        v = self._adc.read_u16() * 3.3 / 65535
        # RP2040 datasheet, 4.9.5: 0.706 V at 27 C, -1.721 mV per degree
        return round(27 - (v - 0.706) / 0.001721, 2)

    def read_sensor(self):
        return {"temperature": self.internal_temperature()}

    def i2c(self, bus):
        from boards import machine_i2c

        return machine_i2c(bus)

    def wake_reason(self):
        # The RP2040 keeps no RAM through MicroPython's deepsleep (it resets after it)
        # and machine.reset_cause() does not tell a timer wake from a reset: None, and
        # the duty cycle works from flash alone (no RTC memory).
        return None

    def deep_sleep(self, ms):
        import machine

        machine.deepsleep(ms)

    def led(self, on):
        if self._led is None:
            from machine import Pin

            self._led = Pin(self.led_pin, Pin.OUT)
        self._led.value(1 if on else 0)

    def feed_watchdog(self):
        if self._wdt:
            self._wdt.feed()

    def now(self):
        return time.time()
