"""Velero schedule times: robfig/cron v3 ParseStandard + Schedule.Next, as Velero uses them.

Expected times of the daylight-saving cases are derived by walking robfig's ``Next`` by hand;
each docstring says how.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import CroniterBadDateError, croniter
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.cron import (
    CronError,
    CronNeverFiresError,
    VeleroCron,
    next_run,
    parse_cron,
)

NY = ZoneInfo("America/New_York")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def nxt(expr: str, after: datetime) -> datetime:
    return parse_cron(expr).next_after(after)


def same_schedule(a: str, b: str) -> bool:
    return replace(parse_cron(a), expr=b) == parse_cron(b)


# --------------------------------------------------------------------------- descriptors

WED = utc(2024, 5, 15, 10, 20, 30)  # a Wednesday


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("@yearly", utc(2025, 1, 1)),
        ("@annually", utc(2025, 1, 1)),
        ("@monthly", utc(2024, 6, 1)),
        ("@weekly", utc(2024, 5, 19)),
        ("@daily", utc(2024, 5, 16)),
        ("@midnight", utc(2024, 5, 16)),
        ("@hourly", utc(2024, 5, 15, 11)),
    ],
)
def test_descriptors(expr: str, expected: datetime) -> None:
    """Each descriptor is robfig's fixed schedule (@weekly = Sunday 00:00, @monthly = the 1st)."""
    assert nxt(expr, WED) == expected


@pytest.mark.parametrize(
    ("descriptor", "fields"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_descriptors_equal_their_five_field_forms(descriptor: str, fields: str) -> None:
    """A descriptor parses to the same bit sets, star bits included, as its five-field form."""
    assert same_schedule(descriptor, fields)


@pytest.mark.parametrize("expr", ["@Daily", "@daily ", "@every", "@fortnightly", "@reboot"])
def test_descriptors_are_exact_and_case_sensitive(expr: str) -> None:
    """Descriptors match exactly: other case, a trailing space or an unknown name is rejected."""
    with pytest.raises(CronError, match="unrecognized descriptor"):
        parse_cron(expr)


# --------------------------------------------------------------------------- @every


def test_every_hour_and_a_half() -> None:
    """@every 1h30m is a constant delay from the reference, whose sub-second part is dropped."""
    cron = parse_cron("@every 1h30m")
    assert cron.is_every()
    assert cron.every == timedelta(hours=1, minutes=30)
    assert cron.next_after(utc(2024, 1, 1, 10, 0, 0) + timedelta(microseconds=750_000)) == utc(2024, 1, 1, 11, 30)


def test_every_ninety_seconds() -> None:
    """@every 90s adds 90 seconds to the reference, whatever the clock reads."""
    assert nxt("@every 90s", utc(2024, 1, 1, 10, 0, 7)) == utc(2024, 1, 1, 10, 1, 37)


@pytest.mark.parametrize("duration", ["500ms", "1ns", "0", "-0", "-5m", "999999us"])
def test_every_below_a_second_rounds_up_to_one_second(duration: str) -> None:
    """A delay under a second, zero or negative included, becomes one second, as cron.Every does."""
    cron = parse_cron(f"@every {duration}")
    assert cron.every == timedelta(seconds=1)
    assert cron.next_after(utc(2024, 1, 1, 0, 0, 0) + timedelta(microseconds=400_000)) == utc(2024, 1, 1, 0, 0, 1)


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("1.5s", timedelta(seconds=1)),  # sub-second part truncated
        ("2h45m", timedelta(hours=2, minutes=45)),
        ("1h30m45s", timedelta(hours=1, minutes=30, seconds=45)),
        (".5h", timedelta(minutes=30)),
        ("1.h", timedelta(hours=1)),
        ("+1h", timedelta(hours=1)),
        ("1m30s500ms", timedelta(minutes=1, seconds=30)),
        ("2000000µs", timedelta(seconds=2)),
        ("3000000μs", timedelta(seconds=3)),
        ("1h1h", timedelta(hours=2)),
        ("2562047h", timedelta(hours=2562047)),
    ],
)
def test_every_accepts_go_durations(duration: str, expected: timedelta) -> None:
    """@every takes Go's time.ParseDuration grammar: decimals, unit sequences, µs and μs."""
    assert parse_cron(f"@every {duration}").every == expected


