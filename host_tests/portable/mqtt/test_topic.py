# Topic rules (MQTT 3.1.1 / 5.0 section 4.7, shared subscriptions 4.8.2): what a
# caller sees is either the topic back or a TOPIC_ERROR whose reason says why.
from check import eq, raises
from lgmqtt.errors import ConnectorError, TOPIC_ERROR
from lgmqtt.mqtt.topic import (
    any_match, compile_filter, match, match_levels, shared_parts, validate_filter, validate_name,
)

HEAP = "2m"

E_ACUTE = "\u00e9"  # 1 char, 2 UTF-8 bytes

VALID_NAMES = [
    "a", "/", "//", "a/b", "/a", "a/", "a//b", "sport/tennis/player1", "$SYS/broker/uptime",
    "$share/g/x", " ", "a b/c d", E_ACUTE + "/\u4e2d\u6587", "\U0001F600/emoji", "x" * 65535,
    "é" * 30000,
]

INVALID_NAMES = [
    ("", "empty topic"),
    (None, "topic must be a str"),
    (b"a/b", "topic must be a str"),
    (5, "topic must be a str"),
    ("a\x00b", "null character in topic"),
    ("\x00", "null character in topic"),
    ("+", "wildcards not allowed in topic name"),
    ("#", "wildcards not allowed in topic name"),
    ("a/+/b", "wildcards not allowed in topic name"),
    ("a/#", "wildcards not allowed in topic name"),
    ("a+b", "wildcards not allowed in topic name"),
    ("sport/tennis#", "wildcards not allowed in topic name"),
    ("x" * 65536, "topic longer than 65535 bytes"),
    ("é" * 40000, "topic longer than 65535 bytes"),
    ("é" * 32768, "topic longer than 65535 bytes"),  # 65536 bytes, 32768 chars
    ("\u4e2d" * 21846, "topic longer than 65535 bytes"),  # 3-byte chars: 65538 bytes
    ("\U0001F600" * 16384, "topic longer than 65535 bytes"),  # 4-byte chars: 65536 bytes
]

VALID_FILTERS = [
    "a", "#", "+", "+/+", "/+", "+/", "a/#", "a/+/b", "+/#", "/#", "a//b", "a/+/+/#", "//",
    "sport/tennis/player1/#", "$SYS/#", "$SYS/+/x", "+/monitor/Clients",
    "$share/g/#", "$share/group/a/+/b", "$share/g/$SYS/#", "$share/g//", "$sharex/a",
    "$share", "x" * 65535, "é" * 30000, "é" * 32766 + "/+",
]

INVALID_FILTERS = [
    ("", "empty topic"),
    (None, "topic must be a str"),
    (["a"], "topic must be a str"),
    ("a\x00/#", "null character in topic"),
    ("a+", "'+' must occupy a whole level"),
    ("+a", "'+' must occupy a whole level"),
    ("a/b+/c", "'+' must occupy a whole level"),
    ("++", "'+' must occupy a whole level"),
    ("a/+b", "'+' must occupy a whole level"),
    ("a#", "'#' must occupy a whole level"),
    ("#a", "'#' must occupy a whole level"),
    ("a/b#", "'#' must occupy a whole level"),
    ("##", "'#' must occupy a whole level"),
    ("sport/tennis#", "'#' must occupy a whole level"),
    ("a/#/b", "wildcard in middle of topic"),
    ("#/", "wildcard in middle of topic"),
    ("#/a", "wildcard in middle of topic"),
    ("sport/tennis/#/ranking", "wildcard in middle of topic"),
    ("$share/", "empty share group"),
    ("$share//a", "empty share group"),
    ("$share/g+/a", "invalid share group"),
    ("$share/+/a", "invalid share group"),
    ("$share/#", "invalid share group"),
    ("$share/g#/a", "invalid share group"),
    ("$share/g", "missing filter after share group"),
    ("$share/g/", "missing filter after share group"),
    ("$share/g/a+", "'+' must occupy a whole level"),
    ("$share/g/#/a", "wildcard in middle of topic"),
    ("x" * 65536, "topic longer than 65535 bytes"),
    ("é" * 40000, "topic longer than 65535 bytes"),
    ("$share/g/" + "x" * 65527, "topic longer than 65535 bytes"),
]

