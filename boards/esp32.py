# ESP32 profile (generic ESP32 / S2 / S3 / C3 boards with official MicroPython firmware).
# Stub level: Wi-Fi bring-up, internal temperature sensor, I2C, LED, watchdog, deep
# sleep with RTC memory. Untested
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
        from boards._wifi import connect_sta, sync_clock

        up = await connect_sta(self._cfg.get("wifi", {}), timeout_ms, self.feed_watchdog)
        if up:
            sync_clock()
        return up

    def history_storage(self, segment_size):
        """The history log on a raw data partition labelled "lglog" when the partition
        table has one: about 1 flash erase per 32 records, where segment files on
        LittleFS cost about one 4 KB erase per record. None: use files."""
        import esp32
        from lgmqtt.store.block import BlockStorage

        found = esp32.Partition.find(esp32.Partition.TYPE_DATA, label="lglog")
        return BlockStorage(found[0], segment_size) if found else None

    def internal_temperature(self):
        import esp32

        if hasattr(esp32, "mcu_temperature"):  # S2/S3/C3
            t = esp32.mcu_temperature()
        else:  # classic ESP32: Fahrenheit, uncalibrated
            t = (esp32.raw_temperature() - 32) / 1.8
        return round(t, 2)

    def read_sensor(self):
        return {"temperature": self.internal_temperature()}

    def i2c(self, bus):
        from boards import machine_i2c

        return machine_i2c(bus)

    def wake_reason(self):
        import machine

        c = machine.reset_cause()
        if c == machine.DEEPSLEEP_RESET:
            return "timer"
        return "power-on" if c == machine.PWRON_RESET else "reset"

    def rtc_memory(self):
        import machine

        return machine.RTC().memory()  # kept through deep sleep and resets, not a power cut

    def set_rtc_memory(self, data):
        import machine

        machine.RTC().memory(data)

    def deep_sleep(self, ms):
        import machine

        machine.deepsleep(ms)

    def led(self, on):
        if self._led:
            self._led.value(1 if on else 0)

    def feed_watchdog(self):
        if self._wdt:
            self._wdt.feed()

    def now(self):
        return time.time() + 946684800 if time.gmtime(0)[0] == 2000 else time.time()
