# Stand-in for the board module `machine` on the unix port, for the baselines that
# import what only a board has (tools/benchmarks/peers.py puts this folder on their
# path, never on lgmqtt's): mqtt_as derives its default client id from unique_id() at
# import time; aiomqttc timestamps every log line with RTC().datetime().
import time


def unique_id():
    return b"\x00\x11\x22\x33\x44\x55"


class RTC:
    def init(self, date_parts):
        pass

    def datetime(self):
        t = time.localtime()  # (year, month, mday, hour, minute, second, weekday, ...)
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)
