"""Decisions (design 4): every rule, its reasons and its numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import keys
from reconciler.core.chain import Chain, compute_chain
from reconciler.core.cron import parse_cron
from reconciler.core.decide import ScheduleView, decide
from reconciler.core.decision import LastFull, last_full, nominal_time
from reconciler.core.model import NO_INDEX, Action, ChainState, Policy, Unreadable
from reconciler.core.state import OwnerState
from tests.builders import T0, bsl, cp, index, linear, listing_for, schedule, vm

DAY = timedelta(days=1)
# Nightly at 01:00; the last backup ran T0 + 10 days, so the next run is T0 + 11 days at 01:00.
LAST = T0 + 10 * DAY
NEXT = T0 + 11 * DAY
NOW = LAST + timedelta(hours=19)


def view(
    policy: Policy | None = None,
    *,
    cron: str = "0 1 * * *",
    name: str = "nightly",
    next_run: datetime | None = NEXT,
    paused: bool = False,
) -> ScheduleView:
    sched = schedule(name, cron=cron, last_backup=LAST, paused=paused)
    return ScheduleView(sched, parse_cron(cron), None if paused else next_run, policy or Policy(interval=7), bsl())


def chain_of(n_incrementals: int, *, start: datetime = T0) -> Chain:
    cps = linear(n_incrementals, start=start)
    return compute_chain(index(*cps), listing_for(*cps))


def test_count_due_at_interval() -> None:
    """A chain with N incrementals is due under interval N; the forced value is the count."""
    d = decide(vm(), [view(Policy(interval=7))], chain_of(7), now=NOW)
    assert d.action is Action.FORCE_FULL and d.codes == ("count",)
    assert d.reasons[0].numbers == {"incrementals": 7, "limit": 7}
    patch = d.patch()
    assert patch is not None
    ann = patch["metadata"]["annotations"]
    assert ann[keys.MAX_INCREMENTAL] == "7"
    assert patch["metadata"]["labels"] == {keys.DUE_LABEL: "true"}
    assert OwnerState(None, "2026-11-11T20:00:00Z", "c0", ("count",)).dump() == ann[keys.STATE]


def test_count_not_due_below_interval() -> None:
    """N-1 incrementals under interval N keep, and the baseline N is written once."""
    d = decide(vm(), [view(Policy(interval=7))], chain_of(6), now=NOW)
    assert d.action is Action.KEEP and d.codes == ("within-policy",)
    patch = d.patch()
    assert patch is not None and patch["metadata"]["annotations"][keys.MAX_INCREMENTAL] == "7"


def test_keep_at_baseline_writes_nothing() -> None:
    """A VM already at its baseline with its state recorded needs no write."""
    managed = vm(annotations={keys.MAX_INCREMENTAL: "7", keys.STATE: OwnerState(None).dump()})
    assert decide(managed, [view()], chain_of(3), now=NOW).patch() is None


def test_age_is_measured_between_windows() -> None:
    """A full taken 12 minutes into its window is 7d old at the window 7 days later (no drift to day 8)."""
    start = NEXT - 7 * DAY  # the full ran in the window exactly 7 days before the next run
    d = decide(vm(), [view(Policy(max_age=timedelta(days=7)))], chain_of(2, start=start), now=NOW)
    assert d.action is Action.FORCE_FULL and d.codes == ("age",)
    assert d.reasons[0].numbers["ageAtNextRunSeconds"] == 7 * 86400
    # The decision keeps the facts it weighed, typed: the full at 01:12, its 01:00 window, 7 days.
    assert d.last_full == LastFull(start + timedelta(minutes=12), start, 7 * DAY)


def test_last_full_is_none_without_a_timed_full_and_the_age_rule_fires() -> None:
    """A chain whose full carries no timestamp has no age to weigh: last_full is None, and max-age forces."""
    cps = (cp("c0", at=None), cp("c1", "c0", at=None))
    chain = compute_chain(index(*cps), listing_for(*cps))
    assert chain.valid and chain.last_full_at is None
    assert last_full(chain, next_run=NEXT, views=[view()]) is None
    d = decide(vm(), [view(Policy(max_age=timedelta(days=7)))], chain, now=NOW)
    assert d.action is Action.FORCE_FULL and d.codes == ("age",) and d.last_full is None


def test_last_full_window_falls_back_to_its_own_time() -> None:
    """A full no schedule window precedes (no usable cron) is its own window; its age runs from its own time."""
    start = NEXT - 3 * DAY
    chain = chain_of(1, start=start)
    at = start + timedelta(minutes=12)
    no_cron = ScheduleView(schedule("broken"), None, None, None, None, ("broken",))
    assert last_full(chain, next_run=NEXT, views=[no_cron]) == LastFull(at, at, NEXT - at)
    assert last_full(chain, next_run=NEXT, views=[view()]) == LastFull(at, start, 3 * DAY)


def test_decisions_taken_before_the_chain_is_read_have_no_facts() -> None:
    """Skips, errors and give-backs measure nothing: no next run, no last full."""
    stopped = decide(vm(status="Stopped"), [view()], chain_of(3), now=NOW)
    broken = decide(vm(annotations={keys.STATE: "{broken"}), [view()], chain_of(3), now=NOW)
    for d in (stopped, broken):
        assert d.action in (Action.SKIP, Action.ERROR) and d.next_run is None and d.last_full is None


def test_age_boundary_is_inclusive_and_one_window_earlier_is_not_due() -> None:
    """At exactly max-age the full is due; one window younger it is not."""
    young = decide(vm(), [view(Policy(max_age=timedelta(days=7)))], chain_of(2, start=NEXT - 6 * DAY), now=NOW)
    assert young.action is Action.KEEP


def test_count_and_age_both_listed() -> None:
    """When both rules fire, both reasons are given with their numbers."""
    d = decide(vm(), [view(Policy(interval=3, max_age=timedelta(days=2)))], chain_of(5, start=T0), now=NOW)
    assert d.codes == ("count", "age")


def test_head_is_full_blocks_an_age_full() -> None:
    """An age-due chain whose head is a full cannot be forced: blocked, with both reasons."""
    d = decide(vm(), [view(Policy(max_age=timedelta(days=1)))], chain_of(0, start=T0), now=NOW)
    assert d.action is Action.BLOCKED and d.codes == ("age", "head-is-full")
    assert d.patch() is None


def test_invalid_chains_are_full_anyway() -> None:
    """No index, empty, unreadable, root-not-full, broken: the controller takes a full; nothing written."""
    cases = {
        ChainState.NO_INDEX: compute_chain(NO_INDEX),
        ChainState.EMPTY: compute_chain(index()),
        ChainState.UNREADABLE: compute_chain(Unreadable("x")),
        ChainState.ROOT_NOT_FULL: compute_chain(index(cp("b", "a"))),
        ChainState.BROKEN: compute_chain(index(*linear(2)), {}),
    }
    for state, chain in cases.items():
        d = decide(vm(), [view()], chain, now=NOW)
        assert d.action is Action.FULL_ANYWAY and d.codes == (str(state),)
        assert d.patch() is None


def test_broken_chain_lists_unrestorable_backups() -> None:
    """A broken chain's reason carries the Velero backups that can no longer be restored."""
    cps = linear(3)
    listing = listing_for(*cps)
    del listing[cps[1].files[0].object_path]
    d = decide(vm(), [view()], compute_chain(index(*cps), listing), now=NOW)
    assert d.reasons[0].numbers["unrestorableBackups"] == ["backup-c1", "backup-c2", "backup-c3"]


