"""Property tests for lgmqtt.mqtt.topic (CPython only): match() against a reference written
straight from the spec on level lists, and validation against level-wise rules."""
from hypothesis import given, settings, strategies as st

from lgmqtt.errors import ConnectorError
from lgmqtt.mqtt.topic import compile_filter, match, match_levels, shared_parts, validate_filter, validate_name

# A small alphabet so that random filters and names collide often; '$' to exercise
# the $-topic rule, a non-ASCII char to exercise char indexing.
LEVEL = st.text(alphabet="ab$\u00e9", max_size=3)
NAME_LEVELS = st.lists(LEVEL, min_size=1, max_size=5)
FILTER_LEVEL = st.one_of(LEVEL, st.just("+"), st.just("#"))


def ref_match(filter_levels, name_levels):
    """MQTT 4.7 on lists of levels."""
    if name_levels[0].startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for i, f in enumerate(filter_levels):
        if f == "#":
            return True  # covers the parent too: "a/#" vs ["a"] reaches i == len(name)
        if i >= len(name_levels):
            return False
        if f != "+" and f != name_levels[i]:
            return False
    return len(filter_levels) == len(name_levels)


@st.composite
def filter_levels(draw):
    levels = draw(st.lists(FILTER_LEVEL, min_size=1, max_size=5))
    # '#' only as the last level
    if "#" in levels:
        levels = levels[: levels.index("#") + 1]
    return levels


def _name(levels):
    return "/".join(levels)


@settings(max_examples=3000, deadline=None)
@given(filter_levels(), NAME_LEVELS, st.booleans())
def test_match_equals_reference(flevels, nlevels, shared):
    name = _name(nlevels)
    filt = _name(flevels)
    if not name or not filt:
        return  # empty topics are invalid (and tested in test_topic.py)
    validate_name(name)
    validate_filter(filt)
    want = ref_match(flevels, nlevels)
    assert match(filt, name) == want, (filt, name)
    assert match_levels(compile_filter(filt), name) == want, (filt, name)
    if shared:
        sf = "$share/grp/" + filt
        validate_filter(sf)
        assert shared_parts(sf) == ("grp", filt)
        assert match(sf, name) == want, (sf, name)
        assert match_levels(compile_filter(sf), name) == want, (sf, name)


@settings(max_examples=2000, deadline=None)
@given(filter_levels(), NAME_LEVELS)
def test_name_built_from_filter_matches(flevels, nlevels):
    # Replace every wildcard by concrete levels: the result must match, unless the
    # $-rule forbids it.
    out = []
    for i, f in enumerate(flevels):
        if f == "+":
            out.append(nlevels[i % len(nlevels)])
        elif f == "#":
            out.extend(nlevels[: i % 3])
        else:
            out.append(f)
    if not out:
        out = [""]
    name = _name(out)
    filt = _name(flevels)
    if not name or not filt:
        return
    expect = not (name.startswith("$") and flevels[0] in ("+", "#"))
    assert match(filt, name) == expect, (filt, name)
    assert match_levels(compile_filter(filt), name) == expect, (filt, name)


def ref_filter_ok(filt):
    levels = filt.split("/")
    for i, lv in enumerate(levels):
        if "#" in lv and (lv != "#" or i != len(levels) - 1):
            return False
        if "+" in lv and lv != "+":
            return False
    return True


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="a/+#$\u00e9", min_size=1, max_size=12))
def test_validation_equals_reference(text):
    try:
        validate_filter(text)
        ok = True
    except ConnectorError:
        ok = False
    if text.startswith("$share/"):
        rest = text[7:]
        group, slash, inner = rest.partition("/")
        want = bool(group) and "+" not in group and "#" not in group and bool(slash) and bool(inner) and ref_filter_ok(inner)
    else:
        want = ref_filter_ok(text)
    assert ok == want, text
    try:
        validate_name(text)
        name_ok = True
    except ConnectorError:
        name_ok = False
    assert name_ok == ("+" not in text and "#" not in text), text
