"""Velero-exact schedule times.

Velero parses ``Schedule.spec.schedule`` with robfig/cron v3 ``ParseStandard`` and computes
the next run as ``Schedule.Next(status.lastBackup or metadata.creationTimestamp)``; a next
run already in the past means "run now" (missed runs are not caught up).

No Python cron library reproduces robfig exactly (its ``@every``, the ``CRON_TZ=``/``TZ=``
prefixes, its rejections, the dom/dow "star bit" rule, and the way its ``Next`` walks through
daylight-saving gaps and repeats), so this module re-implements robfig's parser and its
``SpecSchedule.Next`` search step by step, on integer Unix seconds, including Go's
``time.Date`` resolution of wall times that do not exist or exist twice.

Conventions:

* every datetime in and out is timezone-aware; results are in UTC;
* a schedule without a time-zone prefix runs in UTC (robfig uses the Velero server's local
  zone, which is UTC in Velero's images); ``TZ=Local`` and ``TZ=`` are therefore UTC too;
* robfig gives up when no activation is found within five years and returns Go's zero time;
  here ``next_after`` raises :class:`CronNeverFiresError` instead, and :func:`next_run` maps
  it to ``now`` because Velero treats the zero time as overdue and backs up at once.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from threading import Lock
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.core.gotext import GO_SPACE

__all__ = ["CronError", "CronNeverFiresError", "VeleroCron", "next_run", "parse_cron"]


class CronError(ValueError):
    """A schedule robfig/cron would reject, or one that can never fire."""


class CronNeverFiresError(CronError):
    """The schedule has no activation within robfig's five-year search horizon."""


class _Reject(Exception):
    """A parse failure without the expression; parse_cron adds it."""


class _Stuck(Exception):
    """The Next walk ran out of moves."""


# --------------------------------------------------------------------------- constants

_STAR = 1 << 63  # robfig's "star bit": set by `*` and `?`, cleared by a step > 1
_PLAIN = _STAR - 1  # the value bits of a field
_PREV_HORIZON = 5 * 366 * 86_400  # prev_at_or_before gives up beyond about five years
# Moves of the Next walk before giving up. A real five-year search needs under a thousand;
# robfig itself never returns in some exotic transitions (Pacific/Apia skipping 30 Dec 2011:
# its day step cannot get past the missing day), where this budget ends the walk instead.
_MAX_MOVES = 20_000
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_U63, _U64 = 1 << 63, 1 << 64
_SECOND_NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)  # noqa: DTZ001 - wall-clock arithmetic only
_EPOCH_ORDINAL = _EPOCH_NAIVE.toordinal()

_GO_FIELDS = re.compile("[" + re.escape(GO_SPACE) + "]+")
_ATOI = re.compile(r"([+-]?)([0-9]+)")  # strconv.Atoi: ASCII digits, optional sign


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: Mapping[str, int]


_MINUTE = _Field("minute", 0, 59, {})
_HOUR = _Field("hour", 0, 23, {})
_DOM = _Field("day-of-month", 1, 31, {})
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_MONTH = _Field("month", 1, 12, {n: i + 1 for i, n in enumerate(_MONTH_NAMES)})
_DOW = _Field("day-of-week", 0, 6, {n: i for i, n in enumerate(_DOW_NAMES)})
_FIELDS = (_MINUTE, _HOUR, _DOM, _MONTH, _DOW)


def _bits(low: int, high: int, step: int) -> int:
    out = 0
    for i in range(low, high + 1, step):
        out |= 1 << i
    return out


def _all(f: _Field) -> int:
    return _bits(f.low, f.high, 1) | _STAR


# --------------------------------------------------------------------------- zones


