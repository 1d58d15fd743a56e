"""Go's text forms that the controller's decoders and Velero's cron parser accept: ``strconv.ParseInt``
(base 10, and base 0 as the ``flag`` package reads an int flag), ``time.Time``'s JSON form,
``resource.Quantity``'s, ``time.ParseDuration``, plus ``unicode.IsSpace``. Pure ports for acceptance
and value.

Shared by the exact index decoder, its fast path and the cron parser, so each rule lives once.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from re import compile
from typing import Final

__all__ = ["GO_SPACE", "go_duration", "go_quote", "go_time", "int64", "int64_base0", "is_quantity"]

# Go's unicode.IsSpace, used by strings.Fields / strings.TrimSpace (narrower than str.isspace).
GO_SPACE: Final = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)


_PARSE_INT = compile(r"[+-]?[0-9]+")  # strconv.ParseInt(s, 10, 64) syntax
_INT64_MAX: Final = (1 << 63) - 1
_U63: Final = 1 << 63
_U64: Final = 1 << 64
_SECOND_NS: Final = 1_000_000_000


def go_quote(s: str) -> str:
    """`s` in double quotes, backslashes and quotes escaped, as Go's error messages show a value."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64); None where Go returns an error."""
    if _PARSE_INT.fullmatch(text) is None or len(text.lstrip("+-").lstrip("0")) > 19:
        return None
    n = int(text)
    return n if -(1 << 63) <= n < (1 << 63) else None


_PREFIXES: Final = {"b": 2, "o": 8, "x": 16}


def int64_base0(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), how Go's `flag` package reads an int flag; None on Go's error.

    Base from the prefix (0b, 0o, 0x, or a leading 0 for octal), else 10; underscores only between
    digits (or after a prefix), as strconv's underscoreOK allows them with base 0.
    """
    s = text[1:] if text[:1] in ("+", "-") else text
    if not s:
        return None
    base, digits = 10, s
    if len(s) >= 3 and s[0] == "0" and s[1].lower() in _PREFIXES:
        base, digits = _PREFIXES[s[1].lower()], s[2:]
    elif s[0] == "0":
        base, digits = 8, s[1:]
    n, underscores = 0, False
    for c in digits:
        if c == "_":
            underscores = True
            continue
        if not (c.isascii() and c.isalnum()) or int(c, 36) >= base:
            return None
        n = n * base + int(c, 36)
    if underscores and not _underscore_ok(text):
        return None
    n = -n if text[0] == "-" else n
    return n if -(1 << 63) <= n < (1 << 63) else None


def _underscore_ok(s: str) -> bool:
    """strconv.underscoreOK: every '_' sits between two digits (a base prefix counts as a digit)."""
    s = s[1:] if s[:1] in ("+", "-") else s
    saw, i, hexa = "^", 0, False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i, saw, hexa = 2, "0", s[1].lower() == "x"
    for c in s[i:]:
        if "0" <= c <= "9" or (hexa and "a" <= c.lower() <= "f"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        elif saw == "_":
            return False
        else:
            saw = "!"
    return saw != "_"


# -------------------------------------------------------------------------------- time.Time
# Time.UnmarshalJSON (Go >= 1.20) strips the quotes of the raw JSON and calls parseStrictRFC3339.
# Its strict checks are disabled upstream (`case true: return t, nil`, go.dev/issue/54580), so
# what it accepts is what time.Parse(time.RFC3339, s) accepts: a one- or two-digit hour, a
# fraction after '.' or ',', and an offset up to +24:60, besides the strict RFC 3339 forms.

_TIME = compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2}):([0-9]{2}):([0-9]{2})"
    r"(?:[.,]([0-9]+))?(?:Z|([-+])([0-9]{2}):([0-9]{2}))"
)
_DAYS_BEFORE_MONTH: Final = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_DAYS_IN_MONTH: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MIN: Final = datetime.min.replace(tzinfo=UTC)  # also the instant of Go's zero time
_MAX: Final = datetime.max.replace(tzinfo=UTC)
_MAX_SECONDS: Final = (_MAX - _MIN) // timedelta(seconds=1)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in(month: int, year: int) -> int:
    return 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month]


# What the controller writes: whole seconds in UTC. datetime's C parser reads that shape about
# ten times faster than the general port; whatever it refuses (year 0000, day 31 of a 30-day
# month, hour 24, ...) takes the general port, so only the speed differs.
_WHOLE_SECONDS_UTC = compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def go_time(s: str) -> datetime | None:
    """The instant Go parses `s` as, in UTC; None for Go's zero time; ValueError where Go fails."""
    if len(s) == 20 and _WHOLE_SECONDS_UTC.fullmatch(s):
        with suppress(ValueError):
            t = datetime.fromisoformat(s)
            return None if t == _MIN else t
    return _go_time_general(s)


