# ESP32 profile (generic ESP32 / S2 / S3 / C3 boards with official MicroPython firmware).
# Stub level: Wi-Fi bring-up, internal temperature sensor, LED and watchdog. Untested
# on hardware in CI (no board here); kept small and free of import-time side effects.
import time


class Board:
    name = "esp32"
    fs_root = "/"

    def __init__(self, device_config):
        self._cfg = device_config
        self._wdt = None
        self._led = None
        pin = device_config.get("ledPin", 2)
        if pin is not None:
            from machine import Pin

            self._led = Pin(pin, Pin.OUT)
        wdt_ms = device_config.get("watchdogMs", 0)
        if wdt_ms:
            from machine import WDT

            self._wdt = WDT(timeout=wdt_ms)

    async def network_up(self, timeout_ms=15000):
        from boards._wifi import connect_sta

        return await connect_sta(self._cfg.get("wifi", {}), timeout_ms, self.feed_watchdog)

    def read_sensor(self):
        import esp32

        if hasattr(esp32, "mcu_temperature"):  # S2/S3/C3
            t = esp32.mcu_temperature()
        else:  # classic ESP32: Fahrenheit, uncalibrated
            t = (esp32.raw_temperature() - 32) / 1.8
        return {"temperature": round(t, 2)}

    def led(self, on):
        if self._led:
            self._led.value(1 if on else 0)

    def feed_watchdog(self):
        if self._wdt:
            self._wdt.feed()

    def now(self):
        return time.time() + 946684800 if time.gmtime(0)[0] == 2000 else time.time()
