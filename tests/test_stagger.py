"""Staggering (design 4.6): spare budget pulls fulls forward from the busiest future windows; due fulls stay."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.core import keys
from reconciler.core.chain import Chain, compute_chain
from reconciler.core.decide import Decision, ScheduleView, decide
from reconciler.core.decision import LastFull
from reconciler.core.model import NO_INDEX, VM, Action
from reconciler.core.plan import build_plan, targets, view_schedules
from reconciler.core.stagger import STAGGERED, stagger, stagger_key
from reconciler.core.state import OwnerState
from tests.builders import T0, bsl, index, linear, listing_for, schedule, vm

DAY = timedelta(days=1)
LAST = T0 + 10 * DAY  # the nightly schedule last ran here; its next run is LAST + 1 day, 01:00
NOW = LAST + timedelta(hours=19)


def views(
    interval: int | None = 7,
    budget: int | None = None,
    *,
    max_age: str | None = None,
    name: str = "nightly",
    cron: str = "0 1 * * *",
    days: str | None = None,
    growth: str | None = None,
) -> tuple[ScheduleView, ...]:
    annotations = {}
    if days is not None:
        annotations[keys.DAYS] = days
    if growth is not None:
        annotations[keys.MAX_GROWTH] = growth
    if interval is not None:
        annotations[keys.INTERVAL] = str(interval)
    if max_age is not None:
        annotations[keys.MAX_AGE] = max_age
    if budget is not None:
        annotations[keys.MAX_PER_RUN] = str(budget)
    sched = schedule(name, cron=cron, annotations=annotations, last_backup=LAST)
    return view_schedules([sched], [bsl()], now=NOW)


def chain_of(incrementals: int) -> Chain:
    cps = linear(incrementals, start=LAST - incrementals * DAY)
    return compute_chain(index(*cps), listing_for(*cps))


def fleet(incrementals: Sequence[int], schedule_views: Sequence[ScheduleView]) -> list[Decision]:
    """One VM per entry, with that many incrementals, decided under the schedules."""
    return [
        decide(vm(f"vm-{i:03d}"), schedule_views, chain_of(k) if k >= 0 else compute_chain(NO_INDEX), now=NOW)
        for i, k in enumerate(incrementals)
    ]


def fulls(decisions: Sequence[Decision]) -> int:
    return sum(d.action in (Action.FORCE_FULL, Action.FULL_ANYWAY) for d in decisions)


def pulled(decisions: Sequence[Decision]) -> list[str]:
    return [d.vm.name for d in decisions if STAGGERED in d.codes]


def test_without_a_budget_nothing_changes() -> None:
    """A schedule without max-per-run staggers nothing."""
    decisions = fleet([1] * 20 + [7] * 3, views(7))
    assert stagger(decisions, now=NOW) == tuple(decisions)


def test_due_fulls_are_never_postponed() -> None:
    """Ten due VMs under a budget of three all stay forced, and nothing more is pulled."""
    decisions = fleet([7] * 10 + [3] * 20, views(7, budget=3))
    out = stagger(decisions, now=NOW)
    assert [d.action for d in out[:10]] == [Action.FORCE_FULL] * 10
    assert all(d.codes == ("count",) for d in out[:10])
    assert pulled(out) == []


def test_spare_budget_pulls_from_the_busiest_window() -> None:
    """With 5 VMs due in 2 windows and 2 due in 1, the budget pulls from the window of 5, not the soonest."""
    decisions = fleet([5] * 5 + [6] * 2, views(7, budget=3))
    out = stagger(decisions, now=NOW)
    names = pulled(out)
    assert names and all(int(n.split("-")[1]) < 5 for n in names)


def test_pulls_stop_once_this_run_is_as_busy_as_the_busiest_window() -> None:
    """Loads 5 and 2 ahead, budget 3: two pulls leave 2 now, 2 and 3 ahead; a third would only move the peak."""
    out = stagger(fleet([5] * 5 + [6] * 2, views(7, budget=3)), now=NOW)
    assert len(pulled(out)) == 2


def test_the_budget_caps_the_pulls() -> None:
    """300 VMs all due in the same future window and a budget of 42: exactly 42 are pulled."""
    out = stagger(fleet([1] * 300, views(7, budget=42)), now=NOW)
    assert len(pulled(out)) == 42 and fulls(out) == 42


def test_due_and_full_anyway_count_against_the_budget() -> None:
    """Two due and one without an index use three of a budget of five: two more are pulled at most."""
    out = stagger(fleet([7, 7, -1] + [2] * 30, views(7, budget=5)), now=NOW)
    assert fulls(out) == 5 and len(pulled(out)) == 2


def test_only_vms_with_an_incremental_are_pulled() -> None:
    """On a full head the controller's rule cannot force a full, so such VMs are never pulled."""
    out = stagger(fleet([0] * 30, views(7, budget=10)), now=NOW)
    assert pulled(out) == []