class _Zone:
    """Go's view of a location: wall clock of an instant, offsets, and ``time.Date``."""

    __slots__ = ("fixed", "tz")

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self.fixed = tz is UTC

    def wall(self, u: int) -> datetime:
        if self.fixed:
            return _EPOCH_NAIVE + timedelta(seconds=u)
        return datetime.fromtimestamp(u, self.tz)

    def offset(self, u: int) -> int:
        if self.fixed:
            return 0
        off = datetime.fromtimestamp(u, self.tz).utcoffset()
        assert off is not None
        return off.days * 86_400 + off.seconds

    def date(self, year: int, month: int, day: int, clock: int = 0) -> int:
        """Go's ``time.Date`` (``clock`` = seconds into the day): overflowing months and days
        carry over, then the wall time is resolved to an instant.

        Go takes the offset in force at (the wall time read as UTC) minus (the offset in force
        at that instant), which differs from Python's ``fold``: west of Greenwich a repeated
        time is its first occurrence and a skipped one lands before the gap (02:30 on a US
        spring-forward day is 01:30 standard time); east of Greenwich a repeated time is its
        second occurrence and a skipped one lands after the gap (02:30 in Berlin is 03:30).
        """
        year += (month - 1) // 12
        month = (month - 1) % 12 + 1
        local = (date(year, month, 1).toordinal() - _EPOCH_ORDINAL + day - 1) * 86_400 + clock
        if self.fixed:
            return local
        return local - self.offset(local - self.offset(local))