@pytest.mark.parametrize(
    ("duration", "reason"),
    [
        ("1d", 'unknown unit "d"'),
        ("1", "missing unit"),
        ("", "no number"),
        ("h", "expected a number"),
        (".h", "no digits"),
        ("1 h", 'unknown unit " h"'),
        ("1h ", 'unknown unit "h "'),
        ("1H", 'unknown unit "H"'),
        ("2562048h", "duration too large"),
        ("9223372036854775808ns", "duration too large"),
    ],
)
def test_every_rejects_what_go_rejects(duration: str, reason: str) -> None:
    """@every rejects days, missing units, spaces and durations beyond int64 nanoseconds."""
    with pytest.raises(CronError) as err:
        parse_cron(f"@every {duration}")
    assert str(err.value) == f'schedule "@every {duration}": invalid duration "{duration}": {reason}'


def test_every_previous_activation_counts_whole_delays_from_the_anchor() -> None:
    """@every activations are anchor + k * delay, the boundary inclusive, k negative too."""
    cron = parse_cron("@every 1h30m")
    anchor = utc(2024, 1, 1, 10)
    assert cron.prev_at_or_before(utc(2024, 1, 1, 14, 29, 59), anchor=anchor) == utc(2024, 1, 1, 13)
    assert cron.prev_at_or_before(utc(2024, 1, 1, 14, 30), anchor=anchor) == utc(2024, 1, 1, 14, 30)
    assert cron.prev_at_or_before(anchor, anchor=anchor) == anchor
    assert cron.prev_at_or_before(utc(2024, 1, 1, 8, 29), anchor=anchor) == utc(2024, 1, 1, 7)


def test_every_previous_activation_drops_the_anchors_fraction() -> None:
    """The grid starts at the anchor's whole second, matching next_after(anchor)."""
    cron = parse_cron("@every 90s")
    anchor = utc(2024, 1, 1, 10) + timedelta(microseconds=900_000)
    first = cron.next_after(anchor)
    assert first == utc(2024, 1, 1, 10, 1, 30)
    assert cron.prev_at_or_before(first + timedelta(seconds=89), anchor=anchor) == first


def test_every_previous_activation_without_anchor_is_t() -> None:
    """Without an anchor @every has no grid, so the previous activation is t itself, in UTC."""
    t = ny(2024, 1, 1, 9, 15)
    assert parse_cron("@every 2h").prev_at_or_before(t) == utc(2024, 1, 1, 14, 15)


# --------------------------------------------------------------------------- time zones


@pytest.mark.parametrize("prefix", ["CRON_TZ", "TZ"])
def test_time_zone_prefix(prefix: str) -> None:
    """CRON_TZ= and TZ= run the fields in that zone: 09:00 New York is 14:00Z or 13:00Z."""
    cron = parse_cron(f"{prefix}=America/New_York 0 9 * * *")
    assert cron.location == "America/New_York"
    assert cron.next_after(utc(2024, 1, 15)) == utc(2024, 1, 15, 14)
    assert cron.next_after(utc(2024, 7, 15)) == utc(2024, 7, 15, 13)


def test_no_prefix_means_utc() -> None:
    """Without a prefix the schedule runs in UTC, whatever zone the reference time carries."""
    cron = parse_cron("0 9 * * *")
    assert cron.location == "UTC"
    assert cron.next_after(ny(2024, 1, 15, 8)) == utc(2024, 1, 16, 9)


@pytest.mark.parametrize("name", ["", "UTC", "Local"])
def test_empty_utc_and_local_zones_are_utc(name: str) -> None:
    """Go's LoadLocation gives UTC for "" and "UTC"; "Local" is the Velero server's UTC."""
    cron = parse_cron(f"TZ={name} 0 9 * * *")
    assert cron.location == "UTC"
    assert cron.next_after(utc(2024, 1, 15)) == utc(2024, 1, 15, 9)


