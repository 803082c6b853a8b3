# One exception type for everything lgmqtt raises at its callers, carrying the seed's
# error code, a human message and a details dict. Which layer raises does not matter
# to the caller; the code says what went wrong and whether retrying can help.

CONNECTION_FAILED = "CONNECTION_FAILED"
AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED"
TOPIC_ERROR = "TOPIC_ERROR"
QOS_ERROR = "QOS_ERROR"
CONFIG_ERROR = "CONFIG_ERROR"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
CAPABILITY_DISABLED = "CAPABILITY_DISABLED"
NOT_CONNECTED = "NOT_CONNECTED"
PROTOCOL_ERROR = "PROTOCOL_ERROR"
TIMEOUT = "TIMEOUT"
STORAGE_ERROR = "STORAGE_ERROR"
OUTBOX_FULL = "OUTBOX_FULL"
INTERNAL_ERROR = "INTERNAL_ERROR"  # a background task failed (e.g. MemoryError); the link restarts
INVALID_PARAMS = "INVALID_PARAMS"  # a capability call with a bad parameter value
KEEPALIVE_TIMEOUT = "KEEPALIVE_TIMEOUT"  # no complete packet from the broker within 1.5 x keepalive
CALLBACK_ERROR = "CALLBACK_ERROR"  # an event callback of the application raised
PUBLISH_REFUSED = "PUBLISH_REFUSED"  # the broker refused a message (reason code, or closing on it repeatedly)


class ConnectorError(Exception):
    def __init__(self, error, message, details=None):
        super().__init__(error, message)
        self.error = error
        self.message = message
        self.details = details if details is not None else {}

    def __str__(self):
        return "%s: %s" % (self.error, self.message)

    def to_dict(self):
        return {"error": self.error, "message": self.message, "details": self.details}


# Reporting a MemoryError must not need memory: when building the message fails too,
# this one (made at import) is used instead.
OUT_OF_MEMORY = ConnectorError(INTERNAL_ERROR, "out of memory", {"outOfMemory": True})


def internal(what, e, details=None):
    """The INTERNAL_ERROR for an unexpected exception `e` in `what` (a MemoryError on a
    board, a bug). Never raises itself: without memory for the message, OUT_OF_MEMORY.
    details["outOfMemory"] is True when e is a MemoryError (a caller may try again
    later: the heap changes), absent for a bug."""
    try:
        d = details or {"where": what}
        if isinstance(e, MemoryError):
            d["outOfMemory"] = True
        return ConnectorError(INTERNAL_ERROR, "%s failed: %r" % (what, e), d)
    except MemoryError:
        return OUT_OF_MEMORY


def topic_error(topic, reason):
    # The message shows at most 64 chars of the topic: a 64 KB topic must not become a
    # second 64 KB string on a board. details keep the caller's own object (no copy).
    shown = topic[:64] + "..." if isinstance(topic, str) and len(topic) > 64 else topic
    return ConnectorError(TOPIC_ERROR, "invalid topic %r: %s" % (shown, reason), {"topic": topic, "reason": reason})
