"""The policy rules (design 4): count and age on their typed facts, calendar and growth alone and in a decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.calendar import Days, parse_days
from reconciler.core.chain import Chain, compute_chain
from reconciler.core.cron import parse_cron
from reconciler.core.decide import ScheduleView, decide
from reconciler.core.decision import LastFull
from reconciler.core.model import Action, Checkpoint, Policy
from reconciler.core.rules import age_rule, calendar_rule, count_rule, growth_rule, within_policy
from tests.builders import bsl, cp, index, linear, listing_for, schedule, vm

DAY = timedelta(days=1)


def days(text: str) -> Policy:
    parsed = parse_days(text)
    assert parsed is not None
    return Policy(days=parsed)


def window(cron: str, after: datetime) -> datetime:
    """The schedule's first fire time after `after` (Velero-exact, so DST is what robfig does)."""
    return parse_cron(cron).next_after(after)


def view(policy: Policy, *, cron: str, next_run: datetime, name: str = "nightly") -> ScheduleView:
    sched = schedule(name, cron=cron, last_backup=next_run - DAY)
    return ScheduleView(sched, parse_cron(cron), next_run, policy, bsl())


def chain_before(next_run: datetime, n_incrementals: int = 2, *, every: timedelta = DAY) -> Chain:
    """A full (n_incrementals + 1) * every before the window, then an incremental every `every`."""
    cps = linear(n_incrementals, start=next_run - (n_incrementals + 1) * every, every=every)
    return compute_chain(index(*cps), listing_for(*cps))


def decide_calendar(text: str, cron: str, after: datetime, n_incrementals: int = 2):  # type: ignore[no-untyped-def]
    at = window(cron, after)
    return at, decide(
        vm(), [view(days(text), cron=cron, next_run=at)], chain_before(at, n_incrementals), now=at - timedelta(hours=2)
    )


# --- count and age ---------------------------------------------------------------------------

WINDOW = datetime(2026, 11, 5, 1, 0, tzinfo=UTC)


def test_count_reason_carries_the_count_and_the_interval() -> None:
    """Due at `interval` incrementals, not one before, with both numbers in its reason."""
    chain = compute_chain(index(*linear(4)), listing_for(*linear(4)))
    assert count_rule(chain, Policy(interval=5)) is None
    reason = count_rule(chain, Policy(interval=4))
    assert reason is not None and reason.numbers == {"incrementals": 4, "limit": 4}


def test_last_full_age_is_in_whole_seconds() -> None:
    """A window 0.7 s more than 7d before the next run is 7d old, not 7d and a fraction: the plan shows seconds."""
    window = WINDOW - timedelta(milliseconds=700)
    last = LastFull.at_next_run(window + timedelta(minutes=12), window, WINDOW + 7 * DAY)
    assert last.age == 7 * DAY and last.window == window


def test_age_rule_weighs_the_typed_age_inclusively() -> None:
    """Due at exactly max-age, not a second younger; its numbers are the age facts and the limit."""
    policy = Policy(max_age=7 * DAY)
    young = LastFull(WINDOW + timedelta(minutes=12), WINDOW, 7 * DAY - timedelta(seconds=1))
    assert age_rule(policy, young) is None
    due = age_rule(policy, LastFull(WINDOW + timedelta(minutes=12), WINDOW, 7 * DAY))
    assert due is not None and due.code == "age"
    assert due.numbers == {
        "lastFullAt": "2026-11-05T01:12:00Z",
        "lastFullWindow": "2026-11-05T01:00:00Z",
        "ageAtNextRunSeconds": 7 * 86400,
        "maxAgeSeconds": 7 * 86400,
    }
    assert "window 2026-11-05T01:00:00Z" in due.text and "7d old" in due.text


