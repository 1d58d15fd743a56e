"""Decisions beside the controller's own rules (design 4.5, 5): its global limit, its tracker, and warnings."""

from __future__ import annotations

from datetime import timedelta

from reconciler.core import keys
from reconciler.core.chain import Chain, compute_chain
from reconciler.core.controller import GlobalLimit, Trackers, Upstream, parse_tracker
from reconciler.core.decide import decide
from reconciler.core.events import vm_events
from reconciler.core.model import Action, Policy
from reconciler.core.state import OwnerState
from tests.builders import bsl, index, linear, listing_for, vm
from tests.test_controller import tracker
from tests.test_decide import LAST, NOW, T0, view

GLOBAL5 = Upstream(GlobalLimit(5, "deployment velero/c"), Trackers.of((), source="cluster"))
UNLIMITED = GlobalLimit(0, "deployment velero/c")
UNKNOWN = Upstream(GlobalLimit(None, "unknown", "no controller Deployment"), Trackers.of((), source="cluster"))


def chain_of(n: int) -> Chain:
    cps = linear(n, start=T0)
    return compute_chain(index(*cps), listing_for(*cps))


def with_trackers(*objs: dict[str, object], limit: GlobalLimit = UNLIMITED) -> Upstream:
    return Upstream(limit, Trackers.of([parse_tracker(o) for o in objs], source="cluster"))


def annotations_of(d: object) -> dict[str, str | None]:
    patch = d.patch()  # type: ignore[attr-defined]
    assert patch is not None
    return dict(patch["metadata"].get("annotations") or {})


# ------------------------------------------------------------------------ the global limit


def test_global_five_interval_seven_writes_baseline_five() -> None:
    """The VM annotation overrides the global value: writing 7 would lengthen every chain from 5 to 7."""
    d = decide(vm(), [view(Policy(interval=7))], chain_of(3), now=NOW, upstream=GLOBAL5)
    assert d.action is Action.KEEP
    assert annotations_of(d)[keys.MAX_INCREMENTAL] == "5"


def test_the_controllers_own_full_is_full_anyway_with_its_numbers() -> None:
    """Incrementals reach the global limit: the controller takes the full, the job writes nothing."""
    d = decide(vm(), [view(Policy(interval=7))], chain_of(5), now=NOW, upstream=GLOBAL5)
    assert d.action is Action.FULL_ANYWAY and d.codes == ("controller-limit",)
    assert d.reasons[0].numbers["controllerLimit"] == 5
    assert "deployment velero/c" in d.reasons[0].numbers["controllerLimitFrom"]
    assert d.patch() is None


def test_the_vms_own_value_as_found_decides_the_controllers_limit() -> None:
    """The state's `original` is the VM's own value, not the baseline the job wrote since."""
    managed = vm(annotations={keys.MAX_INCREMENTAL: "3", keys.STATE: OwnerState("3").dump()})
    d = decide(managed, [view(Policy(interval=7))], chain_of(3), now=NOW, upstream=GLOBAL5)
    assert d.codes == ("controller-limit",) and d.reasons[0].numbers["controllerLimit"] == 3


def test_a_looser_value_left_by_an_earlier_run_is_corrected() -> None:
    """A baseline 7 written before the global value was known would keep the controller from its full at 5:
    the job writes the baseline that makes the predicted full happen, and only that."""
    old = vm(annotations={keys.MAX_INCREMENTAL: "7", keys.STATE: OwnerState(None).dump()})
    d = decide(old, [view(Policy(interval=7))], chain_of(5), now=NOW, upstream=GLOBAL5)
    assert d.action is Action.FULL_ANYWAY and d.codes == ("controller-limit",)
    assert annotations_of(d) == {keys.MAX_INCREMENTAL: "5"}


def test_a_pending_forced_full_stays_forced_while_the_controller_takes_it() -> None:
    """full-anyway over a forced full writes nothing; once the full lands the release still comes."""
    state = OwnerState(None, "2026-11-09T20:00:00Z", "c0", ("count",))
    forced = vm(annotations={keys.MAX_INCREMENTAL: "4", keys.STATE: state.dump()}, labels={keys.DUE_LABEL: "true"})
    d = decide(forced, [view(Policy(interval=4))], chain_of(5), now=NOW, upstream=GLOBAL5)
    assert d.action is Action.FULL_ANYWAY and d.patch() is None
    landed = compute_chain(index(*linear(1, start=LAST, prefix="n")))
    after = decide(forced, [view(Policy(interval=4))], landed, now=NOW, upstream=GLOBAL5)
    assert after.action is Action.RELEASE and after.codes == ("landed",)
    assert annotations_of(after) == {keys.STATE: OwnerState(None).dump()}  # the baseline 4 is already there
    patch = after.patch()
    assert patch is not None and patch["metadata"]["labels"] == {keys.DUE_LABEL: None}


def test_broken_and_unknown_chains_come_first() -> None:
    """An index that could not be read is an error, a broken chain full-anyway, before the controller's limit."""
    assert decide(vm(), [view()], Chain(compute_chain(index()).state), now=NOW, upstream=GLOBAL5).codes == (
        "empty-index",
    )
    cps = linear(9)
    listing = listing_for(*cps)
    del listing[cps[3].files[0].object_path]
    d = decide(vm(), [view()], compute_chain(index(*cps), listing), now=NOW, upstream=GLOBAL5)
    assert d.codes == ("broken-chain",)


