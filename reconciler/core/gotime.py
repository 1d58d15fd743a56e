"""Go's ``time`` package as robfig's ``Next`` uses it: a Location's wall clock and offsets,
``time.Date``'s resolution of wall times that do not exist or exist twice, ``LoadLocation``, and
instants as integer Unix seconds (flooring like Go's ``Unix()``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.core.gotext import go_quote

__all__ = ["UnknownZoneError", "Zone", "clock", "from_unix", "load_location", "unix", "whole_seconds"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)  # noqa: DTZ001 - wall-clock arithmetic only
_EPOCH_ORDINAL = _EPOCH_NAIVE.toordinal()


class UnknownZoneError(ValueError):
    """A zone name LoadLocation does not know."""


def load_location(name: str) -> tzinfo:
    """Go's LoadLocation: "" and "UTC" are UTC; "Local" is the server zone (UTC for Velero)."""
    if name in ("", "UTC", "Local"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise UnknownZoneError(f"unknown time zone {go_quote(name)}") from exc


class Zone:
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


def clock(w: datetime) -> int:
    return w.hour * 3_600 + w.minute * 60 + w.second


def whole_seconds(d: timedelta) -> int:
    return d.days * 86_400 + d.seconds


def unix(t: datetime) -> tuple[int, int]:
    """(whole seconds, microseconds) since the Unix epoch, flooring like Go's Unix()."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"datetime {t.isoformat()} must be timezone-aware")
    d = t - _EPOCH
    return d.days * 86_400 + d.seconds, d.microseconds


def from_unix(secs: int) -> datetime:
    return _EPOCH + timedelta(seconds=secs)