def test_age_rule_without_a_timed_full_fires_and_says_so() -> None:
    """No timed full: its age is unknown, so the rule fires with the limit alone; no max-age, no rule."""
    reason = age_rule(Policy(max_age=7 * DAY), None)
    assert reason is not None and reason.numbers == {"maxAgeSeconds": 7 * 86400}
    assert "no timestamp" in reason.text
    assert age_rule(Policy(interval=3), None) is None


def test_within_policy_reports_the_typed_age() -> None:
    """The keep reason says where the chain stands against each rule; without a timed full, no age part."""
    chain = compute_chain(index(*linear(2)), listing_for(*linear(2)))
    last = LastFull(WINDOW + timedelta(minutes=12), WINDOW, timedelta(days=3, hours=1))
    reason = within_policy(chain, Policy(interval=7, max_age=7 * DAY), last)
    assert reason.code == "within-policy"
    assert reason.text == "2/7 incrementals, last full 3d1h old at the next run, max-age 7d"
    assert within_policy(chain, Policy(max_age=7 * DAY), None).text == "within policy"


# --- calendar --------------------------------------------------------------------------------


def test_calendar_due_on_a_listed_day_with_its_numbers() -> None:
    """A window on a listed day (UTC schedule) forces a full; the reason names date, weekday, days and zone."""
    _, d = decide_calendar("Sat", "0 1 * * *", datetime(2026, 11, 13, 12, tzinfo=UTC))  # Fri noon -> Sat 01:00
    assert d.action is Action.FORCE_FULL and d.codes == ("calendar",)
    assert d.reasons[0].numbers == {
        "windowDate": "2026-11-14",
        "windowWeekday": "Sat",
        "days": "Sat",
        "timeZone": "UTC",
    }
    assert "falls on Sat 2026-11-14 in UTC, a listed day (Sat)" in d.reasons[0].text


def test_calendar_not_due_on_an_unlisted_day() -> None:
    """A window on a day that is not listed keeps."""
    _, d = decide_calendar("Sat", "0 1 * * *", datetime(2026, 11, 12, 12, tzinfo=UTC))  # -> Fri 01:00
    assert d.action is Action.KEEP and d.codes == ("within-policy",)


def test_calendar_on_a_full_head_is_neither_due_nor_blocked() -> None:
    """A chain whose head is a full needs no calendar full: no reason fires, so the VM keeps (not blocked)."""
    _, d = decide_calendar("Sat", "0 1 * * *", datetime(2026, 11, 13, 12, tzinfo=UTC), n_incrementals=0)
    assert d.action is Action.KEEP and "calendar" not in d.codes


def test_calendar_takes_one_full_per_listed_local_day() -> None:
    """Under an hourly schedule a full taken in a Saturday window makes the later Saturday windows not due."""
    cron = "0 * * * *"
    at = datetime(2026, 11, 14, 5, tzinfo=UTC)  # Saturday 05:00
    cps = linear(3, start=datetime(2026, 11, 14, 1, tzinfo=UTC), every=timedelta(hours=1))  # full at Sat 01:12
    chain = compute_chain(index(*cps), listing_for(*cps))
    d = decide(vm(), [view(days("Sat"), cron=cron, next_run=at)], chain, now=at - timedelta(minutes=30))
    assert d.action is Action.KEEP
    older = chain_before(at, 3)  # full on Wednesday
    d = decide(vm(), [view(days("Sat"), cron=cron, next_run=at)], older, now=at - timedelta(minutes=30))
    assert d.codes == ("calendar",)