def test_time_zone_prefix_with_descriptor() -> None:
    """A zone prefix applies to descriptors: @daily in New York is local midnight."""
    assert nxt("CRON_TZ=America/New_York @daily", utc(2024, 1, 15, 12)) == utc(2024, 1, 16, 5)


def test_time_zone_prefix_ignored_by_every() -> None:
    """@every is a plain delay, so a zone prefix changes nothing."""
    assert nxt("TZ=Asia/Tokyo @every 1h", utc(2024, 1, 15, 12)) == utc(2024, 1, 15, 13)


def test_spaces_after_prefix_are_trimmed() -> None:
    """Whitespace between the zone and the schedule is trimmed, as robfig's TrimSpace does."""
    assert same_schedule("CRON_TZ=UTC   @daily", "@daily")


# --------------------------------------------------------------------------- daylight saving


def test_spring_forward_skips_the_missing_half_hour_for_a_day() -> None:
    """02:30 New York on 10 Mar 2024 does not exist: robfig resets to 00:00 EST and steps
    elapsed hours (01:00 EST, then 03:00 EDT), never sees hour 2, wraps to the 11th and fires
    at 02:30 EDT there."""
    cron = parse_cron("CRON_TZ=America/New_York 30 2 * * *")
    assert cron.next_after(ny(2024, 3, 10, 0, 0)) == utc(2024, 3, 11, 6, 30)
    assert cron.next_after(ny(2024, 3, 10, 1, 45)) == utc(2024, 3, 11, 6, 30)


def test_spring_forward_date_specific_job_waits_a_year() -> None:
    """A job only at 02:30 on 10 March misses the 2024 spring-forward day entirely (hour 2 never
    occurs while stepping), so the next run is 10 Mar 2025 02:30 EDT."""
    assert nxt("TZ=America/New_York 30 2 10 3 *", ny(2024, 3, 9, 12)) == utc(2025, 3, 10, 6, 30)


def test_spring_forward_hourly_job_skips_the_missing_hour() -> None:
    """An hourly job after 01:00 EST on the spring-forward day next fires at 03:00 EDT, one
    elapsed hour later."""
    assert nxt("CRON_TZ=America/New_York 0 * * * *", ny(2024, 3, 10, 1)) == utc(2024, 3, 10, 7)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (ny(2024, 11, 3, 0, 0), utc(2024, 11, 3, 5, 30)),  # 01:30 EDT
        (utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 6, 30)),  # 01:30 EST, an hour later
        (utc(2024, 11, 3, 5, 45), utc(2024, 11, 3, 6, 30)),  # from 01:45 EDT
        (utc(2024, 11, 3, 6, 30), utc(2024, 11, 4, 6, 30)),  # then the next day
    ],
)
def test_fall_back_runs_the_repeated_half_hour_twice(after: datetime, expected: datetime) -> None:
    """01:30 New York happens twice on 3 Nov 2024: robfig steps elapsed minutes and hours, wall
    hour 1 matches on both passes, so it fires at 01:30 EDT and again at 01:30 EST."""
    assert nxt("CRON_TZ=America/New_York 30 1 * * *", after) == expected


def test_fall_back_hourly_job_runs_the_repeated_hour() -> None:
    """An hourly job fires at 01:00 EDT and again at 01:00 EST, one elapsed hour apart."""
    cron = parse_cron("CRON_TZ=America/New_York 0 * * * *")
    assert cron.next_after(ny(2024, 11, 3, 1, 0)) == utc(2024, 11, 3, 6)
    assert cron.next_after(utc(2024, 11, 3, 6)) == utc(2024, 11, 3, 7)


def test_missing_midnight_is_crossed_like_go() -> None:
    """São Paulo had no 4 Nov 2018 midnight: Go's time.Date puts it at 23:00 on the 3rd, robfig
    snaps one hour forward to 01:00 on the 4th and still reaches the 10th at 09:00 (-02:00)."""
    cron = parse_cron("TZ=America/Sao_Paulo 0 9 10 * *")
    assert cron.next_after(utc(2018, 10, 17, 9)) == utc(2018, 11, 10, 11)


