"""Calendar and growth policy values: which days are listed, what a growth share means, strictest-wins."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import keys
from reconciler.core.calendar import Days, parse_days
from reconciler.core.model import Policy
from reconciler.core.policy import effective, format_growth, parse_growth, schedule_policy, strictest, vm_override

SAT, SUN, MON, FRI = 5, 6, 0, 4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sat", Days(frozenset({SAT}))),
        ("sun", Days(frozenset({SUN}))),
        ("SATURDAY", Days(frozenset({SAT}))),
        ("Mon-Fri", Days(frozenset(range(5)))),
        ("Fri-Mon", Days(frozenset({FRI, SAT, SUN, MON}))),
        ("1", Days(monthdays=frozenset({1}))),
        ("1, 15", Days(monthdays=frozenset({1, 15}))),
        ("1-3", Days(monthdays=frozenset({1, 2, 3}))),
        ("L", Days(last=True)),
        ("l", Days(last=True)),
        ("Sat,1,L", Days(frozenset({SAT}), frozenset({1}), True)),
    ],
)
def test_days_parse_as_documented(text: str, expected: Days) -> None:
    """Weekday names (short or long, any case), wrapping weekday ranges, days of the month, ranges and L."""
    assert parse_days(text) == expected


@pytest.mark.parametrize(
    "text", ["", " ", "Sa", "0", "32", "15-1", "Mon-15", "Sat,", ",Sat", "1.5", "-1", "L-3", "Sat;Sun", "x" * 300]
)
def test_malformed_days_are_refused_whole(text: str) -> None:
    """One bad item makes the whole value an error: half a calendar could force fulls nobody asked for."""
    assert parse_days(text) is None


def test_last_day_follows_the_month_and_leap_years() -> None:
    """L is the 31st of January, the 29th of February 2028, the 28th of February 2027, the 30th of April."""
    last = Days(last=True)
    assert last.falls_on(date(2027, 1, 31)) and not last.falls_on(date(2027, 1, 30))
    assert last.falls_on(date(2028, 2, 29)) and not last.falls_on(date(2028, 2, 28))
    assert last.falls_on(date(2027, 2, 28))
    assert last.falls_on(date(2027, 4, 30)) and not last.falls_on(date(2027, 4, 29))


def test_day_31_never_falls_in_a_short_month() -> None:
    """The 31st is listed, so April (30 days) has no calendar full from it; L covers month ends."""
    days = parse_days("31")
    assert days is not None
    april = [date(2027, 4, d) for d in range(1, 31)]
    assert not any(days.falls_on(d) for d in april)
    assert days.falls_on(date(2027, 5, 31))


def test_canonical_spelling_round_trips() -> None:
    """The JSON and table show one spelling per list, which parses back to the same days."""
    days = parse_days("sun, mon-wed, 15, 1, L, Fri")
    assert days is not None
    assert str(days) == "Mon-Wed,Fri,Sun,1,15,L"
    assert parse_days(str(days)) == days


@given(st.frozensets(st.integers(0, 6)), st.frozensets(st.integers(1, 31)), st.booleans())
def test_any_days_round_trip_through_their_spelling(
    weekdays: frozenset[int], monthdays: frozenset[int], last: bool
) -> None:
    """Every non-empty calendar's canonical spelling parses back to itself."""
    days = Days(weekdays, monthdays, last)
    if not (weekdays or monthdays or last):
        return
    assert parse_days(str(days)) == days


@given(
    st.dates(date(1970, 1, 1), date(9999, 12, 1)),
    st.frozensets(st.integers(0, 6)),
    st.frozensets(st.integers(1, 31)),
    st.booleans(),
    st.frozensets(st.integers(0, 6)),
)
def test_union_falls_on_what_either_falls_on(
    day: date, w1: frozenset[int], m1: frozenset[int], last: bool, w2: frozenset[int]
) -> None:
    """Several schedules unite their days: a day is listed by the union exactly when one of them lists it."""
    a, b = Days(w1, m1, last), Days(w2)
    assert a.union(b).falls_on(day) == (a.falls_on(day) or b.falls_on(day))


@given(st.dates(date(1970, 1, 1), date(9999, 11, 30)))
def test_l_is_the_day_before_the_first(day: date) -> None:
    """L falls on a day exactly when the next day is the 1st."""
    assert Days(last=True).falls_on(day) == ((day + timedelta(days=1)).day == 1)


@pytest.mark.parametrize(
    ("text", "value"), [("50%", 0.5), ("0.5", 0.5), ("150%", 1.5), ("2", 2.0), (".25", 0.25), ("12.5%", 0.125)]
)
def test_growth_parses_shares_and_percentages(text: str, value: float) -> None:
    """A share of the full's bytes: 50 % and 0.5 mean the same, and over 100 % is allowed."""
    assert parse_growth(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["0", "0%", "-0.5", "+50%", "50 %", "5e-1", "inf", "nan", "", "%", "half"])
def test_growth_refuses_zero_signs_and_words(text: str) -> None:
    """Zero or negative would force a full every night; exponents and words are not what people write."""
    assert parse_growth(text) is None


def test_growth_prints_as_a_percentage() -> None:
    assert format_growth(0.5) == "50%" and format_growth(1.25) == "125%"


def test_a_schedule_with_only_days_or_growth_has_a_policy() -> None:
    """Days alone, or growth alone, is a policy; a malformed one is that Schedule's error naming key and value."""
    policy, errors = schedule_policy("velero/weekly", {keys.DAYS: "Sat"})
    assert errors == () and policy == Policy(days=Days(frozenset({SAT})))
    policy, errors = schedule_policy("velero/weekly", {keys.MAX_GROWTH: "50%"})
    assert errors == () and policy == Policy(max_growth=0.5)
    policy, errors = schedule_policy("velero/weekly", {keys.DAYS: "Caturday"})
    assert policy is None
    assert str(errors[0]).startswith(f'velero/weekly: annotation {keys.DAYS}="Caturday": not a list of days')


def test_strictest_unites_days_and_takes_the_smallest_growth() -> None:
    """More listed days and a smaller growth share both mean more fulls: the stricter policy."""
    a = Policy(days=Days(frozenset({SAT})), max_growth=0.8)
    b = Policy(days=Days(monthdays=frozenset({1})), max_growth=0.5)
    both = strictest([a, b])
    assert both.days == Days(frozenset({SAT}), frozenset({1}))
    assert both.max_growth == 0.5


def test_a_vm_overrides_or_switches_off_days_and_growth() -> None:
    """A VM's own days replace the schedules'; "off" switches that policy off and says so."""
    schedules = Policy(interval=7, days=Days(frozenset({SAT})), max_growth=0.5)
    override, errors = vm_override("ns/vm", {keys.DAYS: "Sun", keys.MAX_GROWTH: "off"})
    assert errors == ()
    policy, opted = effective(schedules, override)
    assert policy == Policy(interval=7, days=Days(frozenset({SUN})))
    assert opted
