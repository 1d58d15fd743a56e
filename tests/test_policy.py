"""Policy annotations (design 3)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import keys
from reconciler.core.model import Policy
from reconciler.core.policy import (
    Override,
    effective,
    format_duration,
    parse_count,
    parse_duration,
    schedule_policy,
    strictest,
    vm_override,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("36h", timedelta(hours=36)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("168h30m", timedelta(hours=168, minutes=30)),
        ("1.5d", timedelta(hours=36)),
        ("90s", timedelta(seconds=90)),
        ("1h30m15s", timedelta(hours=1, minutes=30, seconds=15)),
        ("1500ms", timedelta(seconds=1.5)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    """Go-style durations with day and week units parse to their exact length."""
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "7x", "d", "7 d", "-7d", "0d", "7D", "1y", "P7D", "7d ", "+7d"])
def test_bad_durations_are_rejected(text: str) -> None:
    """Anything but positive number-unit sequences is not a duration."""
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("7", 7),
        ("007", 7),
        ("0", None),
        ("-1", None),
        ("+3", None),
        ("3.0", None),
        (" 3", None),
        ("", None),
        ("x", None),
    ],
)
def test_counts(text: str, expected: int | None) -> None:
    """Counts are plain base-10 integers >= 1."""
    assert parse_count(text) == expected


def test_schedule_without_policy_keys_has_no_policy() -> None:
    """A schedule with none of the keys is not a policy schedule."""
    assert schedule_policy("velero/s", {"other": "1"}) == (None, ())


def test_schedule_policy_both_keys() -> None:
    """Interval and max-age together form one policy."""
    policy, errors = schedule_policy("velero/s", {keys.INTERVAL: "7", keys.MAX_AGE: "7d"})
    assert errors == () and policy == Policy(7, timedelta(days=7))


def test_malformed_schedule_value_names_object_key_and_value() -> None:
    """An error names the schedule, the key, the bad value and what was expected."""
    policy, errors = schedule_policy("velero/nightly", {keys.INTERVAL: "7", keys.MAX_AGE: "7x"})
    assert policy is None
    assert str(errors[0]) == (
        'velero/nightly: annotation kubevirt-datamover.io/force-full-backup-max-age="7x": '
        "not a duration (36h, 7d, 2w, 168h30m)"
    )


def test_budget_alone_is_an_error() -> None:
    """max-per-run without a policy to spend it on is reported."""
    policy, errors = schedule_policy("velero/s", {keys.MAX_PER_RUN: "5"})
    assert policy is None and "needs" in str(errors[0])


def test_vm_off_and_values() -> None:
    """A VM may set a value or switch a policy off (case-insensitive "off")."""
    override, errors = vm_override("ns/vm", {keys.INTERVAL: "OFF", keys.MAX_AGE: "3d"})
    assert errors == () and override == Override(keys.OFF, timedelta(days=3))


def test_vm_bad_value_is_an_error() -> None:
    """A malformed VM value is an error naming the VM."""
    _, errors = vm_override("dev/dev-3", {keys.INTERVAL: "five"})
    assert str(errors[0]).startswith('dev/dev-3: annotation kubevirt-datamover.io/force-full-backup-interval="five"')


def test_strictest_wins_per_policy() -> None:
    """Under several schedules the smallest interval and shortest age apply, each on its own."""
    merged = strictest([Policy(7, timedelta(days=14)), Policy(10, timedelta(days=7)), Policy(None, None, 3)])
    assert merged == Policy(7, timedelta(days=7), 3)


def test_override_replaces_and_off_disables() -> None:
    """A VM value replaces the schedules' value (looser or stricter); off removes that policy."""
    base = Policy(7, timedelta(days=7))
    assert effective(base, Override(30, None)) == (Policy(30, timedelta(days=7)), False)
    assert effective(base, Override(keys.OFF, None)) == (Policy(None, timedelta(days=7)), True)
    assert effective(base, Override(keys.OFF, keys.OFF))[0].empty


@given(st.integers(min_value=1, max_value=10**7))
def test_format_duration_round_trips(seconds: int) -> None:
    """Formatted durations parse back to the same length."""
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value
