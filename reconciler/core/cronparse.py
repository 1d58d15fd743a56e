"""robfig/cron v3 ``ParseStandard``, as Velero parses ``Schedule.spec.schedule``: text -> :class:`CronSpec`.

Five fields (minute hour day-of-month month day-of-week) as bit sets, the descriptors, ``@every``
with a Go duration, and an optional ``CRON_TZ=``/``TZ=`` prefix, with robfig's rejections and its
messages. :func:`reconciler.core.cron.parse_cron` turns the result into a schedule that can answer
``Next``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from reconciler.core.gotext import GO_SPACE, go_duration, go_quote
from reconciler.core.gotime import UnknownZoneError, load_location

__all__ = ["PLAIN", "STAR", "CronError", "CronSpec", "parse_spec"]


class CronError(ValueError):
    """A schedule robfig/cron would reject, or one that can never fire."""


class _Reject(Exception):
    """A parse failure without the expression; parse_spec adds it."""


STAR = 1 << 63  # robfig's "star bit": set by `*` and `?`, cleared by a step > 1
PLAIN = STAR - 1  # the value bits of a field
_SECOND_NS = 1_000_000_000
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

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
    return _bits(f.low, f.high, 1) | STAR


@dataclass(frozen=True)
class CronSpec:
    """What robfig's parser fills: the bit sets of the five fields, or an ``@every`` delay, and the
    zone of a ``CRON_TZ=``/``TZ=`` prefix ("UTC" without one)."""

    location: str = "UTC"
    every: timedelta | None = None  # @every: whole seconds, at least one
    minute: int = 0
    hour: int = 0
    dom: int = 0
    month: int = 0
    dow: int = 0


# --------------------------------------------------------------------------- parsing


def parse_spec(expr: str) -> CronSpec:
    """Parse a Velero ``spec.schedule`` exactly as robfig/cron v3 ``ParseStandard`` does.

    Accepts five fields (minute hour day-of-month month day-of-week), the descriptors
    ``@yearly @annually @monthly @weekly @daily @midnight @hourly @every <Go duration>``, and
    an optional ``CRON_TZ=<zone> `` or ``TZ=<zone> `` prefix. Raises :class:`CronError` naming
    the expression and the reason for anything robfig rejects.
    """
    try:
        return _parse(expr)
    except _Reject as exc:
        raise CronError(f"schedule {go_quote(expr)}: {exc}") from None


def _parse(expr: str) -> CronSpec:
    spec = expr
    if not spec:
        raise _Reject("empty spec")

    location = "UTC"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        if space < 0:  # robfig slices to index -1 and panics; Velero reports the panic
            raise _Reject("time zone prefix must be followed by a space and a schedule")
        name = spec[spec.find("=") + 1 : space]
        try:
            load_location(name)
        except UnknownZoneError as exc:
            raise _Reject(str(exc)) from None
        location = "UTC" if name in ("", "Local") else name
        spec = spec[space:].strip(GO_SPACE)

    if spec.startswith("@"):
        return _descriptor(spec, location)

    fields = [f for f in _GO_FIELDS.split(spec) if f]
    if len(fields) != 5:
        raise _Reject(f"expected exactly 5 fields, found {len(fields)}")
    minute, hour, dom, month, dow = (_parse_field(text, f) for text, f in zip(fields, _FIELDS, strict=True))
    return CronSpec(location=location, minute=minute, hour=hour, dom=dom, month=month, dow=dow)


def _descriptor(spec: str, location: str) -> CronSpec:
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
        return CronSpec(location=location, minute=minute, hour=hour, dom=dom, month=month, dow=dow)
    prefix = "@every "
    if spec.startswith(prefix):
        text = spec[len(prefix) :]
        try:
            nanos = go_duration(text)
        except ValueError as exc:
            raise _Reject(f"invalid duration {go_quote(text)}: {exc}") from None
        # cron.Every: under a second becomes one second; the sub-second part is dropped.
        seconds = max(nanos, _SECOND_NS) // _SECOND_NS
        return CronSpec(location=location, every=timedelta(seconds=seconds))
    raise _Reject(f"unrecognized descriptor {go_quote(spec)}")


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
        start, end, extra = f.low, f.high, STAR  # robfig ignores a "-..." after "*"
    else:
        start = _int_or_name(low_high[0], item, f)
        if len(low_high) == 1:
            end = start
        elif len(low_high) == 2:
            end = _int_or_name(low_high[1], item, f)
        else:
            raise _Reject(f"{f.name} {go_quote(item)} has too many hyphens")

    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _atoi(range_and_step[1], item, f"{f.name} step")
        if len(low_high) == 1:
            end = f.high
        if step > 1:
            extra = 0
    else:
        raise _Reject(f"{f.name} {go_quote(item)} has too many slashes")

    if start < f.low:
        raise _Reject(f"{f.name} {start} out of range {f.low}-{f.high}")
    if end > f.high:
        raise _Reject(f"{f.name} {end} out of range {f.low}-{f.high}")
    if start > end:
        raise _Reject(f"{f.name} range {go_quote(item)} starts after it ends")
    if step == 0:
        raise _Reject(f"{f.name} step 0 in {go_quote(item)} must be positive")
    return _bits(start, end, step) | extra


def _int_or_name(token: str, item: str, f: _Field) -> int:
    # Go's strings.ToLower maps U+0130 to a plain "i"; Python's lower() adds a combining dot.
    named = f.names.get(token.replace("\u0130", "i").lower())
    if named is not None:
        return named
    return _atoi(token, item, f.name, kind="a number or a name" if f.names else "a number")


def _atoi(token: str, item: str, what: str, *, kind: str = "a number") -> int:
    """strconv.Atoi (64-bit) followed by robfig's non-negative check."""
    where = "" if token == item else f" in {go_quote(item)}"
    m = _ATOI.fullmatch(token)
    digits = m.group(2).lstrip("0") if m else ""
    if m is None or len(digits) > 19 or not _INT64_MIN <= int(m.group(1) + (digits or "0")) <= _INT64_MAX:
        raise _Reject(f"{what} {go_quote(token)}{where} is not {kind}")
    value = int(m.group(1) + (digits or "0"))
    if value < 0:
        raise _Reject(f"{what} {value}{where} is negative")
    return value