def test_half_hour_shift_can_skip_a_midnight_run() -> None:
    """Lord Howe falls back 30 minutes at 02:00 on 1 Apr 2012; from 01:59 robfig steps whole
    elapsed hours from 01:00 (+11), lands on :30 past every hour, wraps at 00:30 on the 2nd and
    only finds 00:00 on the 3rd; from 02:06 (+10:30) it steps from 02:00 and finds the 2nd."""
    cron = parse_cron("CRON_TZ=Australia/Lord_Howe 0 0 * * *")
    assert cron.next_after(utc(2012, 3, 31, 14, 59)) == utc(2012, 4, 2, 13, 30)
    assert cron.next_after(utc(2012, 3, 31, 15, 36)) == utc(2012, 4, 1, 13, 30)


def test_search_robfig_never_finishes_is_never_fires() -> None:
    """Samoa skipped 30 Dec 2011: robfig's day step keeps landing before the missing day and
    never returns; the walk stops on its move budget and reports that the schedule never fires."""
    cron = parse_cron("CRON_TZ=Pacific/Apia @monthly")
    with pytest.raises(CronNeverFiresError, match="does not end"):
        cron.next_after(utc(2011, 12, 1, 16, 33))
    assert cron.next_after(utc(2012, 1, 15)) == utc(2012, 1, 31, 10)


def test_previous_activation_in_the_repeated_hour() -> None:
    """The latest activation before 02:00 EST on the fall-back day is the second 01:30."""
    cron = parse_cron("CRON_TZ=America/New_York 30 1 * * *")
    assert cron.prev_at_or_before(utc(2024, 11, 3, 7)) == utc(2024, 11, 3, 6, 30)
    assert cron.prev_at_or_before(utc(2024, 11, 3, 6, 29)) == utc(2024, 11, 3, 5, 30)


# --------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("", "empty spec"),
        ("0 0 * *", "expected exactly 5 fields, found 4"),
        ("0 0 0 * * *", "expected exactly 5 fields, found 6"),
        ("xyz", "expected exactly 5 fields, found 1"),
        (" @daily", "expected exactly 5 fields, found 1"),
        ("TZ=UTC ", "expected exactly 5 fields, found 0"),
        ("cron_tz=UTC 0 0 * * *", "expected exactly 5 fields, found 6"),
        ("0 0 * * 7", "day-of-week 7 out of range 0-6"),
        ("0 0 * * 5-7", "day-of-week 7 out of range 0-6"),
        ("60 0 * * *", "minute 60 out of range 0-59"),
        ("0 24 * * *", "hour 24 out of range 0-23"),
        ("0 0 0 * *", "day-of-month 0 out of range 1-31"),
        ("0 0 32 * *", "day-of-month 32 out of range 1-31"),
        ("0 0 * 0 *", "month 0 out of range 1-12"),
        ("0 0 * 13 *", "month 13 out of range 1-12"),
        ("*/0 * * * *", 'minute step 0 in "*/0" must be positive'),
        ("5/0 * * * *", 'minute step 0 in "5/0" must be positive'),
        ("0 5-3 * * *", 'hour range "5-3" starts after it ends'),
        ("0 0 * * SAT-MON", 'day-of-week range "SAT-MON" starts after it ends'),
        ("0 0 * * MOO", 'day-of-week "MOO" is not a number or a name'),
        ("0 0 * JANUARY *", 'month "JANUARY" is not a number or a name'),
        ("0 0 * * MON-XYZ", 'day-of-week "XYZ" in "MON-XYZ" is not a number or a name'),
        ("0 0 L * *", 'day-of-month "L" is not a number'),
        ("1.5 * * * *", 'minute "1.5" is not a number'),
        ("-5 * * * *", 'minute "" in "-5" is not a number'),
        ("0 1-2-3 * * *", 'hour "1-2-3" has too many hyphens'),
        ("*/2/3 * * * *", 'minute "*/2/3" has too many slashes'),
        ("*/-1 * * * *", 'minute step -1 in "*/-1" is negative'),
        ("*/MON * * * *", 'minute step "MON" in "*/MON" is not a number'),
        ("99999999999999999999 * * * *", 'minute "99999999999999999999" is not a number'),
        ("@fortnightly", 'unrecognized descriptor "@fortnightly"'),
        ("CRON_TZ=Mars/Olympus 0 0 * * *", 'unknown time zone "Mars/Olympus"'),
        ("TZ=../etc/passwd 0 0 * * *", 'unknown time zone "../etc/passwd"'),
        ("CRON_TZ=UTC", "time zone prefix must be followed by a space and a schedule"),
    ],
)
def test_rejections(expr: str, reason: str) -> None:
    """Whatever robfig's ParseStandard rejects is a CronError naming the schedule and the cause."""
    with pytest.raises(CronError) as err:
        parse_cron(expr)
    quoted = expr.replace('"', '\\"')
    assert str(err.value) == f'schedule "{quoted}": {reason}'


