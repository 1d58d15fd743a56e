"""Ownership of the VM annotation (design 5)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import keys
from reconciler.core.state import Desired, OwnerState, baseline, controller_limit, merge_patch, parse_state


def test_state_json_is_compact_and_ordered() -> None:
    """The state annotation is compact JSON with original, forcedAt, forcedRoot, reasons in that order."""
    text = OwnerState("5", "2026-11-24T20:00:00Z", "c0", ("count", "age")).dump()
    assert text == '{"original":"5","forcedAt":"2026-11-24T20:00:00Z","forcedRoot":"c0","reasons":["count","age"]}'


@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()), st.lists(st.text(), max_size=3))
def test_state_round_trips(original: str | None, root: str | None, reasons: list[str]) -> None:
    """Any recorded original value, even odd Unicode, comes back exactly."""
    state = OwnerState(original, None, root, tuple(reasons))
    assert parse_state(state.dump()) == state


def test_malformed_state_is_reported() -> None:
    """A state annotation that is not the documented JSON is an error, not a guess."""
    assert isinstance(parse_state("{"), str)
    assert isinstance(parse_state("[]"), str)
    assert "original" in str(parse_state('{"original": 5}'))


def test_controller_limit_reads_like_go_atoi() -> None:
    """The controller ignores unparsable and negative values; "0" means unlimited."""
    assert [controller_limit(v) for v in ("7", "+7", "0", "-1", "x", "", None)] == [7, 7, 0, None, None, None, None]


def test_baseline_is_the_interval() -> None:
    """Between forced fulls the annotation holds the count policy N."""
    assert baseline(None, 7) == "7"
    assert baseline("30", 7) == "7"
    assert baseline("0", 7) == "7"  # "0" = unlimited is looser than 7
    assert baseline("junk", 7) == "7"


def test_baseline_keeps_a_stricter_original() -> None:
    """A stricter positive limit found on the VM stays."""
    assert baseline("3", 7) == "3"


def test_baseline_without_count_policy_is_the_original() -> None:
    """With only an age policy, the annotation keeps what was found (or stays absent)."""
    assert baseline("12", None) == "12"
    assert baseline(None, None) is None


def test_baseline_is_never_looser_than_the_global_limit() -> None:
    """Global 5 and interval 7: the VM annotation overrides the global value, so the baseline is 5."""
    assert baseline(None, 7, global_limit=5) == "5"
    assert baseline("junk", 7, global_limit=5) == "5"  # the controller ignores "junk" and applies the global
    assert baseline(None, 7, global_limit=9) == "7"
    assert baseline(None, 7, global_limit=0) == "7"  # 0 = unlimited


def test_the_vms_own_number_wins_over_the_global_limit() -> None:
    """A valid original value is what the controller applies without the job, whatever the global is."""
    assert baseline("9", 7, global_limit=5) == "7"
    assert baseline("3", 7, global_limit=5) == "3"
    assert baseline("0", 7, global_limit=5) == "7"
    assert baseline("9", 7, global_limit=None) == "7"  # known without the global value


def test_unknown_global_limit_gives_the_vm_its_own_value() -> None:
    """Without the global value and without a number of the VM's own, no baseline: the value found stays."""
    assert baseline(None, 7, global_limit=None) is None
    assert baseline("junk", 7, global_limit=None) == "junk"


@given(
    st.one_of(st.none(), st.sampled_from(["0", "1", "3", "7", "12", "-2", "x", "+4", "07"])),
    st.integers(min_value=1, max_value=15),
    st.one_of(st.none(), st.integers(min_value=0, max_value=15)),
)
def test_baseline_never_loosens_the_controller(original: str | None, interval: int, global_limit: int | None) -> None:
    """The limit the controller applies with the baseline is never looser than without the job (design 5)."""
    without = controller_limit(original)
    without = without if without is not None else global_limit
    written = baseline(original, interval, global_limit=global_limit)
    applied = controller_limit(written)
    applied = applied if applied is not None else global_limit
    if without is None:
        assert written == original
        return
    assert applied is not None
    unlimited = 1 << 64
    assert (applied or unlimited) <= (without or unlimited)
    assert (applied or unlimited) <= interval


def test_patch_only_carries_differences_and_the_resource_version() -> None:
    """Only keys that differ are sent, with the resourceVersion that guards the write."""
    desired = Desired("7", OwnerState(None), due_label=False)
    current = {keys.MAX_INCREMENTAL: "7"}
    patch = merge_patch(annotations=current, labels={}, desired=desired, resource_version="42")
    assert patch == {"metadata": {"annotations": {keys.STATE: OwnerState(None).dump()}, "resourceVersion": "42"}}


def test_no_patch_when_already_there() -> None:
    """A VM already in the desired state needs no write."""
    desired = Desired("7", OwnerState(None), due_label=False)
    current = {keys.MAX_INCREMENTAL: "7", keys.STATE: OwnerState(None).dump()}
    assert merge_patch(annotations=current, labels={}, desired=desired, resource_version="1") is None


def test_absent_means_null_in_the_patch() -> None:
    """Removing a key is a null in the merge patch."""
    desired = Desired(None, None, due_label=False)
    patch = merge_patch(
        annotations={keys.MAX_INCREMENTAL: "7", keys.STATE: "{}"},
        labels={keys.DUE_LABEL: "true"},
        desired=desired,
        resource_version="3",
    )
    assert patch == {
        "metadata": {
            "annotations": {keys.MAX_INCREMENTAL: None, keys.STATE: None},
            "labels": {keys.DUE_LABEL: None},
            "resourceVersion": "3",
        }
    }
