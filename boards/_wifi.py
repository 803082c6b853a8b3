# Station-mode Wi-Fi bring-up shared by the boards with a radio: bounded by a timeout,
# yielding to the scheduler and feeding the watchdog while it waits.
import time


async def connect_sta(wifi, timeout_ms, feed, configure=None):
    import asyncio
    import network

    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    if configure is not None:
        configure(sta)
    if not sta.isconnected():
        sta.connect(wifi.get("ssid", ""), wifi.get("password", ""))
    t0 = time.ticks_ms()
    while not sta.isconnected():
        if time.ticks_diff(time.ticks_ms(), t0) > timeout_ms:
            return False
        feed()
        await asyncio.sleep_ms(200)
    return True


def sync_clock():
    """Set the RTC from NTP once after Wi-Fi is up, so history timestamps are real.
    ntptime waits at most ~1 s (its socket timeout); called before the main loop starts."""
    try:
        import ntptime

        ntptime.settime()
        return True
    except Exception:  # no NTP server reachable: timestamps count from boot instead
        return False