def _go_time_general(s: str) -> datetime | None:
    match = _TIME.fullmatch(s)
    if match is None:
        raise ValueError(s)
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, sign, offset_hours, offset_minutes = match.groups()[6:]
    if not (1 <= month <= 12 and 1 <= day <= _days_in(month, year)):
        raise ValueError(s)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(s)
    offset = 0
    if sign is not None:
        if int(offset_hours) > 24 or int(offset_minutes) > 60:
            raise ValueError(s)
        offset = (int(offset_hours) * 60 + int(offset_minutes)) * 60 * (-1 if sign == "-" else 1)
    nanos = int((fraction or "")[:9].ljust(9, "0"))
    y = year - 1  # days from 0001-01-01, proleptic Gregorian; year 0000 gives a negative count
    days = y * 365 + y // 4 - y // 100 + y // 400 + _DAYS_BEFORE_MONTH[month] + day - 1
    days += 1 if month > 2 and _is_leap(year) else 0
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    if seconds == 0 and nanos == 0:
        return None  # Go's zero time: IsZero() is true
    if seconds < 0:
        return _MIN
    if seconds > _MAX_SECONDS:
        return _MAX
    return _MIN + timedelta(seconds=seconds, microseconds=nanos // 1000)


# -------------------------------------------------------------------------- resource.Quantity
# Quantity.UnmarshalJSON: null is zero; otherwise the raw JSON text, without its quotes if it
# has them, trimmed by strings.TrimSpace, must pass ParseQuantity. Ported for acceptance only.

_DECIMAL_SUFFIXES: Final = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_BINARY_SUFFIXES: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_SUFFIX_CHARS: Final = frozenset("eEinumkKMGTP")


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def _int32(n: int) -> int:
    return (n + (1 << 31)) % (1 << 32) - (1 << 31)


def _split_quantity(s: str) -> tuple[str, str, str, str] | None:
    """parseQuantityString: (value, num, denom, suffix), or None for ErrFormatWrong."""
    end = len(s)
    pos = 1 if s[0] in "+-" else 0
    while pos < end and s[pos] == "0":  # leading zeros
        pos += 1
    if pos >= end:
        return "0", "0", "", ""
    i = pos
    while i < end and _is_digit(s[i]):
        i += 1
    if i >= end:
        return s, s[pos:], "", ""
    num, pos = s[pos:i] or "0", i
    denom = ""
    if s[pos] == ".":
        pos = i = pos + 1
        while i < end and _is_digit(s[i]):
            i += 1
        denom = s[pos:i]
        if i >= end:
            return s, num, denom, ""
        pos = i
    value = s[:pos]
    i = pos
    while i < end and s[i] in _SUFFIX_CHARS:
        i += 1
    if i < end:
        if s[i] in "+-":
            i += 1
        while i < end and _is_digit(s[i]):
            i += 1
        if i < end:
            return None
    return value, num, denom, s[pos:]


def is_quantity(s: str) -> bool:
    """Whether resource.ParseQuantity(s) succeeds."""
    if not s:
        return False
    parts = _split_quantity(s)
    if parts is None:
        return False
    value, num, denom, suffix = parts
    if suffix in _DECIMAL_SUFFIXES or (suffix not in _BINARY_SUFFIXES and suffix[:1] in ("e", "E")):
        if suffix in _DECIMAL_SUFFIXES:
            exponent = _DECIMAL_SUFFIXES[suffix]
        else:
            parsed = int64(suffix[1:]) if len(suffix) > 1 else None
            if parsed is None:
                return False
            exponent = _int32(parsed)
        # The int64 fast path succeeds whenever it is taken ...
        fast = 18 - len(num) - len(denom) >= 0 and _int32(exponent - len(denom)) >= -9
    elif suffix in _BINARY_SUFFIXES:
        exponent = _BINARY_SUFFIXES[suffix]
        fast = not denom and 15 - len(num) - exponent * 3 // 10 - 1 >= 0
    else:
        return False
    # ... and otherwise inf.Dec.SetString(value) must find at least one digit.
    return fast or any(_is_digit(c) for c in value)


# ------------------------------------------------------------------------ time.ParseDuration

_UNIT_NS = {
    b"ns": 1,
    b"us": 1_000,
    "\u00b5s".encode(): 1_000,  # micro sign
    "\u03bcs".encode(): 1_000,  # Greek mu
    b"ms": 1_000_000,
    b"s": _SECOND_NS,
    b"m": 60 * _SECOND_NS,
    b"h": 3_600 * _SECOND_NS,
}
_DIGITS = frozenset(b"0123456789")
_DOT = ord(".")


def go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds, byte by byte with Go's int64 limits.

    Grammar: ``[-+]?([0-9]*(\\.[0-9]*)?unit)+`` with units ns, us, µs, μs, ms, s, m, h, or a
    bare (optionally signed) "0". No days, no spaces.
    """
    s = text.encode("utf-8", "surrogatepass")
    neg = s[:1] == b"-"
    if s[:1] in (b"-", b"+"):
        s = s[1:]
    if s == b"0":
        return 0
    if not s:
        raise ValueError("no number")
    total = 0
    while s:
        if s[0] not in _DIGITS and s[0] != _DOT:
            raise ValueError("expected a number")
        whole, rest = _leading_int(s)
        frac, scale, digits_after = 0, 1.0, False
        if rest[:1] == b".":
            frac, scale, after = _leading_fraction(rest[1:])
            digits_after = len(after) < len(rest) - 1
            rest = after
        if not digits_after and whole is None:
            raise ValueError("no digits")
        i = 0
        while i < len(rest) and rest[i] not in _DIGITS and rest[i] != _DOT:
            i += 1
        if i == 0:
            raise ValueError("missing unit")
        unit = _UNIT_NS.get(rest[:i])
        if unit is None:
            raise ValueError(f"unknown unit {go_quote(rest[:i].decode('utf-8', 'replace'))}")
        s = rest[i:]
        value = whole or 0
        if value > _U63 // unit:
            raise ValueError("duration too large")
        value *= unit
        if frac > 0:
            value += int(float(frac) * (float(unit) / scale))
            if value > _U63:
                raise ValueError("duration too large")
        total = (total + value) % _U64  # uint64 addition, wrap-around included
        if total > _U63:
            raise ValueError("duration too large")
    if neg:
        return -total
    if total > _INT64_MAX:
        raise ValueError("duration too large")
    return total


def _leading_int(s: bytes) -> tuple[int | None, bytes]:
    """Leading decimal digits as an integer (None if there are none); fails past 2**63."""
    i, x = 0, 0
    while i < len(s) and s[i] in _DIGITS:
        if x > _U63 // 10:
            raise ValueError("number too large")
        x = x * 10 + s[i] - 48
        if x > _U63:
            raise ValueError("number too large")
        i += 1
    return (x if i else None), s[i:]


def _leading_fraction(s: bytes) -> tuple[int, float, bytes]:
    """Digits after the point as (numerator, scale); past int64, further digits are consumed
    but no longer add precision (Go does not fail there)."""
    i, x, scale, overflow = 0, 0, 1.0, False
    while i < len(s) and s[i] in _DIGITS:
        if not overflow:
            grown = x * 10 + s[i] - 48
            if x > _INT64_MAX // 10 or grown > _U63:
                overflow = True
            else:
                x, scale = grown, scale * 10
        i += 1
    return x, scale, s[i:]