def test_skips() -> None:
    """Stopped VMs, CBT off and paused-only schedules are skipped with their reason."""
    assert decide(vm(status="Stopped"), [view()], chain_of(9), now=NOW).codes == ("not-running",)
    assert decide(vm(cbt="Disabled"), [view()], chain_of(9), now=NOW).codes == ("cbt-disabled",)
    assert decide(vm(cbt=""), [view()], chain_of(9), now=NOW).action is Action.SKIP
    assert decide(vm(), [view(paused=True)], chain_of(9), now=NOW).codes == ("schedule-paused",)


def test_opt_out() -> None:
    """A VM that switches every policy off is skipped; if the job managed it, it is given back."""
    off = {keys.INTERVAL: "off"}
    assert decide(vm(annotations=off), [view()], chain_of(9), now=NOW).codes == ("opted-out",)
    managed = {**off, keys.MAX_INCREMENTAL: "7", keys.STATE: OwnerState("12").dump()}
    d = decide(vm(annotations=managed), [view()], chain_of(9), now=NOW)
    assert d.action is Action.RELEASE
    patch = d.patch()
    assert patch is not None
    assert patch["metadata"]["annotations"] == {keys.MAX_INCREMENTAL: "12", keys.STATE: None}


def test_malformed_vm_annotation_is_an_error() -> None:
    """A malformed VM value is an error naming VM, key and value; nothing is written."""
    d = decide(vm(annotations={keys.MAX_AGE: "soon"}), [view()], chain_of(9), now=NOW)
    assert d.action is Action.ERROR and d.codes == ("invalid-annotation",)
    assert 'ns/vm: annotation kubevirt-datamover.io/force-full-backup-max-age="soon"' in d.message
    assert d.patch() is None


