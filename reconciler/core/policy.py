"""Annotations -> Policy (design 3), with errors that name the object, the key and the value.

A Schedule carries the policy; a VirtualMachine may override each policy (interval, max-age,
days, max-growth) for itself, or switch it off with "off". A VM under several policy schedules
takes the strictest value of each policy (for days: every listed day).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from reconciler.core import keys
from reconciler.core.calendar import DAYS_HELP, Days, parse_days
from reconciler.core.model import Policy
from reconciler.core.reason import PlanWarning


@dataclass(frozen=True)
class PolicyError:
    """A malformed annotation: the object is left alone and reported."""

    ref: str  # "namespace/name" of the object
    kind: str  # "Schedule" | "VirtualMachine"
    key: str
    value: str
    expected: str

    def __str__(self) -> str:
        return f"{self.ref}: annotation {self.key}={json.dumps(self.value, ensure_ascii=False)}: {self.expected}"


_INT = re.compile(r"[0-9]+")
# Go's time.ParseDuration units, plus d and w, which administrators write and Go lacks.
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
}
_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h|d|w)")
DURATION_HELP = "not a duration (36h, 7d, 2w, 168h30m)"
MAX_DURATION_CHARS = 64


_INT64_MAX = (1 << 63) - 1  # the controller holds counts in int64; int() also refuses > 4,300 digits


def parse_count(text: str, *, minimum: int = 1) -> int | None:
    """A base-10 integer >= minimum (and within int64), or None. No sign, no spaces: what a person means by '7'."""
    if not _INT.fullmatch(text) or len(text.lstrip("0")) > 19:
        return None
    value = int(text)
    return value if minimum <= value <= _INT64_MAX else None


def parse_duration(text: str) -> timedelta | None:
    """`36h`, `7d`, `2w`, `168h30m`, `1.5d`; positive only. None if malformed.

    Written by hand: Go's duration grammar with day and week units is not what any PyPI
    duration library parses exactly (they accept spaces, words or ISO 8601 instead).
    """
    # The length cap comes first: the scan below backtracks quadratically on a long run of digits,
    # and an annotation value may be 256 KiB long. No duration anyone writes is longer than this.
    if not text or len(text) > MAX_DURATION_CHARS or _DURATION.sub("", text) != "":
        return None
    seconds = 0.0
    for part in _DURATION.finditer(text):
        token = part.group(0)
        unit = re.search(r"(ns|us|µs|μs|ms|s|m|h|d|w)$", token)
        assert unit is not None
        seconds += float(token[: unit.start()]) * _UNIT_SECONDS[unit.group(1)]
    try:
        value = timedelta(seconds=seconds)
    except OverflowError:  # more days than a timedelta holds: not a duration anyone means
        return None
    return value if value > timedelta(0) else None


_GROWTH = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
GROWTH_HELP = "not a share of the full's size > 0 (50%, 0.5, 150%)"


def parse_growth(text: str) -> float | None:
    """`50%` or `0.5` as the fraction 0.5; over 100 % is allowed; zero, signs and exponents are not."""
    number, percent = (text[:-1], True) if text.endswith("%") else (text, False)
    if len(text) > MAX_DURATION_CHARS or not _GROWTH.fullmatch(number):
        return None
    value = float(number) / (100 if percent else 1)
    return value if value > 0 else None


def format_growth(value: float) -> str:
    """As a percentage, the way most administrators write it: 0.5 -> `50%`, 1.25 -> `125%`."""
    return f"{value * 100:g}%"


def format_duration(value: timedelta) -> str:
    """Shortest exact spelling in d/h/m/s, for tables and JSON (`7d`, `1d12h`, `90s` -> `1m30s`)."""
    total = int(value.total_seconds())
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@dataclass(frozen=True)
class Override:
    """What a VM says about one policy: absent (inherit), off, or a value."""

    interval: int | str | None = None  # None: inherit; "off": disabled; int: value
    max_age: timedelta | str | None = None
    days: Days | str | None = None
    max_growth: float | str | None = None


COUNT_HELP = "not an integer >= 1"
OFF_HELP = ' or "off"'
T = TypeVar("T")


def _read(
    annotations: Mapping[str, str],
    key: str,
    parse: Callable[[str], T | None],
    *,
    where: tuple[str, str],  # (ref, kind) of the object, for the error
    expected: str,
    errors: list[PolicyError],
    allow_off: bool = False,
) -> T | str | None:
    """One annotation: None if absent, "off" where allowed, else the parsed value or a recorded error."""
    if key not in annotations:
        return None
    raw = annotations[key]
    if allow_off and raw.strip().lower() == keys.OFF:
        return keys.OFF
    value = parse(raw)
    if value is None:
        errors.append(PolicyError(where[0], where[1], key, raw, expected + (OFF_HELP if allow_off else "")))
    return value


def schedule_policy(ref: str, annotations: Mapping[str, str]) -> tuple[Policy | None, tuple[PolicyError, ...]]:
    """The policy a Schedule declares, None if it declares none; errors for malformed keys.

    A schedule with any malformed policy key gets no policy at all: half a policy could force
    fulls its owner did not ask for.
    """
    if not any(k in annotations for k in keys.POLICY_KEYS):
        return None, ()
    errors: list[PolicyError] = []
    where = (ref, "Schedule")
    interval = _read(annotations, keys.INTERVAL, parse_count, where=where, expected=COUNT_HELP, errors=errors)
    max_age = _read(annotations, keys.MAX_AGE, parse_duration, where=where, expected=DURATION_HELP, errors=errors)
    budget = _read(annotations, keys.MAX_PER_RUN, parse_count, where=where, expected=COUNT_HELP, errors=errors)
    days = _read(annotations, keys.DAYS, parse_days, where=where, expected=DAYS_HELP, errors=errors)
    growth = _read(annotations, keys.MAX_GROWTH, parse_growth, where=where, expected=GROWTH_HELP, errors=errors)
    if errors:
        return None, tuple(errors)
    # Without allow_off, _read returns only the parsed type or None.
    assert not isinstance(interval, str) and not isinstance(max_age, str) and not isinstance(budget, str)
    assert not isinstance(days, str) and not isinstance(growth, str)
    policy = Policy(interval=interval, max_age=max_age, max_per_run=budget, days=days, max_growth=growth)
    if policy.empty:
        # Only a budget, no policy to spend it on.
        return None, (
            PolicyError(
                ref,
                "Schedule",
                keys.MAX_PER_RUN,
                annotations[keys.MAX_PER_RUN],
                f"a budget needs a policy ({keys.INTERVAL}, {keys.MAX_AGE}, {keys.DAYS} or "
                f"{keys.MAX_GROWTH}) on the same Schedule",
            ),
        )
    return policy, ()


def vm_override(ref: str, annotations: Mapping[str, str]) -> tuple[Override, tuple[PolicyError, ...]]:
    """The VM's own interval / max-age values; "off" (any case, trimmed) opts out of that policy."""
    errors: list[PolicyError] = []
    where = (ref, "VirtualMachine")
    interval = _read(
        annotations, keys.INTERVAL, parse_count, where=where, expected=COUNT_HELP, errors=errors, allow_off=True
    )
    max_age = _read(
        annotations, keys.MAX_AGE, parse_duration, where=where, expected=DURATION_HELP, errors=errors, allow_off=True
    )
    days = _read(annotations, keys.DAYS, parse_days, where=where, expected=DAYS_HELP, errors=errors, allow_off=True)
    growth = _read(
        annotations, keys.MAX_GROWTH, parse_growth, where=where, expected=GROWTH_HELP, errors=errors, allow_off=True
    )
    return Override(interval, max_age, days, growth), tuple(errors)