def test_day_of_week_seven_message() -> None:
    """A day-of-week of 7 is rejected, as robfig does, with the product spec's message."""
    with pytest.raises(CronError, match=r'^schedule "0 0 \* \* 7": day-of-week 7 out of range 0-6$'):
        parse_cron("0 0 * * 7")


# --------------------------------------------------------------------------- accepted syntax


@pytest.mark.parametrize(
    ("expr", "equivalent"),
    [
        ("0 0 * jan,JUL *", "0 0 * 1,7 *"),
        ("0 0 * Feb-apr *", "0 0 * 2-4 *"),
        ("0 0 * * Mon-FRI", "0 0 * * 1-5"),
        ("0 0 * * sun,SAT", "0 0 * * 0,6"),
        ("0 0 ? * *", "0 0 * * *"),
        ("0 0 * * ?", "0 0 * * *"),
        ("5/15 * * * *", "5,20,35,50 * * * *"),
        ("0 0 * * MON/2", "0 0 * * 1,3,5"),
        ("0 0 * * 1-6/2", "0 0 * * 1,3,5"),
        ("0 0 * */5 *", "0 0 * 1,6,11 *"),
        ("*-5 * * * *", "* * * * *"),
        ("+5 * * * *", "5 * * * *"),
        ("05 007 * * *", "5 7 * * *"),
        ("0 0 1,,15 * *", "0 0 1,15 * *"),
        ("0\t0  *\n* *", "0 0 * * *"),
    ],
)
def test_accepted_forms(expr: str, equivalent: str) -> None:
    """Names in any case, ?, N/step, leading + or 0, empty list items and "*-N" parse as robfig."""
    assert same_schedule(expr, equivalent)


def test_question_mark_keeps_the_star_bit() -> None:
    """? is a wildcard with the star bit, so "? * MON" means Mondays only."""
    assert nxt("0 0 ? * MON", utc(2024, 1, 2)) == utc(2024, 1, 8)


# --------------------------------------------------------------------------- dom / dow


def test_both_days_restricted_means_either() -> None:
    """With day-of-month and day-of-week both restricted, either may match (1st, 15th, Mondays)."""
    cron = parse_cron("0 0 1,15 * MON")
    t, seen = utc(2024, 1, 2), []
    for _ in range(6):
        t = cron.next_after(t)
        seen.append(t.day)
    assert seen == [8, 15, 22, 29, 1, 5]


def test_star_in_either_day_field_means_both() -> None:
    """If one day field is * the other alone decides (both must match)."""
    assert nxt("0 0 * * MON", utc(2024, 1, 2)) == utc(2024, 1, 8)
    assert nxt("0 0 15 * *", utc(2024, 1, 2)) == utc(2024, 1, 15)


def test_step_above_one_clears_the_star() -> None:
    """*/2 is not a star for robfig, so "*/2 * MON" means odd days OR Mondays."""
    assert nxt("0 0 */2 * MON", utc(2024, 1, 4)) == utc(2024, 1, 5)
    assert nxt("0 0 */2 * MON", utc(2024, 1, 7, 12)) == utc(2024, 1, 8)