def _load_zone(name: str) -> tzinfo:
    # Go's LoadLocation: "" and "UTC" are UTC; "Local" is the server zone (UTC for Velero).
    if name in ("", "UTC", "Local"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise _Reject(f"unknown time zone {_quote(name)}") from exc


class _Spans:
    """Answers of ``prev_at_or_before`` as spans [activation, next activation) of Unix seconds.

    A plan asks for the window of every VM's last full; thousands of VMs share a few dozen
    windows, and each look-back and bisection costs a few dozen ``Next`` walks. Bounded, and locked because
    a parsed schedule may be shared between threads.
    """

    LIMIT = 4096

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._lock = Lock()

    def find(self, secs: int) -> int | None:
        with self._lock:
            i = bisect_right(self._starts, secs) - 1
            if i >= 0 and secs < self._ends[i]:
                return self._starts[i]
            return None

    def add(self, start: int, end: int) -> None:
        with self._lock:
            if len(self._starts) >= self.LIMIT:
                self._starts.clear()
                self._ends.clear()
            i = bisect_right(self._starts, start)
            if i and self._starts[i - 1] == start:
                return
            self._starts.insert(i, start)
            self._ends.insert(i, end)


# --------------------------------------------------------------------------- the schedule


@dataclass(frozen=True)
class VeleroCron:
    """A parsed Velero schedule: cron fields as robfig bit sets, or an ``@every`` delay.

    Each field holds bit ``n`` for each allowed value ``n``, plus robfig's star bit
    (``1 << 63``) where the field was ``*`` or ``?`` without a step > 1. ``location`` is the
    IANA zone of a ``CRON_TZ=``/``TZ=`` prefix, else "UTC". Build it with :func:`parse_cron`.
    """

    expr: str
    location: str = "UTC"
    every: timedelta | None = None  # @every: whole seconds, at least one
    minute: int = 0
    hour: int = 0
    dom: int = 0
    month: int = 0
    dow: int = 0
    _zone: _Zone = field(init=False, repr=False, compare=False)
    _spans: _Spans = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = _load_zone(self.location)
        except _Reject as exc:
            raise CronError(f"schedule {_quote(self.expr)}: {exc}") from None
        object.__setattr__(self, "_zone", _Zone(zone))
        object.__setattr__(self, "_spans", _Spans())

    def local_date(self, t: datetime) -> date | None:
        """The calendar date of the instant ``t`` on this schedule's wall clock (its ``location``).

        None past the year 9999 there (an instant late on 9999-12-31 UTC, east of Greenwich).
        """
        try:
            return t.astimezone(self._zone.tz).date()
        except OverflowError:
            return None

    def is_every(self) -> bool:
        """True for ``@every <duration>`` schedules (a constant delay, no fixed grid)."""
        return self.every is not None

    def next_after(self, t: datetime) -> datetime:
        """robfig's ``Schedule.Next(t)``: the first activation strictly after ``t``, in UTC.

        Raises :class:`CronNeverFiresError` where robfig returns the zero time (nothing within
        five years, e.g. ``0 0 30 2 *``).
        """
        secs, _ = _unix(t)
        try:
            if self.every is not None:
                # ConstantDelaySchedule.Next: t + delay - t.Nanosecond()
                return _from_unix(secs + _whole_seconds(self.every))
            return _from_unix(self._next(secs + 1))
        except CronError:
            raise
        except (OverflowError, ValueError, OSError) as exc:
            raise CronNeverFiresError(
                f"schedule {_quote(self.expr)}: no representable activation after {t.isoformat()}"
            ) from exc

    def prev_at_or_before(self, t: datetime, *, anchor: datetime | None = None) -> datetime | None:
        """The latest activation at or before ``t`` (UTC), or None if none within ~5 years.

        ``@every`` has no fixed grid: its activations are ``anchor + k * delay`` for integer
        ``k`` (the anchor is the schedule's lastBackup or creation time, its sub-second part
        dropped as robfig does); without an anchor ``t`` itself is returned. Cron schedules
        widen a look-back window (1 h, 2 h, 4 h, ...) until an activation falls inside, then
        bisect on robfig's ``Next``, which is monotone, to find the last one.
        """
        secs, micros = _unix(t)
        if self.every is not None:
            if anchor is None:
                return t.astimezone(UTC)
            base, _ = _unix(anchor)
            step = _whole_seconds(self.every) * 1_000_000
            k = ((secs - base) * 1_000_000 + micros) // step
            try:
                return _from_unix(base) + timedelta(microseconds=k * step)
            except OverflowError:  # t near year 1 (an index may say 0000-01-01): none representable
                return None

        cached = self._spans.find(secs)
        if cached is not None:
            return _from_unix(cached)
        window = 3_600
        while True:
            lo = secs - window
            found = self._next_or_none(lo)
            if found is not None and found <= secs:
                break
            if window >= _PREV_HORIZON:
                return None
            window = min(window * 2, _PREV_HORIZON)
        # Invariant: Next(lo) == found <= secs < Next(hi). When lo and hi are adjacent,
        # `found` is the latest activation at or before secs.
        hi = secs
        while hi - lo > 1:
            mid = (lo + hi) // 2
            probe = self._next_or_none(mid)
            if probe is not None and probe <= secs:
                lo, found = mid, probe
            else:
                hi = mid
        # Every t from `found` up to the next activation has this answer, within the horizon.
        following = self._next_or_none(found)
        horizon = found + _PREV_HORIZON
        self._spans.add(found, horizon if following is None else min(following, horizon))
        return _from_unix(found)

    def _next_or_none(self, s: int) -> int | None:
        try:
            return self._next(s + 1)
        except (CronError, OverflowError, ValueError, OSError):
            return None

    def _next(self, start: int) -> int:
        """robfig's ``SpecSchedule.Next`` on Unix seconds; ``start`` is "the upcoming second".

        Each pass is robfig's ``WRAP`` label: fields are checked from month down to second; a
        field that does not match is stepped (month and day by calendar arithmetic, hour,
        minute and second by elapsed time), and stepping past the field's wrap point starts a
        new pass. The first field that moves also resets the smaller ones to their minimum.
        """
        if self._cannot_match():
            raise CronNeverFiresError(f"schedule {_quote(self.expr)}: never fires")
        walk = _Walk(self._zone, start)
        year_limit = walk.w.year + 5
        try:
            while walk.w.year <= year_limit:
                if (
                    self._month_wraps(walk)
                    or self._day_wraps(walk)
                    or self._hour_wraps(walk)
                    or self._minute_wraps(walk)
                    or _second_wraps(walk)
                ):
                    continue
                return walk.u
        except _Stuck:
            raise CronNeverFiresError(
                f"schedule {_quote(self.expr)}: never fires (robfig's search does not end)"
            ) from None
        raise CronNeverFiresError(f"schedule {_quote(self.expr)}: never fires within five years")

    def _month_wraps(self, walk: _Walk) -> bool:
        while not (self.month >> walk.w.month) & 1:
            if walk.first_move():
                walk.to(walk.zone.date(walk.w.year, walk.w.month, 1))
            w = walk.w
            walk.to(walk.zone.date(w.year, w.month + 1, w.day, _clock(w)))  # AddDate(0, 1, 0)
            if walk.w.month == 1:
                return True
        return False

    def _day_wraps(self, walk: _Walk) -> bool:
        while not self._day_matches(walk.w):
            if walk.first_move():
                walk.to(walk.zone.date(walk.w.year, walk.w.month, walk.w.day))
            w = walk.w
            walk.to(walk.zone.date(w.year, w.month, w.day + 1, _clock(w)))  # AddDate(0, 0, 1)
            # robfig: when DST moved midnight, go to the nearest hour 0 in elapsed time
            # (23:00 -> +1 h, 01:00 -> -1 h).
            hour = walk.w.hour
            if hour != 0:
                walk.to(walk.u + ((24 - hour) if hour > 12 else -hour) * 3_600)
            if walk.w.day == 1:
                return True
        return False

    def _hour_wraps(self, walk: _Walk) -> bool:
        while not (self.hour >> walk.w.hour) & 1:
            if walk.first_move():
                w = walk.w
                walk.to(walk.zone.date(w.year, w.month, w.day, w.hour * 3_600))
            walk.to(walk.u + 3_600)
            if walk.w.hour == 0:
                return True
        return False

    def _minute_wraps(self, walk: _Walk) -> bool:
        while not (self.minute >> walk.w.minute) & 1:
            if walk.first_move():
                walk.to(walk.u - walk.u % 60)  # Truncate(time.Minute) works on absolute time
            # robfig steps one minute at a time to the next allowed minute or to :00 (a wrap).
            m = walk.w.minute + 1
            while m < 60 and not (self.minute >> m) & 1:
                m += 1
            walk.advance(60, m - walk.w.minute)
            if walk.w.minute == 0:
                return True
        return False

    def _day_matches(self, w: datetime) -> bool:
        dom_ok = (self.dom >> w.day) & 1 == 1
        dow_ok = (self.dow >> ((w.weekday() + 1) % 7)) & 1 == 1  # Go: Sunday = 0
        if (self.dom | self.dow) & _STAR:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def _cannot_match(self) -> bool:
        # A field can be empty only through commas alone (","): robfig accepts that and then
        # searches for five years in vain; answer at once.
        if not (self.minute & _PLAIN and self.hour & _PLAIN and self.month & _PLAIN):
            return True
        dom, dow = self.dom & _PLAIN, self.dow & _PLAIN
        if (self.dom | self.dow) & _STAR:
            return not (dom and dow)
        return not (dom or dow)


class _Walk:
    """The time robfig's ``Next`` is moving: an instant, its wall clock, and robfig's
    ``added`` flag (whether some field has already moved)."""

    __slots__ = ("added", "moves", "u", "w", "zone")

    def __init__(self, zone: _Zone, u: int) -> None:
        self.zone = zone
        self.added = False
        self.moves = 0
        self.to(u)

    def to(self, u: int) -> None:
        self.moves += 1
        if self.moves > _MAX_MOVES:
            raise _Stuck
        self.u = u
        self.w = self.zone.wall(u)

    def first_move(self) -> bool:
        """Set robfig's ``added`` flag; True the first time only."""
        first = not self.added
        self.added = True
        return first

    def advance(self, unit: int, count: int) -> None:
        """``count`` steps of ``unit`` seconds at once when the zone offset is the same at both
        ends (exactly where robfig's one-step loop arrives); else one step, so that the loop
        looks at the wall clock again."""
        target = self.u + unit * count
        if not self.zone.fixed and self.zone.offset(self.u) != self.zone.offset(target):
            target = self.u + unit
        self.to(target)


def _second_wraps(walk: _Walk) -> bool:
    # Five-field specs always have second = {0}: robfig steps a second at a time to :00 and
    # then always wraps.
    while walk.w.second != 0:
        walk.first_move()
        walk.advance(1, 60 - walk.w.second)
        if walk.w.second == 0:
            return True
    return False


def _clock(w: datetime) -> int:
    return w.hour * 3_600 + w.minute * 60 + w.second


def _whole_seconds(d: timedelta) -> int:
    return d.days * 86_400 + d.seconds


def _unix(t: datetime) -> tuple[int, int]:
    """(whole seconds, microseconds) since the Unix epoch, flooring like Go's Unix()."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"datetime {t.isoformat()} must be timezone-aware")
    d = t - _EPOCH
    return d.days * 86_400 + d.seconds, d.microseconds


def _from_unix(secs: int) -> datetime:
    return _EPOCH + timedelta(seconds=secs)


# --------------------------------------------------------------------------- parsing


def parse_cron(expr: str) -> VeleroCron:
    """Parse a Velero ``spec.schedule`` exactly as robfig/cron v3 ``ParseStandard`` does.

    Accepts five fields (minute hour day-of-month month day-of-week), the descriptors
    ``@yearly @annually @monthly @weekly @daily @midnight @hourly @every <Go duration>``, and
    an optional ``CRON_TZ=<zone> `` or ``TZ=<zone> `` prefix. Raises :class:`CronError` naming
    the expression and the reason for anything robfig rejects.
    """
    try:
        return _parse(expr)
    except _Reject as exc:
        raise CronError(f"schedule {_quote(expr)}: {exc}") from None


def _parse(expr: str) -> VeleroCron:
    spec = expr
    if not spec:
        raise _Reject("empty spec")

    location = "UTC"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        if space < 0:  # robfig slices to index -1 and panics; Velero reports the panic
            raise _Reject("time zone prefix must be followed by a space and a schedule")
        name = spec[spec.find("=") + 1 : space]
        _load_zone(name)
        location = "UTC" if name in ("", "Local") else name
        spec = spec[space:].strip(GO_SPACE)

    if spec.startswith("@"):
        return _descriptor(expr, spec, location)

    fields = [f for f in _GO_FIELDS.split(spec) if f]
    if len(fields) != 5:
        raise _Reject(f"expected exactly 5 fields, found {len(fields)}")
    minute, hour, dom, month, dow = (
        _parse_field(text, f) for text, f in zip(fields, _FIELDS, strict=True)
    )
    return VeleroCron(
        expr=expr, location=location, minute=minute, hour=hour, dom=dom, month=month, dow=dow
    )


def _descriptor(expr: str, spec: str, location: str) -> VeleroCron:
    zero, day1, jan, sunday = 1 << 0, 1 << _DOM.low, 1 << _MONTH.low, 1 << _DOW.low
    any_dom, any_month, any_dow = _all(_DOM), _all(_MONTH), _all(_DOW)
    table = {  # (minute, hour, dom, month, dow) as robfig's parseDescriptor sets them
        "@yearly": (zero, zero, day1, jan, any_dow),
        "@annually": (zero, zero, day1, jan, any_dow),
        "@monthly": (zero, zero, day1, any_month, any_dow),
        "@weekly": (zero, zero, any_dom, any_month, sunday),
        "@daily": (zero, zero, any_dom, any_month, any_dow),
        "@midnight": (zero, zero, any_dom, any_month, any_dow),
        "@hourly": (zero, _all(_HOUR), any_dom, any_month, any_dow),
    }
    if spec in table:
        minute, hour, dom, month, dow = table[spec]
        return VeleroCron(
            expr=expr, location=location, minute=minute, hour=hour, dom=dom, month=month, dow=dow
        )
    prefix = "@every "
    if spec.startswith(prefix):
        text = spec[len(prefix) :]
        try:
            nanos = _go_parse_duration(text)
        except ValueError as exc:
            raise _Reject(f"invalid duration {_quote(text)}: {exc}") from None
        # cron.Every: under a second becomes one second; the sub-second part is dropped.
        seconds = max(nanos, _SECOND_NS) // _SECOND_NS
        return VeleroCron(expr=expr, location=location, every=timedelta(seconds=seconds))
    raise _Reject(f"unrecognized descriptor {_quote(spec)}")


def _parse_field(text: str, f: _Field) -> int:
    """A comma-separated list of ranges; empty items between commas are skipped."""
    bits = 0
    for item in text.split(","):
        if item:
            bits |= _parse_range(item, f)
    return bits


def _parse_range(item: str, f: _Field) -> int:
    """``*``, ``?``, ``N`` or ``N-M``, optionally ``/step``; ``N/step`` means ``N-max/step``."""
    range_and_step = item.split("/")
    low_high = range_and_step[0].split("-")
    extra = 0
    if low_high[0] in ("*", "?"):
        start, end, extra = f.low, f.high, _STAR  # robfig ignores a "-..." after "*"
    else:
        start = _int_or_name(low_high[0], item, f)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], item, f)
        else:
            raise _Reject(f"{f.name} {_quote(item)} has too many hyphens")

    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1], item, f"{f.name} step")
        if len(low_high) == 1:
            end = f.high
        if step > 1:
            extra = 0
    else:
        raise _Reject(f"{f.name} {_quote(item)} has too many slashes")

    if start < f.low:
        raise _Reject(f"{f.name} {start} out of range {f.low}-{f.high}")
    if end > f.high:
        raise _Reject(f"{f.name} {end} out of range {f.low}-{f.high}")
    if start > end:
        raise _Reject(f"{f.name} range {_quote(item)} starts after it ends")
    if step == 0:
        raise _Reject(f"{f.name} step 0 in {_quote(item)} must be positive")
    return _bits(start, end, step) | extra


def _int_or_name(token: str, item: str, f: _Field) -> int:
    # Go's strings.ToLower maps U+0130 to a plain "i"; Python's lower() adds a combining dot.
    named = f.names.get(token.replace("\u0130", "i").lower())
    if named is not None:
        return named
    return _atoi(token, item, f.name, kind="a number or a name" if f.names else "a number")


def _atoi(token: str, item: str, what: str, *, kind: str = "a number") -> int:
    """strconv.Atoi (64-bit) followed by robfig's non-negative check."""
    where = "" if token == item else f" in {_quote(item)}"
    m = _ATOI.fullmatch(token)
    digits = m.group(2).lstrip("0") if m else ""
    if (
        m is None
        or len(digits) > 19
        or not _INT64_MIN <= int(m.group(1) + (digits or "0")) <= _INT64_MAX
    ):
        raise _Reject(f"{what} {_quote(token)}{where} is not {kind}")
    value = int(m.group(1) + (digits or "0"))
    if value < 0:
        raise _Reject(f"{what} {value}{where} is negative")
    return value


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --------------------------------------------------------------------------- Go durations

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


def _go_parse_duration(text: str) -> int:
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
            raise ValueError(f"unknown unit {_quote(rest[:i].decode('utf-8', 'replace'))}")
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


# --------------------------------------------------------------------------- Velero


def next_run(
    cron: VeleroCron,
    *,
    last_backup: datetime | None,
    created: datetime | None,
    now: datetime,
    paused: bool,
    last_skipped: datetime | None = None,
) -> datetime | None:
    """When Velero's schedule controller next creates a backup, in UTC.

    None if paused or without a reference time. Otherwise ``Next(ref)``, ref being lastBackup,
    else the creation time (a later ``status.lastSkipped`` wins, as in Velero's
    ``getNextRunTime`` since skipImmediately exists). A time already past, or a schedule that
    never fires (robfig's zero time, which Velero also sees as past), means the backup runs at
    once: ``now``.
    """
    if paused:
        return None
    ref = last_backup if last_backup is not None else created
    if last_skipped is not None and (ref is None or last_skipped > ref):
        ref = last_skipped
    if ref is None:
        return None
    current = now.astimezone(UTC)
    try:
        upcoming = cron.next_after(ref)
    except CronNeverFiresError:
        return current
    return max(upcoming, current)
