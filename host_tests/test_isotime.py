"""lgmqtt.isotime (written for MicroPython, which has no datetime) against CPython's
datetime on many random instants and strings."""
import datetime
import random

from lgmqtt.isotime import civil_from_days, days_from_civil, format_iso, parse_iso

UTC = datetime.timezone.utc
EPOCH = datetime.date(1970, 1, 1)


def test_days_round_trip_every_day_1900_2200():
    d = datetime.date(1900, 1, 1)
    n = (d - EPOCH).days
    end = datetime.date(2200, 1, 1)
    while d < end:
        assert civil_from_days(n) == (d.year, d.month, d.day)
        assert days_from_civil(d.year, d.month, d.day) == n
        d += datetime.timedelta(days=1)
        n += 1


def test_format_and_parse_match_datetime_on_random_instants():
    rng = random.Random(1)
    for _ in range(20000):
        t = rng.randrange(0, 2 ** 32) if rng.random() < 0.7 else rng.randrange(0, 253402300800)
        dt = datetime.datetime.fromtimestamp(t, UTC)
        s = format_iso(t)
        assert s == dt.strftime("%Y-%m-%dT%H:%M:%SZ"), t
        assert parse_iso(s) == t
        # Offsets and fractions, as datetime parses them.
        off = rng.randrange(-23 * 60, 23 * 60 + 1)
        local = dt.astimezone(datetime.timezone(datetime.timedelta(minutes=off)))
        frac = "" if rng.random() < 0.5 else ".%03d" % rng.randrange(1000)
        txt = local.strftime("%Y-%m-%dT%H:%M:%S") + frac + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
        if local.year < 1 or local.year > 9999:
            continue
        assert parse_iso(txt) == int(datetime.datetime.fromisoformat(txt).timestamp()), txt