def test_step_of_one_keeps_the_star() -> None:
    """*/1 keeps the star bit, so "*/1 * MON" means Mondays only (croniter says every day)."""
    assert nxt("0 0 */1 * MON", utc(2024, 1, 2)) == utc(2024, 1, 8)


def test_full_explicit_range_is_not_a_star() -> None:
    """1-31 covers every day but has no star bit, so with MON it means any day."""
    assert nxt("0 0 1-31 * MON", utc(2024, 1, 2)) == utc(2024, 1, 3)


def test_friday_the_thirteenth_is_either() -> None:
    """The schedule "13 * FRI" fires on every 13th and every Friday, not only on Friday the 13th."""
    cron = parse_cron("0 0 13 * FRI")
    assert cron.next_after(utc(2024, 1, 1)) == utc(2024, 1, 5)
    assert cron.next_after(utc(2024, 1, 12)) == utc(2024, 1, 13)


# --------------------------------------------------------------------------- never fires


@pytest.mark.parametrize("expr", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", ", 0 * * *", "0 0 , * *"])
def test_impossible_schedules_parse_but_never_fire(expr: str) -> None:
    """robfig accepts impossible dates and comma-only fields; Next finds nothing in five years."""
    cron = parse_cron(expr)
    with pytest.raises(CronNeverFiresError, match="never fires"):
        cron.next_after(utc(2024, 1, 1))
    assert cron.prev_at_or_before(utc(2024, 1, 1)) is None


def test_five_year_horizon() -> None:
    """Feb 29 after 2096 is eight years away (2100 is no leap year), beyond robfig's five."""
    cron = parse_cron("0 0 29 2 *")
    assert cron.next_after(utc(2023, 3, 1)) == utc(2024, 2, 29)
    with pytest.raises(CronNeverFiresError):
        cron.next_after(utc(2096, 3, 1))


# --------------------------------------------------------------------------- prev


def test_previous_activation_is_inclusive() -> None:
    """A time exactly on an activation is its own previous activation."""
    cron = parse_cron("0 3 * * *")
    assert cron.prev_at_or_before(utc(2024, 5, 15, 3)) == utc(2024, 5, 15, 3)
    assert cron.prev_at_or_before(utc(2024, 5, 15, 3, 0, 0) + timedelta(microseconds=1)) == utc(2024, 5, 15, 3)
    assert cron.prev_at_or_before(utc(2024, 5, 15, 2, 59, 59)) == utc(2024, 5, 14, 3)


@pytest.mark.parametrize(
    ("expr", "t", "expected"),
    [
        ("*/15 * * * *", utc(2024, 5, 15, 10, 29, 59), utc(2024, 5, 15, 10, 15)),
        ("0 0 1 1 *", utc(2024, 7, 1), utc(2024, 1, 1)),
        ("0 0 29 2 *", utc(2027, 6, 1), utc(2024, 2, 29)),
        ("@weekly", utc(2024, 5, 15, 10), utc(2024, 5, 12)),
        ("CRON_TZ=America/New_York 0 9 * * *", utc(2024, 7, 15, 12), utc(2024, 7, 14, 13)),
    ],
)
def test_previous_activation(expr: str, t: datetime, expected: datetime) -> None:
    """prev_at_or_before finds the latest activation, even years back."""
    assert parse_cron(expr).prev_at_or_before(t) == expected


def test_naive_datetimes_are_refused() -> None:
    """Naive datetimes are a programming error, not a time in some zone."""
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_cron("@daily").next_after(datetime(2024, 1, 1))


# --------------------------------------------------------------------------- next_run

DAILY_3AM = parse_cron("0 3 * * *")
NOW = utc(2024, 5, 15, 12)


def test_next_run_uses_last_backup() -> None:
    """The next run is Next(lastBackup), preferred over the creation time."""
    got = next_run(
        DAILY_3AM,
        last_backup=utc(2024, 5, 15, 3, 0, 5),
        created=utc(2024, 1, 1),
        now=NOW,
        paused=False,
    )
    assert got == utc(2024, 5, 16, 3)


def test_next_run_falls_back_to_creation_time() -> None:
    """Without a lastBackup the creation time is the reference."""
    got = next_run(DAILY_3AM, last_backup=None, created=utc(2024, 5, 15, 11), now=NOW, paused=False)
    assert got == utc(2024, 5, 16, 3)


def test_next_run_overdue_runs_now() -> None:
    """A next run already in the past means Velero backs up at once, without catching up."""
    got = next_run(DAILY_3AM, last_backup=utc(2024, 5, 1, 3), created=None, now=NOW, paused=False)
    assert got == NOW


def test_next_run_paused_or_without_reference() -> None:
    """A paused schedule, or one with no reference time, has no next run."""
    assert next_run(DAILY_3AM, last_backup=NOW, created=NOW, now=NOW, paused=True) is None
    assert next_run(DAILY_3AM, last_backup=None, created=None, now=NOW, paused=False) is None


def test_next_run_later_skip_wins() -> None:
    """A status.lastSkipped later than lastBackup is the reference, as in Velero's controller."""
    got = next_run(
        DAILY_3AM,
        last_backup=utc(2024, 5, 10, 3),
        created=None,
        now=NOW,
        paused=False,
        last_skipped=utc(2024, 5, 15, 11),
    )
    assert got == utc(2024, 5, 16, 3)


def test_next_run_never_firing_schedule_runs_now() -> None:
    """robfig's zero time for a never-firing schedule is in the past for Velero, so it runs now."""
    got = next_run(parse_cron("0 0 30 2 *"), last_backup=NOW, created=None, now=NOW, paused=False)
    assert got == NOW


def test_next_run_is_utc() -> None:
    """next_run returns UTC even when now is given in another zone."""
    got = next_run(DAILY_3AM, last_backup=None, created=utc(2020, 1, 1), now=ny(2024, 1, 1), paused=False)
    assert got == utc(2024, 1, 1, 5)
    assert got is not None and got.tzinfo is UTC


def test_parsed_schedules_are_values() -> None:
    """Parsed schedules are frozen values: equal text gives equal, hashable objects."""
    assert parse_cron("CRON_TZ=Europe/Paris 0 3 * * *") == parse_cron("CRON_TZ=Europe/Paris 0 3 * * *")
    assert len({parse_cron("@daily"), parse_cron("@daily")}) == 1
    assert isinstance(parse_cron("@daily"), VeleroCron)


# --------------------------------------------------------------------------- properties

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def cron_field(low: int, high: int, names: list[str] | None = None, *, star: bool = True) -> st.SearchStrategy[str]:
    """One field without robfig-only quirks: *, N, a-b (a < b), a-b/s, */s, N/s or a list."""
    num = st.integers(low, high)
    value = num.map(str)
    if names:
        spellings = [v for n in names for v in (n, n.upper(), n.title())]
        value = st.one_of(value, st.sampled_from(spellings))

    def span(a: int, b: int) -> str:
        # a single-value range "N-N" is left out: croniter reads it as "*"
        return f"{min(a, b)}-{max(a, b)}" if a != b else str(a)

    one = st.one_of(
        value,
        st.tuples(num, num).map(lambda p: span(*p)),
        st.tuples(num, num, st.integers(1, 6)).map(lambda p: f"{span(p[0], p[1])}/{p[2]}"),
        st.integers(2, 9).map(lambda n: f"*/{n}"),
        st.tuples(num, st.integers(1, 9)).map(lambda p: f"{p[0]}/{p[1]}"),
    )
    items = st.lists(one, min_size=1, max_size=3).map(",".join)
    return st.one_of(st.just("*"), items) if star else items


MINUTE, HOUR = cron_field(0, 59), cron_field(0, 23)
MONTH = cron_field(1, 12, MONTHS)
DOM, DOW = cron_field(1, 31), cron_field(0, 6, DAYS)
RESTRICTED_DOM, RESTRICTED_DOW = cron_field(1, 31, star=False), cron_field(0, 6, DAYS, star=False)

# Five-field expressions that never restrict day-of-month and day-of-week together.
plain_expr = st.one_of(
    st.tuples(MINUTE, HOUR, RESTRICTED_DOM, MONTH, st.just("*")),
    st.tuples(MINUTE, HOUR, st.just("*"), MONTH, RESTRICTED_DOW),
    st.tuples(MINUTE, HOUR, st.just("*"), MONTH, st.just("*")),
).map(" ".join)

# Any five-field expression (both day fields may be restricted), in UTC or a DST zone.
any_expr = st.tuples(
    st.sampled_from(["", "CRON_TZ=America/New_York ", "TZ=Europe/Berlin "]),
    st.tuples(MINUTE, HOUR, DOM, MONTH, DOW).map(" ".join),
).map("".join)

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))


