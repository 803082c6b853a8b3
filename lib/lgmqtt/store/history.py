# Message history over the ring log: what was published and received, queried by topic
# filter, time or sequence number; cleared without rewriting; the retained view.
#
#   h = Store(log, record=["sensors/#"]).history           # (lgmqtt.store.Store)
#   h.record("received", "sensors/t", b"21.5", qos=1, retain=False, props=None, t=None)
#   h.record_message("received", message)                   # a records.Message, as it arrived
#   h.read(topic="sensors/+", limit=100, since="2024-01-15T00:00:00Z", newest_first=True)
#   h.clear("sensors/#") / h.clear()
#   h.retained("sensors/#")
#   h.stats()
#
# The log is shared with the outbox (lgmqtt.store.outbox): record kinds, checkpoints and
# recovery live in lgmqtt.store.journal. History reads K_RECEIVED, K_PUBLISHED and K_PENDING
# (outbox messages, "published") and skips the rest.
#
# - record(): direction "published" or "received". Only topics matching one of
#   record_filters (None: all) are recorded; returns the record's id (seq), or 0 when
#   not recorded (filtered out, larger than a segment, or refused because the log is
#   full of unacknowledged outbox messages under the "refuse-new" policy: counted in
#   stats()["skipped"]). Records are written lazily (not flushed): they become durable
#   with the next flushed append (an outbox put, a clear, a checkpoint), sync(), or
#   when their segment fills. A power cut loses at most the history records written
#   since then, never an older one, and never out of order.
# - read(): list of dicts {"id", "topic", "payload" (bytes), "qos", "retain",
#   "direction", "timestamp" (ISO-8601 UTC), "properties" (MQTT 5 properties as the
#   codec decodes them, {id: value}; the key is omitted when there are none)}.
#   newest_first=True (default): the newest `limit` matches, newest first.
#   newest_first=False: the oldest `limit` matches, oldest first (page forward with
#   since=<last id>). topic: an MQTT filter with wildcards (None: all). since: an
#   ISO-8601 string (records with timestamp >= it) or an int id (records with id > it,
#   so the last id read is the next since). Outbox messages appear only if their topic
#   matches record_filters.
# - clear(topic=None): appends a tombstone (flushed) that hides every older record
#   whose topic matches the filter (None: every record). Old records are not rewritten;
#   they go with their segment. Outbox messages still pending are still sent: clear
#   only hides them from history. Tombstones survive reboots and reclaims (journal
#   checkpoints); at most MAX_TOMBSTONES filters are live at once (a tombstone dies once
#   everything it hides has been reclaimed; clear() of everything replaces them all).
# - retained(topic_filter=None): the last retained message per topic (received or
#   published), in read()'s shape, newest first; a retained message with an empty
#   payload removes its topic. Cleared records are not seen.
from lgmqtt.compat import time_s
from lgmqtt.errors import INVALID_PARAMS, OUTBOX_FULL, STORAGE_ERROR, TOPIC_ERROR, ConnectorError
from lgmqtt.isotime import format_iso, parse_iso
from lgmqtt.store.journal import K_CLEAR, K_PENDING, K_PUBLISHED, K_RECEIVED, MAX_TOMBSTONES
from lgmqtt.store.records import Message, is_retained, peek_topic
from lgmqtt.mqtt.topic import compile_filter, match_levels, validate_filter

PUBLISHED = "published"
RECEIVED = "received"
PACE = 16  # records walked between pauses of a paced query (read_steps, retained_steps)


def run(steps):
    """Drive a paced query (a generator that yields None at each pause) to its end
    without pausing; returns its result. An event loop would await a turn at each
    pause instead (lgmqtt.connector does)."""
    try:
        while True:
            next(steps)
    except StopIteration as e:
        return e.value


def message(topic, payload, qos=0, retain=False, props=None):
    """A records.Message made from its parts (the PUBLISH encoded once): 5.0 when there
    are properties, else 3.1.1."""
    from lgmqtt.mqtt.encode import encode_publish

    v = 5 if props else 4
    return Message.of_packet(v, encode_publish(v, topic, payload, qos, retain, False, 0 if qos else None,
                                               props or None))


def _bad_param(name, value, expected):
    return ConnectorError(TOPIC_ERROR if name == "topic" else INVALID_PARAMS,
                          "history %s: expected %s" % (name, expected),
                          {"param": name, "value": value, "expected": expected})


