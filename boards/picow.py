# Raspberry Pi Pico W profile: the Pico's (boards.pico: temperature sensor on ADC 4,
# watchdog, history on LittleFS) plus Wi-Fi on the CYW43 radio, which also drives the
# LED ("LED": GPIO 25 is the radio's SPI select on the W).
from boards.pico import Board as _Pico


class Board(_Pico):
    name = "picow"
    led_pin = "LED"
    has_network = True

    async def network_up(self, timeout_ms=15000):
        from boards._wifi import connect_sta, sync_clock

        # no power-save: it adds seconds of latency to MQTT acks
        up = await connect_sta(self._cfg.get("wifi", {}), timeout_ms, self.feed_watchdog,
                               lambda sta: sta.config(pm=0xA11140))
        if up:
            sync_clock()
        return up