@pytest.mark.parametrize(
    ("cron", "after", "listed", "unlisted", "local"),
    [
        # Berlin springs forward on Sun 2026-03-29: 00:30 local is Sat 23:30 UTC. 02:30 does not exist
        # that day, and robfig skips it: the next window is Monday's, so a Sunday-only calendar waits.
        ("CRON_TZ=Europe/Berlin 30 0 * * *", datetime(2026, 3, 28, 12, tzinfo=UTC), "Sun", "Sat", "2026-03-29"),
        ("CRON_TZ=Europe/Berlin 30 2 * * *", datetime(2026, 3, 28, 12, tzinfo=UTC), "Mon", "Sun", "2026-03-30"),
        # Berlin falls back on Sun 2026-10-25: 02:30 happens twice, both on the Sunday.
        ("CRON_TZ=Europe/Berlin 30 2 * * *", datetime(2026, 10, 24, 12, tzinfo=UTC), "Sun", "Sat", "2026-10-25"),
        # New York springs forward on Sun 2026-03-08 (02:30 is skipped) and falls back on Sun 2026-11-01.
        # 02:30 is skipped there too (the next window is Monday's); 01:30 happens twice on the Sunday.
        ("CRON_TZ=America/New_York 30 2 * * *", datetime(2026, 3, 7, 12, tzinfo=UTC), "Mon", "Sun", "2026-03-09"),
        ("CRON_TZ=America/New_York 30 0 * * *", datetime(2026, 3, 7, 12, tzinfo=UTC), "Sun", "Sat", "2026-03-08"),
        ("CRON_TZ=America/New_York 30 0 * * *", datetime(2026, 10, 31, 12, tzinfo=UTC), "Sun", "Sat", "2026-11-01"),
        ("CRON_TZ=America/New_York 30 1 * * *", datetime(2026, 10, 31, 12, tzinfo=UTC), "Sun", "Sat", "2026-11-01"),
        # Late evening in New York is the next day in UTC.
        ("CRON_TZ=America/New_York 30 23 * * *", datetime(2026, 10, 31, 12, tzinfo=UTC), "Sat", "Sun", "2026-10-31"),
        # Apia is UTC+13: 00:30 on Saturday is 11:30 UTC on Friday; 23:30 on Friday is 10:30 UTC on Friday.
        ("TZ=Pacific/Apia 30 0 * * *", datetime(2026, 11, 13, 0, tzinfo=UTC), "Sat", "Fri", "2026-11-14"),
        ("TZ=Pacific/Apia 30 23 * * *", datetime(2026, 11, 12, 12, tzinfo=UTC), "Fri", "Sat", "2026-11-13"),
        # Tokyo is UTC+9: just after local midnight on Saturday is still Friday in UTC.
        ("CRON_TZ=Asia/Tokyo 5 0 * * *", datetime(2026, 11, 13, 12, tzinfo=UTC), "Sat", "Fri", "2026-11-14"),
        ("CRON_TZ=Asia/Tokyo 55 23 * * *", datetime(2026, 11, 13, 12, tzinfo=UTC), "Fri", "Sat", "2026-11-13"),
    ],
)
def test_calendar_day_is_the_schedules_local_day(
    cron: str, after: datetime, listed: str, unlisted: str, local: str
) -> None:
    """The day of a window is read on the schedule's own wall clock, across DST changes and far from UTC."""
    at, due = decide_calendar(listed, cron, after)
    assert due.codes == ("calendar",), (at, due.reasons)
    assert due.reasons[0].numbers["windowDate"] == local
    assert due.reasons[0].numbers["timeZone"] == parse_cron(cron).location
    _, keep = decide_calendar(unlisted, cron, after)
    assert keep.action is Action.KEEP, (at, keep.reasons)


@pytest.mark.parametrize(
    ("after", "due"),
    [
        (datetime(2027, 2, 27, 12, tzinfo=UTC), True),  # 2027-02-28: the last day of a common February
        (datetime(2028, 2, 27, 12, tzinfo=UTC), False),  # 2028-02-28: a leap year's February has a 29th
        (datetime(2028, 2, 28, 12, tzinfo=UTC), True),  # 2028-02-29
        (datetime(2026, 11, 29, 12, tzinfo=UTC), True),  # 2026-11-30
        (datetime(2026, 12, 29, 12, tzinfo=UTC), False),  # 2026-12-30: December has a 31st
    ],
)
def test_calendar_last_day_of_the_month(after: datetime, due: bool) -> None:
    """`L` is the month's last local day: 28 or 29 in February, 30 or 31 elsewhere."""
    _, d = decide_calendar("L", "0 1 * * *", after)
    assert (d.codes == ("calendar",)) is due


