# Stand-in for the board module `network` on the unix port, for the mqtt_as baseline
# only: the host's network is always up, so the station interface reports connected
# at once and connect() does nothing (mqtt_as then skips straight to the broker).
STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010


class WLAN:
    PM_NONE = 0

    def __init__(self, interface=STA_IF):
        self._active = True

    def active(self, on=None):
        if on is not None:
            self._active = bool(on)
        return self._active

    def connect(self, ssid=None, key=None):
        pass

    def disconnect(self):
        pass

    def isconnected(self):
        return True

    def status(self, *args):
        return STAT_GOT_IP

    def config(self, *args, **kw):
        return None