class History:
    def __init__(self, store, record_filters=None, clock=None):
        self.store = store
        self.log = store.log
        self.journal = store.journal
        self.clock = clock or time_s
        self.skipped = 0
        if record_filters is None:
            self._record = None
        else:
            self._record = tuple(compile_filter(validate_filter(f)) for f in record_filters)

    def wants(self, topic):
        """Would record() keep a message on this topic?"""
        r = self._record
        if r is None:
            return True
        for lv in r:
            if match_levels(lv, topic):
                return True
        return False

    def record(self, direction, topic, payload, qos=0, retain=False, props=None, t=None):
        if not self.wants(topic):
            return 0
        return self.record_message(direction, message(topic, payload, qos, retain, props), t)

    def record_message(self, direction, msg, t=None):
        """Keep a records.Message (the caller checked wants()). Returns its id, 0 when
        not recorded (too large, or refused under the outbox policy: counted)."""
        if direction == RECEIVED:
            kind = K_RECEIVED
        elif direction == PUBLISHED:
            kind = K_PUBLISHED
        else:
            raise _bad_param("direction", direction, "'published' or 'received'")
        if msg.size() > self.log.max_body:
            self.skipped += 1
            return 0
        seq = self.journal.append(kind, msg.parts(), False, int(self.clock()) if t is None else t)
        if not seq:
            self.skipped += 1
        return seq

    # --- queries ------------------------------------------------------------------
    def _visible(self, kind, seq, body):
        """The record's topic when history shows it, else None."""
        if kind < 0x10 or kind > K_PENDING:  # the message kinds, 0.1's included
            return None
        topic = peek_topic(kind, body)
        if (kind == K_PENDING or kind == 0x12) and not self.wants(topic):
            return None
        if self.journal.hidden(seq, topic):
            return None
        return topic

    def read(self, topic=None, limit=100, since=None, newest_first=True):
        return run(self.read_steps(topic, limit, since, newest_first))

    def read_steps(self, topic=None, limit=100, since=None, newest_first=True):
        """read() as a paced generator: yields None every PACE records walked and
        returns the list (StopIteration.value)."""
        levels = None
        if topic is not None:
            levels = compile_filter(validate_filter(topic))
        if not isinstance(limit, int) or limit < 0:
            raise _bad_param("limit", limit, "an int >= 0")
        from_seq, t_min = self._since(since)
        out = []
        if not limit:
            return out
        it = self.log.scan(from_seq=from_seq, newest_first=newest_first, pace=PACE)
        try:
            for rec in it:
                if rec is None:
                    yield None
                    continue
                seq, t, kind, body = rec
                if t < t_min:
                    continue
                name = self._visible(kind, seq, body)
                if name is None or (levels is not None and not match_levels(levels, name)):
                    continue
                out.append(self._entry(seq, t, kind, body))
                if len(out) >= limit:
                    break
        finally:
            it.close()
        return out

    def _since(self, since):
        if since is None:
            return None, 0
        if isinstance(since, bool):
            raise _bad_param("since", since, "an ISO-8601 time or an id")
        if isinstance(since, int):
            return since + 1, 0
        try:
            return None, parse_iso(since)
        except ValueError as e:
            raise _bad_param("since", since, "an ISO-8601 time like 2024-01-15T00:00:00Z (%s)" % e)

    def _entry(self, seq, t, kind, body):
        m = Message.of_record(kind, body, seq, t)
        d = {"id": seq, "topic": m.topic(), "payload": m.payload(), "qos": m.qos, "retain": m.retain,
             "direction": RECEIVED if kind == K_RECEIVED or kind == 0x10 else PUBLISHED,
             "timestamp": format_iso(t)}
        props = m.props()
        if props:
            d["properties"] = props
        return d

    def retained(self, topic_filter=None):
        return run(self.retained_steps(topic_filter))

    def retained_steps(self, topic_filter=None):
        """retained() as a paced generator (see read_steps)."""
        levels = None if topic_filter is None else compile_filter(validate_filter(topic_filter))
        seen = set()
        out = []
        it = self.log.scan(newest_first=True, pace=PACE)
        try:
            for rec in it:
                if rec is None:
                    yield None
                    continue
                seq, t, kind, body = rec
                if not is_retained(kind, body):
                    continue
                name = self._visible(kind, seq, body)
                if name is None or name in seen:
                    continue
                if levels is not None and not match_levels(levels, name):
                    continue
                seen.add(name)
                e = self._entry(seq, t, kind, body)
                if e["payload"]:
                    out.append(e)
        finally:
            it.close()
        return out

    # --- clear --------------------------------------------------------------------
    def clear(self, topic=None):
        """Hide every record so far (matching the filter); returns the tombstone's id."""
        j = self.journal
        if topic is not None:
            validate_filter(topic)
            known = False
            for t in j.live_tombs():
                known = known or t[0] == topic
            if not known and len(j.tombs) >= MAX_TOMBSTONES:
                raise ConnectorError(STORAGE_ERROR, "too many live history clears (%d): clear all instead"
                                     % MAX_TOMBSTONES, {"max": MAX_TOMBSTONES})
        body = topic.encode() if topic else b""
        seq = j.append(K_CLEAR, (body,), True)
        if not seq:
            raise ConnectorError(OUTBOX_FULL, "history clear needs room the unacknowledged outbox holds",
                                 {"pending": len(j.pending)})
        return seq

    def stats(self):
        s = self.log.stats
        return {"records": s["records"], "bytesUsed": s["bytes_used"], "capacity": s["capacity"],
                "oldestId": s["oldest_seq"], "newestId": s["newest_seq"], "skipped": self.skipped,
                "clears": len(self.journal.live_tombs()) + (1 if self.journal.clear_all else 0)}