def test_a_staggered_decision_is_written_like_a_forced_full() -> None:
    """Annotation = the current incrementals, the due label, and a state naming the root being replaced."""
    schedule_views = views(7, budget=1)
    machines = [vm(f"vm-{i:03d}", annotations={keys.MAX_INCREMENTAL: "12"}) for i in range(3)]
    out = stagger([decide(m, schedule_views, chain_of(2), now=NOW) for m in machines], now=NOW)
    (d,) = [d for d in out if d.action is Action.FORCE_FULL]
    assert d.codes == (STAGGERED,)
    patch = d.patch()
    assert patch is not None
    assert patch["metadata"]["annotations"] == {
        keys.MAX_INCREMENTAL: "2",
        keys.STATE: OwnerState("12", "2026-11-11T20:00:00Z", "c0", (STAGGERED,)).dump(),
    }
    assert patch["metadata"]["labels"] == {keys.DUE_LABEL: "true"}
    numbers = d.reasons[0].numbers
    assert numbers["budget"] == 1 and numbers["dueInWindows"] == 5 and numbers["fullsThisRun"] == 1
    assert numbers["dueWindow"] == "2026-11-17T01:00:00Z" and numbers["windowLoad"] == 3


def test_ties_go_to_the_soonest_window_then_the_stable_hash() -> None:
    """Equal loads in 2 and 3 windows: the one pull comes from 2 windows ahead, the VM with the lowest hash."""
    decisions = fleet([5] * 4 + [4] * 4, views(7, budget=1))
    out = stagger(decisions, now=NOW)
    expected = min((d.vm.name for d in decisions[:4]), key=lambda n: stagger_key("ns", n))
    assert pulled(out) == [expected]


def test_a_re_run_with_nothing_changed_writes_nothing() -> None:
    """Run once, apply the patches, run again: the pulled VMs stay forced (reason staggered), no writes."""
    schedule_views = views(7, budget=4)
    machines = [vm(f"vm-{i:03d}") for i in range(12)]
    chains = {m.key: chain_of(1 + i % 3) for i, m in enumerate(machines)}
    first = build_plan(now=NOW, views=schedule_views, covered=targets(schedule_views, machines), chains=chains)
    assert len(pulled(first.decisions)) == 3  # 4 + 4 + 4 ahead levels out at 3 now and 3 + 3 + 3 ahead
    after = [_patched(d.vm, d.patch()) for d in first.decisions]
    second = build_plan(
        now=NOW + timedelta(minutes=30), views=schedule_views, covered=targets(schedule_views, after), chains=chains
    )
    assert [d.patch() for d in second.decisions] == [None] * 12
    assert pulled(second.decisions) == pulled(first.decisions)


def _patched(machine: VM, patch: dict[str, object] | None) -> VM:
    if patch is None:
        return machine
    meta = patch["metadata"]
    assert isinstance(meta, dict)
    annotations = {**machine.annotations, **meta.get("annotations", {})}
    labels = {**machine.labels, **meta.get("labels", {})}
    return vm(
        machine.name,
        annotations={k: v for k, v in annotations.items() if v is not None},
        labels={k: v for k, v in labels.items() if v is not None},
    )


def test_the_strictest_budget_applies_under_the_next_running_schedule() -> None:
    """A VM under two schedules spends the smaller budget, counted with the schedule that runs next."""
    early = views(7, budget=10, name="early", cron="0 1 * * *")
    late = views(7, budget=1, name="late", cron="0 3 * * *")
    out = stagger(fleet([1] * 10, early + late), now=NOW)
    assert len(pulled(out)) == 1


def test_age_policy_projects_the_window_the_full_turns_max_age() -> None:
    """Under max-age 7d, fulls 6 days old at the next run are due in 1 window, 3 days old in 4: the budget
    takes from the bigger group."""
    schedule_views = views(None, budget=2, max_age="7d")
    decisions = fleet([5] * 2 + [2] * 6, schedule_views)
    out = stagger(decisions, now=NOW)
    assert len(pulled(out)) == 2 and all(int(n.split("-")[1]) >= 2 for n in pulled(out))