def test_vm_override_beats_schedule() -> None:
    """A VM's own interval replaces the schedules' value."""
    d = decide(vm(annotations={keys.INTERVAL: "3"}), [view(Policy(interval=7))], chain_of(3), now=NOW)
    assert d.action is Action.FORCE_FULL and d.reasons[0].numbers["limit"] == 3


def test_strictest_of_several_schedules() -> None:
    """Under two schedules the smaller interval applies."""
    views = [view(Policy(interval=10), name="a"), view(Policy(interval=4), name="b")]
    assert decide(vm(), views, chain_of(4), now=NOW).action is Action.FORCE_FULL


def test_forced_full_landed_restores_baseline() -> None:
    """When a newer full is the root, the forced value goes back to the baseline and the label goes."""
    state = OwnerState("30", "2026-11-01T00:00:00Z", "old-root", ("count",))
    managed = vm(
        annotations={keys.MAX_INCREMENTAL: "7", keys.STATE: state.dump(), keys.DUE_LABEL: "x"},
        labels={keys.DUE_LABEL: "true"},
    )
    d = decide(managed, [view(Policy(interval=7))], chain_of(0, start=LAST), now=NOW)
    assert d.action is Action.RELEASE and d.codes == ("landed",)
    patch = d.patch()
    assert patch is not None
    assert patch["metadata"]["labels"] == {keys.DUE_LABEL: None}
    assert patch["metadata"]["annotations"][keys.STATE] == OwnerState("30").dump()
    assert keys.MAX_INCREMENTAL not in patch["metadata"]["annotations"]  # 7 is already the baseline


def test_re_forcing_keeps_forced_at() -> None:
    """A second run before the full lands writes nothing: forcedAt is kept."""
    first = decide(vm(), [view()], chain_of(7), now=NOW)
    patch = first.patch()
    assert patch is not None
    annotations = {k: v for k, v in patch["metadata"]["annotations"].items() if v is not None}
    again = vm(annotations=annotations, labels={keys.DUE_LABEL: "true"})
    assert decide(again, [view()], chain_of(7), now=NOW + timedelta(hours=1)).patch() is None


def test_left_policy_restores_original_exactly() -> None:
    """A managed VM under no policy schedule gets its original value back and loses the job's keys."""
    managed = vm(annotations={keys.MAX_INCREMENTAL: "7", keys.STATE: OwnerState(None).dump()})
    d = decide(managed, [], chain_of(3), now=NOW)
    assert d.action is Action.RELEASE and d.codes == ("left-policy",)
    patch = d.patch()
    assert patch is not None
    assert patch["metadata"]["annotations"] == {keys.MAX_INCREMENTAL: None, keys.STATE: None}