# -------------------------------------------------------------------------- unknown global


def test_unknown_global_writes_no_baseline_on_a_new_vm() -> None:
    """Keep on a VM the job never managed: its own value stays (absent stays absent); only the state is recorded."""
    d = decide(vm(), [view(Policy(interval=7))], chain_of(3), now=NOW, upstream=UNKNOWN)
    assert d.action is Action.KEEP
    assert annotations_of(d) == {keys.STATE: OwnerState(None).dump()}


def test_unknown_global_gives_a_managed_vm_its_original_back() -> None:
    """A baseline written earlier may now be looser than a global value nobody could read: the original returns."""
    none = vm(annotations={keys.MAX_INCREMENTAL: "7", keys.STATE: OwnerState(None).dump()})
    assert annotations_of(decide(none, [view(Policy(interval=7))], chain_of(3), now=NOW, upstream=UNKNOWN)) == {
        keys.MAX_INCREMENTAL: None
    }
    junk = vm(annotations={keys.MAX_INCREMENTAL: "7", keys.STATE: OwnerState("soon").dump()})
    assert annotations_of(decide(junk, [view(Policy(interval=7))], chain_of(3), now=NOW, upstream=UNKNOWN)) == {
        keys.MAX_INCREMENTAL: "soon"
    }


def test_unknown_global_still_forces_due_fulls() -> None:
    """A due full is forced with the current count whatever the global value is."""
    d = decide(vm(), [view(Policy(interval=7))], chain_of(7), now=NOW, upstream=UNKNOWN)
    assert d.action is Action.FORCE_FULL and annotations_of(d)[keys.MAX_INCREMENTAL] == "7"


def test_unknown_global_with_a_number_of_the_vms_own_still_has_a_baseline() -> None:
    """The controller never reads the global value for a VM with its own valid number: that limit is known."""
    own = vm(annotations={keys.MAX_INCREMENTAL: "30"})
    d = decide(own, [view(Policy(interval=7))], chain_of(3), now=NOW, upstream=UNKNOWN)
    assert annotations_of(d)[keys.MAX_INCREMENTAL] == "7"


# -------------------------------------------------------------------------------- trackers


def test_a_stale_tracker_is_full_anyway_even_when_a_policy_is_due() -> None:
    """The controller's tracker names an older checkpoint: a full without any action, nothing written."""
    up = with_trackers(tracker("vm", "c6"))
    d = decide(vm(), [view(Policy(interval=7))], chain_of(7), now=NOW, upstream=up)
    assert d.action is Action.FULL_ANYWAY and d.codes == ("tracker-mismatch",) and d.patch() is None
    assert d.reasons[0].numbers["indexLatest"] == "c7"


def test_a_current_tracker_changes_nothing() -> None:
    """A tracker naming the latest checkpoint leaves the policy to decide."""
    d = decide(vm(), [view(Policy(interval=7))], chain_of(7), now=NOW, upstream=with_trackers(tracker("vm", "c7")))
    assert d.action is Action.FORCE_FULL


def test_both_controller_rules_are_reported() -> None:
    """Limit reached and tracker stale: both reasons, the limit first as the controller checks it first."""
    up = with_trackers(tracker("vm", "c1"), limit=GLOBAL5.limit)
    d = decide(vm(), [view(Policy(interval=7))], chain_of(6), now=NOW, upstream=up)
    assert d.codes == ("controller-limit", "tracker-mismatch")


# -------------------------------------------------------------------------------- warnings


def test_size_mismatch_is_a_warning_and_an_event_not_a_decision() -> None:
    """A resized object: the same decision as with the right size, plus a warning and a Warning Event."""
    cps = linear(3, start=T0)
    listing = listing_for(*cps)
    right = decide(vm(), [view(Policy(interval=7))], compute_chain(index(*cps), listing), now=NOW)
    listing[cps[2].files[0].object_path] = 5
    d = decide(vm(), [view(Policy(interval=7))], compute_chain(index(*cps), listing), now=NOW)
    assert (d.action, d.codes, d.patch()) == (right.action, right.codes, right.patch())
    path = cps[2].files[0].object_path
    assert [w.doc() for w in d.warnings] == [
        {
            "code": "size-mismatch",
            "message": f"c2: {path}: 5 bytes in the bucket, 100 in the index",
            "checkpoint": "c2",
            "objectPath": path,
            "bucketBytes": 5,
            "indexBytes": 100,
        }
    ]
    events = [e for e in vm_events(d) if e.reason == keys.EVENT_SIZE_MISMATCH]
    assert len(events) == 1 and events[0].type == "Warning" and "5 bytes in the bucket" in events[0].message
    assert not [e for e in vm_events(right) if e.reason == keys.EVENT_SIZE_MISMATCH]


def test_two_bsls_warn_on_the_vm() -> None:
    """Schedules writing one VM to two storage locations warn (design 2.1 rule 4)."""
    other = view(name="offsite", next_run=NOW + timedelta(hours=8))
    other = type(other)(other.schedule, other.cron, other.next_run, other.policy, bsl("offsite", prefix="dr"))
    d = decide(vm(), [view(), other], chain_of(2), now=NOW)
    assert [w.code for w in d.warnings] == ["two-bsls"]