def test_calendar_last_day_in_a_zone_east_of_utc() -> None:
    """An 00:30 Tokyo window on 2028-02-29 is 15:30 UTC on the 28th: `L` is read on Tokyo's calendar."""
    at, d = decide_calendar("L", "CRON_TZ=Asia/Tokyo 30 0 * * *", datetime(2028, 2, 28, 12, tzinfo=UTC))
    assert at.day == 28 and d.reasons[0].numbers["windowDate"] == "2028-02-29"


def test_missed_calendar_full_is_caught_up_by_age() -> None:
    """days Sat + max-age 9d: a failed Saturday full is taken by the age rule on Monday."""
    cron = "0 1 * * *"
    monday = datetime(2026, 11, 16, 1, tzinfo=UTC)
    cps = linear(8, start=datetime(2026, 11, 7, 1, tzinfo=UTC))  # full on Sat 11-07; Sat 11-14 stayed incremental
    chain = compute_chain(index(*cps), listing_for(*cps))
    policy = Policy(days=days("Sat").days, max_age=timedelta(days=9))
    d = decide(vm(), [view(policy, cron=cron, next_run=monday)], chain, now=monday - timedelta(hours=5))
    assert d.action is Action.FORCE_FULL and d.codes == ("age",)
    sunday = monday - DAY
    d = decide(vm(), [view(policy, cron=cron, next_run=sunday)], chain, now=sunday - timedelta(hours=5))
    assert d.action is Action.KEEP


def test_calendar_zone_is_that_of_the_schedule_running_next() -> None:
    """Under two schedules, the day is read in the zone of the one whose window comes first."""
    tokyo, utc = "CRON_TZ=Asia/Tokyo 30 0 * * *", "0 20 * * *"
    first = window(tokyo, datetime(2026, 11, 13, 12, tzinfo=UTC))  # Sat 00:30 Tokyo = Fri 15:30 UTC
    views = [
        view(days("Sat"), cron=tokyo, next_run=first, name="tokyo"),
        view(Policy(interval=30), cron=utc, next_run=window(utc, first), name="utc"),
    ]
    d = decide(vm(), views, chain_before(first), now=first - timedelta(hours=2))
    assert d.codes == ("calendar",) and d.reasons[0].numbers["timeZone"] == "Asia/Tokyo"


# --- growth ----------------------------------------------------------------------------------


def sized(full: int, *increments: int, disks: int = 1) -> Chain:
    members: list[Checkpoint] = [cp("c0", size=full, disks=disks)]
    for i, size in enumerate(increments, start=1):
        members.append(cp(f"c{i}", f"c{i - 1}", size=size, disks=disks))
    return compute_chain(index(*members), listing_for(*members))


GROWTH = Policy(max_growth=0.5)
NEXT = datetime(2026, 11, 12, 1, tzinfo=UTC)


def decide_growth(chain: Chain, policy: Policy = GROWTH):  # type: ignore[no-untyped-def]
    return decide(vm(), [view(policy, cron="0 1 * * *", next_run=NEXT)], chain, now=NEXT - timedelta(hours=5))


def test_growth_due_at_the_share_inclusive_with_its_numbers() -> None:
    """Incrementals weighing exactly g x the full force a full; the detail carries both byte counts and the ratio."""
    d = decide_growth(sized(1000, 300, 200))
    assert d.action is Action.FORCE_FULL and d.codes == ("growth",)
    assert d.reasons[0].numbers == {"incrementalBytes": 500, "fullBytes": 1000, "growthRatio": 0.5, "maxGrowth": 0.5}
    assert "500 bytes, 50% of the full's 1000 bytes; max-growth 50%" in d.reasons[0].text


