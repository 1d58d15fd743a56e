"""Velero-exact schedule times.

Velero parses ``Schedule.spec.schedule`` with robfig/cron v3 ``ParseStandard`` and computes
the next run as ``Schedule.Next(status.lastBackup or metadata.creationTimestamp)``; a next
run already in the past means "run now" (missed runs are not caught up).

No Python cron library reproduces robfig exactly (its ``@every``, the ``CRON_TZ=``/``TZ=``
prefixes, its rejections, the dom/dow "star bit" rule, and the way its ``Next`` walks through
daylight-saving gaps and repeats), so robfig is re-implemented: its parser in ``cronparse``, and
here its ``SpecSchedule.Next`` search step by step, on integer Unix seconds, with Go's
``time.Date`` resolution of wall times that do not exist or exist twice (``gotime``).

Conventions:

* every datetime in and out is timezone-aware; results are in UTC;
* a schedule without a time-zone prefix runs in UTC (robfig uses the Velero server's local
  zone, which is UTC in Velero's images); ``TZ=Local`` and ``TZ=`` are therefore UTC too;
* robfig gives up when no activation is found within five years and returns Go's zero time;
  here ``next_after`` raises :class:`CronNeverFiresError` instead, and :func:`next_run` maps
  it to ``now`` because Velero treats the zero time as overdue and backs up at once.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from threading import Lock

from reconciler.core.cronparse import PLAIN, STAR, CronError, parse_spec
from reconciler.core.gotext import go_quote
from reconciler.core.gotime import UnknownZoneError, Zone, clock, from_unix, load_location, unix, whole_seconds

__all__ = ["CronError", "CronNeverFiresError", "VeleroCron", "next_run", "parse_cron"]


class CronNeverFiresError(CronError):
    """The schedule has no activation within robfig's five-year search horizon."""


class _Stuck(Exception):
    """The Next walk ran out of moves."""


# --------------------------------------------------------------------------- constants

_PREV_HORIZON = 5 * 366 * 86_400  # prev_at_or_before gives up beyond about five years
# Moves of the Next walk before giving up. A real five-year search needs under a thousand;
# robfig itself never returns in some exotic transitions (Pacific/Apia skipping 30 Dec 2011:
# its day step cannot get past the missing day), where this budget ends the walk instead.
_MAX_MOVES = 20_000


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
    _zone: Zone = field(init=False, repr=False, compare=False)
    _spans: _Spans = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = load_location(self.location)
        except UnknownZoneError as exc:
            raise CronError(f"schedule {go_quote(self.expr)}: {exc}") from None
        object.__setattr__(self, "_zone", Zone(zone))
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
        secs, _ = unix(t)
        try:
            if self.every is not None:
                # ConstantDelaySchedule.Next: t + delay - t.Nanosecond()
                return from_unix(secs + whole_seconds(self.every))
            return from_unix(self._next(secs + 1))
        except CronError:
            raise
        except (OverflowError, ValueError, OSError) as exc:
            raise CronNeverFiresError(
                f"schedule {go_quote(self.expr)}: no representable activation after {t.isoformat()}"
            ) from exc

    def prev_at_or_before(self, t: datetime, *, anchor: datetime | None = None) -> datetime | None:
        """The latest activation at or before ``t`` (UTC), or None if none within ~5 years.

        ``@every`` has no fixed grid: its activations are ``anchor + k * delay`` for integer
        ``k`` (the anchor is the schedule's lastBackup or creation time, its sub-second part
        dropped as robfig does); without an anchor ``t`` itself is returned. Cron schedules
        widen a look-back window (1 h, 2 h, 4 h, ...) until an activation falls inside, then
        bisect on robfig's ``Next``, which is monotone, to find the last one.
        """
        secs, micros = unix(t)
        if self.every is not None:
            if anchor is None:
                return t.astimezone(UTC)
            base, _ = unix(anchor)
            step = whole_seconds(self.every) * 1_000_000
            k = ((secs - base) * 1_000_000 + micros) // step
            try:
                return from_unix(base) + timedelta(microseconds=k * step)
            except OverflowError:  # t near year 1 (an index may say 0000-01-01): none representable
                return None

        cached = self._spans.find(secs)
        if cached is not None:
            return from_unix(cached)
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
        return from_unix(found)

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
            raise CronNeverFiresError(f"schedule {go_quote(self.expr)}: never fires")
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
                f"schedule {go_quote(self.expr)}: never fires (robfig's search does not end)"
            ) from None
        raise CronNeverFiresError(f"schedule {go_quote(self.expr)}: never fires within five years")

    def _month_wraps(self, walk: _Walk) -> bool:
        while not (self.month >> walk.w.month) & 1:
            if walk.first_move():
                walk.to(walk.zone.date(walk.w.year, walk.w.month, 1))
            w = walk.w
            walk.to(walk.zone.date(w.year, w.month + 1, w.day, clock(w)))  # AddDate(0, 1, 0)
            if walk.w.month == 1:
                return True
        return False

    def _day_wraps(self, walk: _Walk) -> bool:
        while not self._day_matches(walk.w):
            if walk.first_move():
                walk.to(walk.zone.date(walk.w.year, walk.w.month, walk.w.day))
            w = walk.w
            walk.to(walk.zone.date(w.year, w.month, w.day + 1, clock(w)))  # AddDate(0, 0, 1)
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
        if (self.dom | self.dow) & STAR:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def _cannot_match(self) -> bool:
        # A field can be empty only through commas alone (","): robfig accepts that and then
        # searches for five years in vain; answer at once.
        if not (self.minute & PLAIN and self.hour & PLAIN and self.month & PLAIN):
            return True
        dom, dow = self.dom & PLAIN, self.dow & PLAIN
        if (self.dom | self.dow) & STAR:
            return not (dom and dow)
        return not (dom or dow)


class _Walk:
    """The time robfig's ``Next`` is moving: an instant, its wall clock, and robfig's
    ``added`` flag (whether some field has already moved)."""

    __slots__ = ("added", "moves", "u", "w", "zone")

    def __init__(self, zone: Zone, u: int) -> None:
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


def parse_cron(expr: str) -> VeleroCron:
    """Parse a Velero ``spec.schedule`` exactly as robfig/cron v3 ``ParseStandard`` does
    (:func:`reconciler.core.cronparse.parse_spec`), into a schedule that answers ``Next``.

    Raises :class:`CronError` naming the expression and the reason for anything robfig rejects.
    """
    spec = parse_spec(expr)
    return VeleroCron(
        expr=expr,
        location=spec.location,
        every=spec.every,
        minute=spec.minute,
        hour=spec.hour,
        dom=spec.dom,
        month=spec.month,
        dow=spec.dow,
    )


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
