# ISO-8601 UTC timestamps <-> seconds since 1970, without datetime (MicroPython has
# none). Calendar arithmetic after Howard Hinnant's days_from_civil / civil_from_days
# (proleptic Gregorian, exact for every day of 1970..9999).
#
#   format_iso(1705276800)            -> "2024-01-15T00:00:00Z"
#   parse_iso("2024-01-15T00:00:00Z") -> 1705276800
#
# parse_iso accepts "YYYY-MM-DD", then optionally "THH:MM", ":SS", a fraction ".fff"
# (dropped: the log keeps whole seconds), and a zone "Z", "+HH:MM", "-HH:MM" or "+HHMM"
# (none means UTC). Space instead of "T" is accepted. Anything else is ValueError.


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of the proleptic Gregorian date y-m-d."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(y, m, d) of the day z days after 1970-01-01."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (m <= 2), m, d


def format_iso(t):
    """Seconds since 1970 (int) -> "YYYY-MM-DDTHH:MM:SSZ"."""
    t = int(t)
    days, s = divmod(t, 86400)
    y, m, d = civil_from_days(days)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, s // 3600, s // 60 % 60, s % 60)


def _num(s, a, b, lo, hi):
    if len(s) < b:
        raise ValueError("ISO-8601 time too short: %r" % s)
    part = s[a:b]
    for c in part:
        if not "0" <= c <= "9":
            raise ValueError("not a number at %d in %r" % (a, s))
    v = int(part)
    if not lo <= v <= hi:
        raise ValueError("field out of range at %d in %r" % (a, s))
    return v


_MDAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def parse_iso(s):
    """ISO-8601 date-time (see the header) -> seconds since 1970, UTC (int)."""
    if not isinstance(s, str):
        raise ValueError("ISO-8601 time must be a str")
    y = _num(s, 0, 4, 0, 9999)
    if len(s) < 10 or s[4] != "-" or s[7] != "-":
        raise ValueError("expected YYYY-MM-DD in %r" % s)
    mo = _num(s, 5, 7, 1, 12)
    d = _num(s, 8, 10, 1, _MDAYS[mo - 1])
    if mo == 2 and d == 29 and (y % 4 or (y % 100 == 0 and y % 400)):
        raise ValueError("no February 29 in %d" % y)
    t = days_from_civil(y, mo, d) * 86400
    p = 10
    n = len(s)
    if p < n and s[p] in "T t":
        if n < p + 6 or s[p + 3] != ":":
            raise ValueError("expected THH:MM in %r" % s)
        t += _num(s, p + 1, p + 3, 0, 23) * 3600 + _num(s, p + 4, p + 6, 0, 59) * 60
        p += 6
        if p < n and s[p] == ":":
            t += _num(s, p + 1, p + 3, 0, 60)  # 60: a leap second, folded forward
            p += 3
            if p < n and s[p] in ".,":
                p += 1
                q = p
                while p < n and "0" <= s[p] <= "9":
                    p += 1
                if p == q:
                    raise ValueError("empty fraction in %r" % s)
    if p < n:
        z = s[p]
        if z in "Zz" and p + 1 == n:
            p = n
        elif z in "+-":
            hh = _num(s, p + 1, p + 3, 0, 23)
            q = p + 3
            if q < n and s[q] == ":":
                q += 1
            mm = _num(s, q, q + 2, 0, 59)
            if q + 2 != n:
                raise ValueError("trailing text in %r" % s)
            off = hh * 3600 + mm * 60
            t += -off if z == "+" else off
            p = n
        else:
            raise ValueError("unexpected %r in %r" % (z, s))
    return t