def next_or_none(cron: VeleroCron, t: datetime) -> datetime | None:
    try:
        return cron.next_after(t)
    except CronNeverFiresError:
        return None


@given(any_expr, times)
def test_next_is_strictly_later(expr: str, t: datetime) -> None:
    """next_after(t) is always strictly after t (or the schedule never fires)."""
    got = next_or_none(parse_cron(expr), t)
    assert got is None or got > t


@given(any_expr, times)
def test_previous_of_next_is_itself(expr: str, t: datetime) -> None:
    """prev_at_or_before(next_after(t)) is next_after(t): activations are their own previous."""
    cron = parse_cron(expr)
    upcoming = next_or_none(cron, t)
    if upcoming is not None:
        assert cron.prev_at_or_before(upcoming) == upcoming


@given(plain_expr, times)
def test_nothing_fires_between_previous_and_t(expr: str, t: datetime) -> None:
    """The previous activation is at or before t and the one after it is already after t."""
    cron = parse_cron(expr)
    before = cron.prev_at_or_before(t)
    if before is not None:
        assert before <= t < cron.next_after(before)


@given(plain_expr, times)
def test_agrees_with_croniter(expr: str, t: datetime) -> None:
    """For plain UTC expressions robfig's Next equals croniter's get_next."""
    ours = next_or_none(parse_cron(expr), t)
    try:
        theirs: datetime | None = croniter(expr, t).get_next(datetime)
    except CroniterBadDateError:
        theirs = None
    assert ours == theirs