def test_growth_one_byte_short_keeps() -> None:
    """One byte below g x the full is not due."""
    assert decide_growth(sized(1000, 300, 199)).action is Action.KEEP


def test_growth_share_is_exact_not_floating_point() -> None:
    """30% of a 10-byte full is 3 bytes (0.3 * 10 in floats would ask for a hair more)."""
    assert decide_growth(sized(10, 3), Policy(max_growth=0.3)).codes == ("growth",)


def test_growth_counts_every_disk() -> None:
    """Bytes are the sum of every data file of a member, all disks."""
    assert sized(1000, 250, disks=2).incremental_bytes == 500
    assert decide_growth(sized(1000, 250, disks=2), Policy(max_growth=0.25)).codes == ("growth",)


def test_growth_decides_the_same_on_a_compact_chain() -> None:
    """A compact chain (members' files dropped) keeps the full's bytes in its summary and decides alike."""
    chain = sized(1000, 300, 200)
    compact = chain.compact()
    assert compact.root is not None and compact.root.bytes == 0 and compact.full_bytes == 1000
    assert decide_growth(compact).reasons == decide_growth(chain).reasons
    assert decide_growth(sized(1000, 300, 199).compact()).action is Action.KEEP


def test_growth_on_an_empty_full() -> None:
    """A full of 0 bytes: any incremental byte makes a full due (ratio unbounded); 0-byte incrementals do not."""
    d = decide_growth(sized(0, 1))
    assert d.codes == ("growth",) and d.reasons[0].numbers["growthRatio"] is None
    assert "an empty full" in d.reasons[0].text
    assert decide_growth(sized(0, 0, 0)).action is Action.KEEP


def test_growth_on_a_full_head_is_neither_due_nor_blocked() -> None:
    """A chain with no incrementals has not grown: no reason, so not blocked."""
    assert growth_rule(sized(0), GROWTH) is None
    assert decide_growth(sized(1000)).action is Action.KEEP


@given(
    full=st.integers(1, 10**12),
    grown=st.lists(st.integers(0, 10**11), min_size=1, max_size=5),
    percent=st.integers(1, 300),
)
def test_growth_due_exactly_when_bytes_reach_the_share(full: int, grown: list[int], percent: int) -> None:
    """For any sizes and whole percentage, due iff 100 x incremental bytes >= percent x full bytes."""
    reason = growth_rule(sized(full, *grown), Policy(max_growth=percent / 100))
    assert (reason is not None) is (100 * sum(grown) >= percent * full)


def test_calendar_past_the_year_9999_is_never_due() -> None:
    """A window late on 9999-12-31 UTC is in the year 10000 in Tokyo: on no calendar, and no crash."""
    cron = "CRON_TZ=Asia/Tokyo 30 0 * * *"
    at = datetime(9999, 12, 31, 15, 30, tzinfo=UTC)
    assert parse_cron(cron).local_date(at) is None
    d = decide(vm(), [view(days("Mon-Sun"), cron=cron, next_run=at)], chain_before(at), now=at - timedelta(hours=2))
    assert d.action is Action.KEEP


@given(
    weekdays=st.frozensets(st.integers(0, 6)),
    minute=st.integers(0, 60 * 24 * 366 * 3),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Pacific/Apia", "Asia/Tokyo"]),
)
def test_calendar_due_exactly_on_listed_local_weekdays(weekdays: frozenset[int], minute: int, zone: str) -> None:
    """For any instant and zone, a weekday calendar fires iff the instant's weekday on that zone's clock is listed."""
    cron = parse_cron(f"CRON_TZ={zone} * * * * *")
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    policy = Policy(days=Days(weekdays))
    reason = calendar_rule(
        chain_before(at, 1, every=timedelta(days=3)), policy, window=at, cron=cron, last_full_window=None
    )
    assert (reason is not None) is (at.astimezone(ZoneInfo(zone)).weekday() in weekdays)