def test_age_projection_reads_the_decisions_typed_age() -> None:
    """Five VMs alike by their chains (3 days old, due in 4 windows); three carry a last full 6 days old:
    the projection puts those three in the next window, the busiest, and the one pull comes from them,
    due in 1 window."""
    decided = fleet([2] * 5, views(None, budget=2, max_age="7d"))
    assert all(d.action is Action.KEEP and d.last_full is not None for d in decided)
    older = [_aged(d, 6 * DAY) if i < 3 else d for i, d in enumerate(decided)]
    out = stagger(older, now=NOW)
    assert len(pulled(out)) == 1 and pulled(out)[0] in {"vm-000", "vm-001", "vm-002"}
    (d,) = [d for d in out if STAGGERED in d.codes]
    assert d.reasons[0].numbers["dueInWindows"] == 1 and d.reasons[0].numbers["windowLoad"] == 3
    # The same VMs as their chains say: all five in window 4, and both pulls come from there.
    same = [d.reasons[0].numbers["dueInWindows"] for d in stagger(decided, now=NOW) if STAGGERED in d.codes]
    assert same == [4, 4]


def _aged(d: Decision, age: timedelta) -> Decision:
    """The decision with its last full's window `age` old at the next run, its chain as it was."""
    assert d.last_full is not None
    return replace(d, last_full=LastFull(d.last_full.at, d.last_full.window, age))


# --- properties --------------------------------------------------------------------------------

incrementals = st.lists(st.integers(min_value=-1, max_value=12), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(incrementals, st.integers(min_value=1, max_value=10), st.integers(min_value=1, max_value=15))
def test_due_fulls_stay_and_the_budget_is_respected(counts: list[int], interval: int, budget: int) -> None:
    """Every full decide wants stays as it was; a run has at most max(budget, due) fulls; only keeps change."""
    decisions = fleet(counts, views(interval, budget=budget))
    out = stagger(decisions, now=NOW)
    due = fulls(decisions)
    assert fulls(out) <= max(budget, due)
    for before, after in zip(decisions, out, strict=True):
        if before.action is not Action.KEEP:
            assert after == before
        elif after != before:
            assert after.action is Action.FORCE_FULL and after.codes == (STAGGERED,)
            assert before.chain.incrementals >= 1


@settings(max_examples=40, deadline=None)
@given(incrementals, st.integers(min_value=1, max_value=10), st.integers(min_value=1, max_value=15), st.randoms())
def test_deterministic_whatever_the_order(counts: list[int], interval: int, budget: int, rnd: random.Random) -> None:
    """The same VMs in any order get the same pulls: the choice depends on names, never on positions."""
    decisions = fleet(counts, views(interval, budget=budget))
    shuffled = list(decisions)
    rnd.shuffle(shuffled)
    assert stagger(decisions, now=NOW) == stagger(decisions, now=NOW)
    assert sorted(pulled(stagger(shuffled, now=NOW))) == sorted(pulled(stagger(decisions, now=NOW)))


@settings(max_examples=40, deadline=None)
@given(incrementals, st.integers(min_value=1, max_value=10), st.integers(min_value=1, max_value=15))
def test_pulls_never_make_this_run_busier_than_the_peak_they_relieve(
    counts: list[int], interval: int, budget: int
) -> None:
    """A run that pulls ends with fewer fulls than the busiest window ahead had before: it levels, never overshoots."""
    decisions = fleet(counts, views(interval, budget=budget))
    out = stagger(decisions, now=NOW)
    if not pulled(out):
        return
    ahead = Counter(max(interval - d.chain.incrementals, 0) for d in decisions if d.action is Action.KEEP)
    assert fulls(out) < max(ahead.values())


def test_calendar_projects_the_first_listed_day() -> None:
    """days Sat: every VM is projected into Saturday's window (2 ahead of Thursday's), so spare budget pulls from it."""
    schedule_views = views(None, 2, days="Sat")
    decided = fleet([1, 2, 3, 4, 5, 6], schedule_views)
    assert all(d.action is Action.KEEP for d in decided)
    out = stagger(decided, now=NOW)
    assert len(pulled(out)) == 2
    assert {d.reasons[0].numbers["dueInWindows"] for d in out if STAGGERED in d.codes} == {2}
    assert {d.reasons[0].numbers["dueWindow"] for d in out if STAGGERED in d.codes} == {"2026-11-14T01:00:00Z"}


def test_calendar_with_days_of_the_month_projects_over_a_month() -> None:
    """days L: the month's last day is 18 windows ahead of Nov 12, within the month-long cycle, so it is pulled from."""
    out = stagger(fleet([1, 2, 3, 4], views(None, 1, days="L")), now=NOW)
    assert len(pulled(out)) == 1
    assert {d.reasons[0].numbers["dueWindow"] for d in out if STAGGERED in d.codes} == {"2026-11-30T01:00:00Z"}


def test_growth_is_not_projected() -> None:
    """Growth depends on the change rate: a growth-only schedule projects nothing, so its budget pulls nothing."""
    decided = fleet([1, 2, 3, 4, 5, 6], views(None, 3, growth="10000%"))
    assert all(d.action is Action.KEEP for d in decided)
    assert stagger(decided, now=NOW) == tuple(decided)
