# MQTT topic rules (3.1.1 and 5.0 section 4.7, shared subscriptions 5.0 section 4.8.2):
# validation of topic names and filters, and matching a name against a filter.
# Pure: no I/O. Everything works on str; lengths are UTF-8 byte lengths.
#
# Matching runs for every incoming message against every subscription (and in history
# to pick what to record). Two forms, both trusting their filter to be valid:
# - match(filt, name) on a str filter scans by index instead of splitting: it
#   allocates one small slice per literal run between wildcards, nothing for a filter
#   without wildcards.
# - compile_filter(filt) once, then match_levels(levels, name) per message allocates
#   nothing at all. Use it in hot paths. Measured under MicroPython 1.29 (unix port,
#   tools/benchmarks/topic.py): match() leaves 96-192 B of garbage per call and runs at
#   ~330k/s with a 128 KB heap but ~67k/s with 2 MB, while match_levels holds ~0.8M/s
#   at both. Probable cause: a function with many locals gets its frame from the heap,
#   and allocations after that frame is freed rescan the uncollected garbage.
from lgmqtt.compat import const
from lgmqtt.errors import topic_error
from lgmqtt.mqtt.wire import utf8

MAX_TOPIC_BYTES = const(65535)
_SHARE = "$share/"
_SHARE_LEN = const(7)


def _check_common(topic):
    if not isinstance(topic, str):
        raise topic_error(topic, "topic must be a str")
    n = len(topic)
    if n == 0:
        raise topic_error(topic, "empty topic")
    if n > MAX_TOPIC_BYTES:
        raise topic_error(topic, "topic longer than 65535 bytes")
    try:
        b = len(utf8(topic))  # a lone surrogate is refused here, the same on both interpreters
    except ValueError:
        raise topic_error(topic, "topic is not valid UTF-8")
    if b > MAX_TOPIC_BYTES:
        raise topic_error(topic, "topic longer than 65535 bytes")
    if "\x00" in topic:
        raise topic_error(topic, "null character in topic")


def validate_name(topic):
    """Check a topic name for PUBLISH (no wildcards); return it or raise TOPIC_ERROR."""
    _check_common(topic)
    if "+" in topic or "#" in topic:
        raise topic_error(topic, "wildcards not allowed in topic name")
    return topic


def _check_wildcards(filt, start, whole):
    # '+' and '#' must each fill a level; '#' must also be the last one.
    n = len(filt)
    for ch in "+#":
        i = filt.find(ch, start)
        while i >= 0:
            if (i > start and filt[i - 1] != "/") or (i + 1 < n and filt[i + 1] != "/"):
                raise topic_error(whole, "'%s' must occupy a whole level" % ch)
            if ch == "#" and i + 1 < n:
                raise topic_error(whole, "wildcard in middle of topic")
            i = filt.find(ch, i + 1)


def validate_filter(filt):
    """Check a subscription filter, $share/group/filter included; return it or raise
    TOPIC_ERROR."""
    _check_common(filt)
    start = 0
    if filt.startswith(_SHARE):
        slash = filt.find("/", _SHARE_LEN)
        group_end = slash if slash >= 0 else len(filt)
        if group_end == _SHARE_LEN:
            raise topic_error(filt, "empty share group")
        if filt.find("+", _SHARE_LEN, group_end) >= 0 or filt.find("#", _SHARE_LEN, group_end) >= 0:
            raise topic_error(filt, "invalid share group")
        if slash < 0 or slash + 1 == len(filt):
            raise topic_error(filt, "missing filter after share group")
        start = slash + 1
    _check_wildcards(filt, start, filt)
    return filt


def shared_parts(filt):
    """'$share/g/a/+' -> ('g', 'a/+'); 'a/+' -> (None, 'a/+'). Assumes a valid filter."""
    if filt.startswith(_SHARE):
        slash = filt.find("/", _SHARE_LEN)
        if slash >= 0:
            return filt[_SHARE_LEN:slash], filt[slash + 1:]
    return None, filt


def match(filt, name):
    """True when topic name `name` matches the (valid) filter `filt`."""
    fi = 0
    if filt.startswith(_SHARE):
        fi = filt.find("/", _SHARE_LEN) + 1
        if fi == 0:
            return False
    fl = len(filt)
    nl = len(name)
    if fi >= fl or nl == 0:
        return False
    # A leading wildcard never matches a '$' topic ($SYS/...): 4.7.2.
    if name[0] == "$" and (filt[fi] == "+" or filt[fi] == "#"):
        return False
    ni = 0
    while True:
        p = filt.find("+", fi)
        w = filt.find("#", fi)
        if w < 0 or (0 <= p < w):
            w = p
        if w < 0:
            # Only literal text left: it must be the rest of the name, exactly.
            if fi == 0:
                return filt == name
            return fl - fi == nl - ni and name.endswith(filt[fi:])
        if w > fi:
            if filt[w] == "#":
                # filt[fi:w] ends with '/'; "a/#" also matches "a" (the parent level).
                if nl - ni == w - 1 - fi:
                    return name.startswith(filt[fi:w - 1], ni)
                return name.startswith(filt[fi:w], ni)
            if not name.startswith(filt[fi:w], ni):
                return False
            ni += w - fi
        elif filt[w] == "#":
            return True
        # '+': skip one level of the name (possibly empty).
        ni = name.find("/", ni)
        if ni < 0:
            ni = nl
        fi = w + 1
        if fi == fl:
            return ni == nl


def compile_filter(filt):
    """A (valid) filter as a tuple of its levels, for match_levels(); a shared
    subscription compiles to its inner filter. Validate it first."""
    return tuple(shared_parts(filt)[1].split("/"))


def match_levels(levels, name):
    """match() for a compile_filter() result; allocates nothing."""
    nl = len(name)
    if nl == 0:
        return False
    lv = levels[0]
    if name[0] == "$" and (lv == "+" or lv == "#"):
        return False
    ni = 0  # start of the current name level; nl + 1 once the name is used up
    for lv in levels:
        if lv == "#":
            return True  # the rest, the parent level included ("a/#" matches "a")
        if ni > nl:
            return False
        end = name.find("/", ni)
        if end < 0:
            end = nl
        if lv != "+" and (end - ni != len(lv) or not name.startswith(lv, ni)):
            return False
        ni = end + 1
    return ni == nl + 1


def any_match(filters, name):
    """True when any filter in `filters` matches `name` (history uses it to decide
    which topics to record). Each filter is a str or a compile_filter() tuple.
    Filters are checked in order; put the likeliest first."""
    for f in filters:
        if match_levels(f, name) if type(f) is tuple else match(f, name):
            return True
    return False