def vm_warnings(ref: str, annotations: Mapping[str, str]) -> tuple[PlanWarning, ...]:
    """Policy keys that only a Schedule honours, set on a VM: reported, never acted on."""
    return tuple(
        PlanWarning(
            "schedule-only-key",
            f"{ref}: annotation {key}={json.dumps(annotations[key], ensure_ascii=False)}: "
            "applies to Schedules only; ignored on a VirtualMachine",
            {"key": key},
        )
        for key in keys.POLICY_KEYS
        if key not in keys.VM_POLICY_KEYS and key in annotations
    )


def strictest(policies: Iterable[Policy]) -> Policy:
    """The smallest interval, max-age, budget and growth, and every listed day, among the schedules."""
    items = list(policies)
    intervals = [p.interval for p in items if p.interval is not None]
    ages = [p.max_age for p in items if p.max_age is not None]
    budgets = [p.max_per_run for p in items if p.max_per_run is not None]
    growths = [p.max_growth for p in items if p.max_growth is not None]
    days: Days | None = None
    for p in items:
        if p.days is not None:
            days = p.days if days is None else days.union(p.days)
    return Policy(
        interval=min(intervals) if intervals else None,
        max_age=min(ages) if ages else None,
        max_per_run=min(budgets) if budgets else None,
        days=days,
        max_growth=min(growths) if growths else None,
    )


def effective(schedules: Policy, override: Override) -> tuple[Policy, bool]:
    """Apply a VM's override to the schedules' policy: (policy, the VM switched something off)."""
    interval, i_off = _apply(schedules.interval, override.interval)
    max_age, a_off = _apply(schedules.max_age, override.max_age)
    days, d_off = _apply(schedules.days, override.days)
    growth, g_off = _apply(schedules.max_growth, override.max_growth)
    policy = Policy(interval=interval, max_age=max_age, max_per_run=schedules.max_per_run, days=days, max_growth=growth)
    return policy, i_off or a_off or d_off or g_off


def _apply(inherited: T | None, own: T | str | None) -> tuple[T | None, bool]:
    """One policy after a VM's override: (value, switched off). The VM's own value replaces the schedules'."""
    if own == keys.OFF:
        return None, True
    if own is None or isinstance(own, str):
        return inherited, False
    return own, False
