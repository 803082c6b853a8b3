# Raspberry Pi Pico W profile. Stub level: Wi-Fi (CYW43), the RP2040's internal
# temperature sensor on ADC 4, the LED on the radio chip ("LED"), watchdog.
import time


class Board:
    name = "picow"
    fs_root = "/"

    def __init__(self, device_config):
        self._cfg = device_config
        self._wdt = None
        self._led = None
        self._adc = None
        wdt_ms = device_config.get("watchdogMs", 0)
        if wdt_ms:
            from machine import WDT

            self._wdt = WDT(timeout=min(wdt_ms, 8388))  # RP2040 maximum

    async def network_up(self, timeout_ms=15000):
        from boards._wifi import connect_sta, sync_clock

        # no power-save: it adds seconds of latency to MQTT acks
        up = await connect_sta(self._cfg.get("wifi", {}), timeout_ms, self.feed_watchdog,
                               lambda sta: sta.config(pm=0xA11140))
        if up:
            sync_clock()
        return up

    def history_storage(self, segment_size):
        return None  # segment files on the filesystem (config.history.path)

    def read_sensor(self):
        if self._adc is None:
            from machine import ADC

            self._adc = ADC(4)
        v = self._adc.read_u16() * 3.3 / 65535
        return {"temperature": round(27 - (v - 0.706) / 0.001721, 2)}

    def led(self, on):
        if self._led is None:
            from machine import Pin

            self._led = Pin("LED", Pin.OUT)
        self._led.value(1 if on else 0)

    def feed_watchdog(self):
        if self._wdt:
            self._wdt.feed()

    def now(self):
        return time.time()