# (filter, name, expected). The first block is the spec's own examples (4.7.1, 4.7.2).
MATCHES = [
    ("sport/tennis/player1/#", "sport/tennis/player1", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
    ("sport/#", "sport", True),
    ("sport/tennis/+", "sport/tennis/player1", True),
    ("sport/tennis/+", "sport/tennis/player2", True),
    ("sport/tennis/+", "sport/tennis/player1/ranking", False),
    ("sport/+", "sport", False),
    ("sport/+", "sport/", True),
    ("+/+", "/finance", True),
    ("/+", "/finance", True),
    ("+", "/finance", False),
    ("#", "$SYS/x", False),
    ("+/monitor/Clients", "$SYS/monitor/Clients", False),
    ("$SYS/#", "$SYS/monitor/Clients", True),
    ("$SYS/#", "$SYS/x", True),
    ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
    ("#", "sport/tennis", True),
    ("#", "/", True),
    ("#", "a", True),
    ("#", "$", False),
    ("+", "$", False),
    ("+", "$SYS", False),
    ("$SYS", "$SYS", True),
    ("+/#", "$SYS/x", False),
    # literal filters
    ("a/b", "a/b", True),
    ("a/b", "a/bc", False),
    ("a/b", "a/b/", False),
    ("a/b", "a", False),
    ("a//b", "a//b", True),
    ("a//b", "a/b", False),
    ("/a", "/a", True),
    ("/a", "a", False),
    # '+' takes exactly one level, an empty one included
    ("+", "a", True),
    ("+", "a/b", False),
    ("+", "/", False),
    ("+/+", "/", True),
    ("+/+", "a/b/c", False),
    ("a/+/c", "a//c", True),
    ("a/+/c", "a/b/c", True),
    ("a/+/c", "a/b/d", False),
    ("a/+/c", "a/c", False),
    ("a/+", "a/b/c", False),
    ("+/b", "a/b", True),
    ("+/b", "a/bb", False),
    ("+/+/+", "a/b/c", True),
    ("+/+/+", "a/b", False),
    ("+/", "a/", True),
    ("+/", "a", False),
    ("/+", "/", True),
    ("//+", "//", True),
    # '#' takes the rest, the parent level included
    ("a/#", "a", True),
    ("a/#", "a/", True),
    ("a/#", "a/b/c", True),
    ("a/#", "ab", False),
    ("a/#", "b/a", False),
    ("a/#", "/a", False),
    ("/#", "/", True),
    ("/#", "/a/b", True),
    ("/#", "a", False),
    ("+/#", "a", True),
    ("+/#", "a/b/c", True),
    ("+/#", "/", True),
    ("a/+/#", "a/b", True),
    ("a/+/#", "a", False),
    ("a/+/#", "a/b/c/d", True),
    ("a/b/#", "a/b", True),
    ("a/b/#", "a/c", False),
    ("a/b/#", "a/bc", False),
    # shared subscriptions match as their inner filter
    ("$share/g/a/+", "a/b", True),
    ("$share/g/a/+", "a/b/c", False),
    ("$share/g/#", "x/y", True),
    ("$share/g/#", "$SYS/x", False),
    ("$share/g/a", "a", True),
    ("$share/g/a", "b", False),
    ("$share/g/$SYS/#", "$SYS/x", True),
    ("$share/group/sport/tennis/#", "sport/tennis", True),
    # non-ASCII levels: indices are chars on both interpreters
    (E_ACUTE + "/+", E_ACUTE + "/" + E_ACUTE, True),
    ("+/" + E_ACUTE, "\u4e2d\u6587/" + E_ACUTE, True),
    ("+/" + E_ACUTE, "\u4e2d\u6587/e", False),
    ("\U0001F600/#", "\U0001F600", True),
    ("\u4e2d/+/x", "\u4e2d/\u6587/x", True),
    # '$' only matters at the very start of the name
    ("a/+", "a/$x", True),
    ("a/#", "a/$SYS", True),
]


def _reason(fn, value):
    e = raises(ConnectorError, fn, value)
    eq(e.error, TOPIC_ERROR)
    eq(e.details["topic"] is value, True, "details carry the topic")
    return e.details["reason"]


def test_valid_names():
    for t in VALID_NAMES:
        assert validate_name(t) is t, t[:40]


def test_invalid_names():
    for t, reason in INVALID_NAMES:
        eq(_reason(validate_name, t), reason, repr(t)[:40])


def test_valid_filters():
    for t in VALID_FILTERS:
        assert validate_filter(t) is t, t[:40]


def test_invalid_filters():
    for t, reason in INVALID_FILTERS:
        eq(_reason(validate_filter, t), reason, repr(t)[:40])


def test_every_name_is_a_filter():
    # A valid name is also a valid filter (it matches itself and only itself).
    # ("$share/g/x" is the exception: as a filter it is a shared subscription to "x".)
    for t in VALID_NAMES:
        validate_filter(t)
        eq(match(t, t), not t.startswith("$share/"), t[:40])


def test_byte_length_boundary():
    # 65535 bytes is allowed; the limit counts UTF-8 bytes, not chars.
    eq(len(("é" * 30000).encode()), 60000)
    validate_name("é" * 32767 + "a")  # 65535 bytes
    eq(_reason(validate_name, "é" * 32767 + "ab"), "topic longer than 65535 bytes")
    validate_name("\u4e2d" * 21845)  # 65535 bytes
    validate_name("\U0001F600" * 16383 + "abc")  # 65535 bytes
    validate_filter("\U0001F600" * 16383 + "a/#")  # 65535 bytes
    eq(_reason(validate_filter, "\U0001F600" * 16383 + "ab/#"), "topic longer than 65535 bytes")


def test_error_message_names_topic_and_reason():
    e = raises(ConnectorError, validate_filter, "a/#/b")
    eq(e.to_dict(), {
        "error": TOPIC_ERROR,
        "message": "invalid topic 'a/#/b': wildcard in middle of topic",
        "details": {"topic": "a/#/b", "reason": "wildcard in middle of topic"},
    })


def test_match_table():
    for f, n, want in MATCHES:
        validate_filter(f)
        validate_name(n)
        eq(match(f, n), want, "match(%r, %r)" % (f, n))
        eq(match_levels(compile_filter(f), n), want, "match_levels(%r, %r)" % (f, n))


def test_compile_filter():
    eq(compile_filter("a/+/#"), ("a", "+", "#"))
    eq(compile_filter("/a/"), ("", "a", ""))
    eq(compile_filter("#"), ("#",))
    eq(compile_filter("$share/g/a/+"), ("a", "+"))
    eq(compile_filter("$SYS/#"), ("$SYS", "#"))


def test_match_levels_allocates_nothing():
    import gc

    if not hasattr(gc, "mem_alloc"):
        return  # CPython has no allocation counter; the MicroPython run checks it
    cases = [(compile_filter(f), n) for f, n in (
        ("sensors/+/temp", "sensors/k1/temp"), ("sensors/#", "sensors/k1/temp"),
        ("a/+/c", "a/b/d"), ("+/+", "/finance"), (E_ACUTE + "/+", E_ACUTE + "/x"))]
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(50):
            for levels, n in cases:
                match_levels(levels, n)
        used = gc.mem_alloc() - before
    finally:
        gc.enable()
    assert used < 64, used  # nothing per call (a little slack for the loop itself)


def test_shared_parts():
    eq(shared_parts("$share/g/a/+"), ("g", "a/+"))
    eq(shared_parts("$share/group/#"), ("group", "#"))
    eq(shared_parts("$share/g/$SYS/#"), ("g", "$SYS/#"))
    eq(shared_parts("a/+"), (None, "a/+"))
    eq(shared_parts("$sharex/a"), (None, "$sharex/a"))
    eq(shared_parts("$SYS/#"), (None, "$SYS/#"))


def test_any_match():
    filters = ["sensors/+/temp", "cmd/#"]
    assert any_match(filters, "sensors/k1/temp")
    assert any_match(filters, "cmd")
    assert any_match(filters, "cmd/reboot/now")
    assert not any_match(filters, "sensors/k1/hum")
    assert not any_match([], "a")
    assert any_match(("#",), "a")
    assert not any_match(("#",), "$SYS/x")
    compiled = [compile_filter(f) for f in filters]
    assert any_match(compiled, "sensors/k1/temp")
    assert not any_match(compiled, "sensors/k1/hum")
    assert any_match(["x", compile_filter("cmd/#")], "cmd")


def test_long_topics_match():
    long_level = "é" * 20000
    eq(match("a/+/b", "a/" + long_level + "/b"), True)
    eq(match("a/+/b", "a/" + long_level + "/c"), False)
    eq(match(long_level + "/#", long_level), True)
    eq(match("#", long_level), True)


def test_long_topic_message_is_short():
    e = raises(ConnectorError, validate_name, "x" * 70000)
    assert len(e.message) < 120, len(e.message)
    assert e.message.endswith("...': topic longer than 65535 bytes"), e.message
    eq(len(e.details["topic"]), 70000)
