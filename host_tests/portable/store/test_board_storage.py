# The ESP32 profile's history storage on a raw partition, with the partition played by
# the flash emulator (the chip cannot exist here; the emulator keeps NOR rules).
import sys

from check import eq
from flashsim import FlashSim
from lgmqtt.store import open_store


class _Partition:
    TYPE_DATA = 1
    table = {}

    @classmethod
    def find(cls, type, label=None):
        return [cls.table[label]] if label in cls.table else []


class _Esp32:
    Partition = _Partition


def _board():
    sys.modules["esp32"] = _Esp32
    import boards

    return boards.load("esp32", {"ledPin": None})


def test_no_partition_means_files():
    _Partition.table = {}
    eq(_board().history_storage(16384), None)


def test_partition_holds_the_outbox_across_a_reboot():
    flash = FlashSim(16)  # 16 x 4 KB blocks: the 64 KB partition
    _Partition.table = {"lglog": flash}
    cfg = {"size": 65536, "segments": 4}
    _st = open_store(cfg, storage=_board().history_storage(16384))
    hist, ob = _st.history, _st.outbox
    ids = [ob.put("dev/t", b"%d" % i, 1) for i in range(50)]
    ob.ack(ids[0])
    ob.store.sync()
    _st = open_store(cfg, storage=_board().history_storage(16384))  # reboot
    hist, ob = _st.history, _st.outbox
    eq([p.id for p in ob.pending()], ids[1:])
    assert flash.erased <= 8, flash.erased  # not one erase per record
