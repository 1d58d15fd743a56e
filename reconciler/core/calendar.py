"""Calendar policy values: the days of the week and of the month on which a full is due.

`Sat`, `sun`, `Mon-Fri`, `Saturday`, `1`, `15`, `1-7`, `L` (the last day of the month), comma-separated.
Written by hand: cron libraries parse whole five-field expressions, not a list of days, and their
day names and ranges differ from what this annotation documents.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

DAYS_HELP = "not a list of days (Sat, Mon-Fri, 1, 15, L; comma-separated)"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_NUMBER = re.compile(r"[0-9]{1,2}")
MAX_DAYS_CHARS = 256  # a list naming every day twice is shorter; longer is not a calendar anyone means


@dataclass(frozen=True)
class Days:
    """Weekdays (Monday = 0) and days of the month (1-31) on which a full is due; `last`: the month's last day."""

    weekdays: frozenset[int] = frozenset()
    monthdays: frozenset[int] = frozenset()
    last: bool = False

    def falls_on(self, day: date) -> bool:
        """True when `day` (a date in the Schedule's own time zone) is listed."""
        if day.weekday() in self.weekdays or day.day in self.monthdays:
            return True
        return self.last and day.day == calendar.monthrange(day.year, day.month)[1]

    def union(self, other: Days) -> Days:
        """Both lists of days: under several schedules more fulls is the stricter policy."""
        return Days(self.weekdays | other.weekdays, self.monthdays | other.monthdays, self.last or other.last)

    def __str__(self) -> str:
        """Canonical spelling, weekdays first: `Mon-Fri,Sun,1,15,L`."""
        parts = [_weekday_runs(self.weekdays)] if self.weekdays else []
        parts += [str(d) for d in sorted(self.monthdays)]
        if self.last:
            parts.append("L")
        return ",".join(parts)


def _weekday_runs(days: frozenset[int]) -> str:
    runs: list[list[int]] = []
    for d in sorted(days):
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    names = [w.capitalize() for w in WEEKDAYS]
    return ",".join(_spell(r, names) for r in runs)


def _spell(run: list[int], names: list[str]) -> str:
    if len(run) >= 3:
        return f"{names[run[0]]}-{names[run[-1]]}"
    return ",".join(names[d] for d in run)


def _weekday(token: str) -> int | None:
    low = token.lower()
    if low in WEEKDAYS:
        return WEEKDAYS.index(low)
    if low in _FULL_NAMES:
        return _FULL_NAMES.index(low)
    return None


def _monthday(token: str) -> int | None:
    if not _NUMBER.fullmatch(token):
        return None
    value = int(token)
    return value if 1 <= value <= 31 else None


def parse_days(text: str) -> Days | None:
    """The listed days, or None if any item is malformed (the whole value is then an error).

    A weekday range may wrap (`Fri-Mon` is Friday to Monday); a range of days of the month may not.
    """
    if not text.strip() or len(text) > MAX_DAYS_CHARS:
        return None
    weekdays: set[int] = set()
    monthdays: set[int] = set()
    last = False
    for raw in text.split(","):
        item = raw.strip()
        if item.upper() == "L":
            last = True
            continue
        start, dash, end = item.partition("-")
        if not dash:
            wd, md = _weekday(item), _monthday(item)
            if wd is not None:
                weekdays.add(wd)
            elif md is not None:
                monthdays.add(md)
            else:
                return None
            continue
        start, end = start.strip(), end.strip()
        w1, w2 = _weekday(start), _weekday(end)
        m1, m2 = _monthday(start), _monthday(end)
        if w1 is not None and w2 is not None:
            span = (w2 - w1) % 7
            weekdays.update((w1 + i) % 7 for i in range(span + 1))
        elif m1 is not None and m2 is not None and m1 <= m2:
            monthdays.update(range(m1, m2 + 1))
        else:
            return None
    return Days(frozenset(weekdays), frozenset(monthdays), last)