def test_malformed_state_annotation_is_an_error() -> None:
    """A damaged state annotation is never guessed at: error, nothing written."""
    d = decide(vm(annotations={keys.STATE: "{broken"}), [view()], chain_of(9), now=NOW)
    assert d.action is Action.ERROR and "full-backup-reconciler" in d.message


def test_nominal_time_is_the_window_at_or_before() -> None:
    """The nominal time of a backup is its schedule's latest fire time at or before it."""
    v = view()
    at = datetime(2026, 11, 5, 1, 12, tzinfo=UTC)
    assert nominal_time(at, [v]) == datetime(2026, 11, 5, 1, 0, tzinfo=UTC)
    assert nominal_time(datetime(2026, 11, 5, 1, 0, tzinfo=UTC), [v]) == datetime(2026, 11, 5, 1, 0, tzinfo=UTC)


@given(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=60), st.integers(0, 20))
def test_more_incrementals_never_undo_a_count_due(interval: int, incrementals: int, extra: int) -> None:
    """If a chain is count-due, a longer chain is due too."""
    views = [view(Policy(interval=interval))]
    if decide(vm(), views, chain_of(incrementals), now=NOW).action is Action.FORCE_FULL:
        assert decide(vm(), views, chain_of(incrementals + extra), now=NOW).action is Action.FORCE_FULL


@given(st.integers(min_value=1, max_value=20), st.integers(min_value=-3, max_value=3))
def test_age_boundary_inclusive(days: int, offset: int) -> None:
    """Due exactly when (next run - window of the last full) >= max-age."""
    start = NEXT - (days + offset) * DAY
    d = decide(vm(), [view(Policy(max_age=timedelta(days=days)))], chain_of(1, start=start), now=NOW)
    assert (d.action is Action.FORCE_FULL) == (offset >= 0)


def test_forced_full_not_landed_stays_forced() -> None:
    """A full forced earlier (here pulled forward by a budget) whose root has not changed stays forced,
    with the recorded reasons, and a re-run writes nothing."""
    chain = chain_of(3)
    state = OwnerState("5", "2026-11-10T20:00:00Z", "c0", ("staggered",))
    forced = vm(annotations={keys.MAX_INCREMENTAL: "3", keys.STATE: state.dump()}, labels={keys.DUE_LABEL: "true"})
    d = decide(forced, [view(Policy(interval=7))], chain, now=NOW)
    assert d.action is Action.FORCE_FULL and d.codes == ("staggered",)
    assert d.reasons[0].numbers == {"forcedAt": "2026-11-10T20:00:00Z", "forcedRoot": "c0"}
    assert d.patch() is None


def test_forced_full_not_landed_follows_a_longer_chain() -> None:
    """If a forced backup came out incremental anyway (the chain grew), the forced value follows the count."""
    state = OwnerState(None, "2026-11-10T20:00:00Z", "c0", ("staggered",))
    forced = vm(annotations={keys.MAX_INCREMENTAL: "3", keys.STATE: state.dump()}, labels={keys.DUE_LABEL: "true"})
    d = decide(forced, [view(Policy(interval=7))], chain_of(4), now=NOW)
    assert d.action is Action.FORCE_FULL and d.codes == ("staggered",)
    patch = d.patch()
    assert patch is not None and patch["metadata"]["annotations"] == {keys.MAX_INCREMENTAL: "4"}


def test_forced_state_on_a_full_head_is_dropped() -> None:
    """A forced state naming the current root with no incremental cannot force anything: back to keep."""
    state = OwnerState(None, "2026-11-10T20:00:00Z", "c0", ("staggered",))
    forced = vm(annotations={keys.MAX_INCREMENTAL: "0", keys.STATE: state.dump()}, labels={keys.DUE_LABEL: "true"})
    d = decide(forced, [view(Policy(interval=7))], chain_of(0, start=LAST), now=NOW)
    assert d.action is Action.KEEP
    patch = d.patch()
    assert patch is not None and patch["metadata"]["labels"] == {keys.DUE_LABEL: None}