@pytest.mark.slow
@given(
    any_expr
    | st.sampled_from(
        [
            "CRON_TZ=America/New_York 30 1 * * *",
            "TZ=Europe/Berlin 30 2 * * *",
            "CRON_TZ=Australia/Lord_Howe 15 2 * * *",
            "0 0 29 2 *",
        ]
    ),
    st.lists(times, min_size=1, max_size=6),
    st.lists(st.integers(-90_000, 90_000), max_size=6),
)
def test_remembered_windows_answer_as_a_fresh_schedule_does(
    expr: str, starts: list[datetime], offsets: list[int]
) -> None:
    """prev_at_or_before remembers the spans it found; asking a used schedule (near what it already
    answered, and elsewhere) gives what a freshly parsed one computes from scratch."""
    used = parse_cron(expr)
    asked = [*starts, *(starts[0] + timedelta(seconds=s) for s in offsets)]
    for t in asked:
        used.prev_at_or_before(t)
    for t in asked:
        assert used.prev_at_or_before(t) == parse_cron(expr).prev_at_or_before(t), t


def test_remembered_window_is_used_and_bounded() -> None:
    cron = parse_cron("0 1 * * *")
    first = cron.prev_at_or_before(utc(2026, 3, 10, 17))
    assert first == utc(2026, 3, 10, 1)
    assert cron._spans.find(int((utc(2026, 3, 11, 0, 59, 59) - utc(1970, 1, 1)).total_seconds())) is not None
    for day in range(cron._spans.LIMIT + 5):
        cron.prev_at_or_before(utc(2000, 1, 1, 2) + timedelta(days=day))
    assert len(cron._spans._starts) <= cron._spans.LIMIT
    assert cron.prev_at_or_before(utc(2026, 3, 10, 17)) == first
