# The node's store: ONE ring log in flash (lgmqtt.store.log, on media from
# lgmqtt.store.media), the journal of state over it (.journal), and the two views the
# connector uses, the message history and the persistent outbox. The Store owns their
# shared life: sync() makes everything written so far durable, close() ends it.
#
#   st = open_store({"path": "/history", "size": 262144})      # config.history
#   st = Store(log, record=None, policy="drop-oldest", max_pending=None, clock=None)
#   st.history.record(...); st.outbox.put(...); st.sync(); st.close()
#
# Rules of this package: it imports lgmqtt.errors, .compat, .isotime and, for the
# message records, lgmqtt.mqtt (the PUBLISH format, topic filters); never net/ or
# connector/, never asyncio (a paced query is a generator: the caller gives the loop its
# turns). log, logformat and media are sans-I/O but for the medium they are handed.
#
# Keys (all optional):
#   path          folder for the segment files (FileStorage: LittleFS on a board, files on
#                 the host); None (default): in RAM (RamStorage), lost with the process
#   size          total bytes of log, split into `segments` equal parts; each segment
#                 must be >= 1024 bytes, and a message must fit in one. Default: 65536
#                 with a path (flash); 16384 without one (RAM: 4 segments of 4 KB, each
#                 allocated when the log first writes to it -- a board's whole heap is
#                 ~100 KB, and this is room for ~120 telemetry messages of 100 bytes
#                 while offline; messages up to 4 KB)
#   segments      number of segments (default 4, >= 2): one is reclaimed at a time, so
#                 the log holds between (segments-1)/segments and all of size
#   record        list of topic filters to keep in history (default None: all topics)
#   outboxPolicy  "drop-oldest" (default) or "refuse-new": see lgmqtt.store.outbox
#   maxPending    most messages the outbox holds (default None: bounded by the log)
# Invalid values raise ConnectorError(CONFIG_ERROR) naming the key ("config.history.size")
# with details {"path": ..., "expected": ...}.
from lgmqtt.errors import CONFIG_ERROR, ConnectorError, TOPIC_ERROR

_PREFIX = "config.history"
MIN_SEGMENT = 1024
RAM_DEFAULT_SIZE = 16384
_KEYS = ("path", "size", "segments", "record", "outboxPolicy", "maxPending")


def _err(key, expected, value):
    path = _PREFIX + ("." + key if key else "")
    return ConnectorError(CONFIG_ERROR, "%s: expected %s, got %r" % (path, expected, value),
                          {"path": path, "expected": expected})


def _int(cfg, key, default, lo):
    v = cfg.get(key, default)
    if v is None and default is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        raise _err(key, "an integer >= %d" % lo, v)
    return v


def check_config(cfg):
    """Validate config.history; return it with defaults filled in (a new dict)."""
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise _err(None, "an object", cfg)
    for k in cfg:
        if k not in _KEYS:
            raise _err(k, "no such key (known: %s)" % ", ".join(_KEYS), cfg[k])
    path = cfg.get("path")
    if path is not None and (not isinstance(path, str) or not path):
        raise _err("path", "a folder name (str) or null", path)
    segments = _int(cfg, "segments", 4, 2)
    size = _int(cfg, "size", 65536 if path else RAM_DEFAULT_SIZE, 2 * MIN_SEGMENT)
    if size // segments < MIN_SEGMENT:
        raise _err("size", "at least %d bytes per segment (%d segments)" % (MIN_SEGMENT, segments), size)
    record = cfg.get("record")
    if record is not None:
        if not isinstance(record, (list, tuple)):
            raise _err("record", "a list of topic filters or null", record)
        from lgmqtt.mqtt.topic import validate_filter

        for i, f in enumerate(record):
            try:
                validate_filter(f)
            except ConnectorError as e:
                if e.error != TOPIC_ERROR:
                    raise
                raise _err("record[%d]" % i, "a valid MQTT topic filter (%s)" % e.details.get("reason"), f)
    policy = cfg.get("outboxPolicy", "drop-oldest")
    if policy not in ("drop-oldest", "refuse-new"):
        raise _err("outboxPolicy", "'drop-oldest' or 'refuse-new'", policy)
    return {"path": path, "size": size, "segments": segments, "record": record, "outboxPolicy": policy,
            "maxPending": _int(cfg, "maxPending", None, 1)}


def open_log(cfg, storage=None):
    """The RingLog for a checked config: on `storage` when a board gives one (e.g. a
    BlockStorage on a raw flash partition), else FileStorage at path, else RamStorage."""
    from lgmqtt.store.log import RingLog
    from lgmqtt.store.media import FileStorage, RamStorage

    seg = cfg["size"] // cfg["segments"]
    if storage is None:
        storage = FileStorage(cfg["path"]) if cfg["path"] else RamStorage(seg)
    return RingLog(storage, segment_size=seg, segments=cfg["segments"])


class Store:
    def __init__(self, log, record=None, policy="drop-oldest", max_pending=None, clock=None):
        from lgmqtt.store.history import History
        from lgmqtt.store.journal import Journal
        from lgmqtt.store.outbox import Outbox

        self.log = log
        self.journal = Journal(log)
        self.journal.policy = policy
        self.history = History(self, record, clock)
        self.outbox = Outbox(self, policy, max_pending, clock)

    def sync(self):
        """Make every outbox ack and history record written so far durable."""
        self.journal.save_acks(True)

    def close(self):
        """Write the acks waiting in RAM, flush, close the log."""
        self.journal.close()


def open_store(history_cfg, clock=None, storage=None):
    """config.history -> a Store on its log."""
    cfg = check_config(history_cfg)
    return Store(open_log(cfg, storage), cfg["record"], cfg["outboxPolicy"], cfg["maxPending"], clock)
