"""The forward-compatible signal (design 6.4): the VM annotation force-full-backup, owned like the due label."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import keys
from reconciler.core.chain import Chain
from reconciler.core.decide import Decision, decide
from reconciler.core.model import VM, Action, Policy
from reconciler.core.stagger import STAGGERED, stagger
from reconciler.core.state import OwnerState, parse_state
from tests.builders import T0, vm
from tests.test_decide import NOW, chain_of, view
from tests.test_stagger import NOW as STAGGER_NOW
from tests.test_stagger import chain_of as stagger_chain
from tests.test_stagger import views as stagger_views

COUNT = [view(Policy(interval=3))]


def annotations_after(d: Decision, before: VM) -> dict[str, str]:
    """The VM's annotations once the decision's patch is applied."""
    out = dict(before.annotations)
    patch = d.patch()
    for key, value in ((patch or {}).get("metadata", {}).get("annotations", {})).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def applied(d: Decision) -> VM:
    patch: dict[str, Any] = d.patch() or {}
    labels = dict(d.vm.labels)
    for key, value in patch.get("metadata", {}).get("labels", {}).items():
        if value is None:
            labels.pop(key, None)
        else:
            labels[key] = value
    return replace(d.vm, annotations=annotations_after(d, d.vm), labels=labels)


def test_old_state_without_the_field_still_parses_and_dumps_the_same() -> None:
    """A state written before the signal existed parses (not owned) and is written back byte for byte."""
    text = '{"original":"5","forcedAt":null,"forcedRoot":null,"reasons":[]}'
    state = parse_state(text)
    assert state == OwnerState("5") and isinstance(state, OwnerState) and not state.signal_owned
    assert state.dump() == text


def test_state_records_the_signal_original_only_while_owned() -> None:
    """signalOriginal is written (null included) only while the job holds the annotation."""
    owned = OwnerState("5", signal_owned=True, signal_original=None)
    assert owned.dump().endswith(',"signalOriginal":null}')
    assert parse_state(owned.dump()) == owned
    assert "signalOriginal" in str(parse_state('{"signalOriginal": 1}'))


@given(st.one_of(st.none(), st.text()), st.booleans())
def test_signal_state_round_trips(original: str | None, owned: bool) -> None:
    """Any recorded signal value comes back exactly."""
    state = OwnerState("7", signal_owned=owned, signal_original=original if owned else None)
    assert parse_state(state.dump()) == state


def test_forcing_with_the_signal_sets_it_and_records_what_was_there() -> None:
    """With the signal a forced full also sets force-full-backup=true; the state records the value found."""
    d = decide(vm(), COUNT, chain_of(3), now=NOW, signal=True)
    assert d.action is Action.FORCE_FULL
    ann = annotations_after(d, d.vm)
    assert ann[keys.FORCE_SIGNAL] == "true"
    state = parse_state(ann[keys.STATE])
    assert isinstance(state, OwnerState) and state.signal_owned and state.signal_original is None


def test_without_the_signal_the_annotation_is_never_touched() -> None:
    """Off by default: a forced full leaves a VM's own force-full-backup value alone, and the state has no field."""
    own = vm(annotations={keys.FORCE_SIGNAL: "maybe"})
    d = decide(own, COUNT, chain_of(3), now=NOW)
    ann = annotations_after(d, own)
    assert ann[keys.FORCE_SIGNAL] == "maybe" and "signalOriginal" not in ann[keys.STATE]


def test_a_second_run_writes_nothing() -> None:
    """Idempotent: deciding again on the patched VM with the same chain needs no write."""
    first = decide(vm(), COUNT, chain_of(3), now=NOW, signal=True)
    again = decide(applied(first), COUNT, chain_of(3), now=NOW + timedelta(minutes=5), signal=True)
    assert again.action is Action.FORCE_FULL and again.patch() is None


def test_landed_full_gives_the_pre_existing_value_back() -> None:
    """set -> landed -> the value found before is restored (here "false"), and the state forgets it."""
    own = vm(annotations={keys.FORCE_SIGNAL: "false"})
    forced = applied(decide(own, COUNT, chain_of(3), now=NOW, signal=True))
    assert forced.annotations[keys.FORCE_SIGNAL] == "true"
    fresh = chain_of(0, start=T0 + 10 * timedelta(days=1))
    fresh = Chain(fresh.state, tuple(replace(m, id="n" + m.id) for m in fresh.members))
    landed = decide(forced, COUNT, fresh, now=NOW, signal=True)
    assert landed.action is Action.RELEASE and landed.codes == ("landed",)
    after = applied(landed)
    assert after.annotations[keys.FORCE_SIGNAL] == "false"
    assert "signalOriginal" not in after.annotations[keys.STATE]
    assert keys.DUE_LABEL not in after.labels
    assert decide(after, COUNT, fresh, now=NOW, signal=True).patch() is None


def test_release_from_every_policy_restores_the_signal() -> None:
    """A VM that leaves every policy gets its own signal value back (absent: removed)."""
    forced = applied(decide(vm(), COUNT, chain_of(3), now=NOW, signal=True))
    gone = decide(forced, [], chain_of(3), now=NOW, signal=True)
    assert gone.action is Action.RELEASE
    after = applied(gone)
    assert keys.FORCE_SIGNAL not in after.annotations and keys.STATE not in after.annotations


def test_blocked_gets_the_signal_and_nothing_else() -> None:
    """A blocked VM (due on a full head) gets only the signal (and the state recording it); its value is unchanged."""
    own = vm(annotations={keys.MAX_INCREMENTAL: "9"})
    age = [view(Policy(max_age=timedelta(days=1)))]
    d = decide(own, age, chain_of(0), now=NOW, signal=True)
    assert d.action is Action.BLOCKED
    patch = d.patch()
    assert patch is not None and "labels" not in patch["metadata"]
    ann = patch["metadata"]["annotations"]
    assert set(ann) == {keys.FORCE_SIGNAL, keys.STATE} and ann[keys.FORCE_SIGNAL] == "true"
    state = parse_state(ann[keys.STATE])
    assert isinstance(state, OwnerState) and state.original == "9" and not state.forcing
    assert decide(applied(d), age, chain_of(0), now=NOW, signal=True).patch() is None
    assert decide(own, age, chain_of(0), now=NOW).patch() is None  # without the signal: nothing, as before


def test_switching_the_signal_off_gives_it_back() -> None:
    """A run without the signal puts back what the job holds, even while the full is still being forced."""
    forced = applied(decide(vm(), COUNT, chain_of(3), now=NOW, signal=True))
    d = decide(forced, COUNT, chain_of(3), now=NOW)
    assert d.action is Action.FORCE_FULL
    after = applied(d)
    assert keys.FORCE_SIGNAL not in after.annotations
    assert after.annotations[keys.MAX_INCREMENTAL] == "3" and "signalOriginal" not in after.annotations[keys.STATE]


def test_a_staggered_full_carries_the_signal_too() -> None:
    """A full pulled forward by the budget is forced like any other: with the signal, the annotation is set."""
    schedule_views = stagger_views(7, budget=3)
    own = {keys.FORCE_SIGNAL: "mine"}
    decided = [
        decide(vm(f"vm-{i}", annotations=own), schedule_views, stagger_chain(k), now=STAGGER_NOW, signal=True)
        for i, k in enumerate([5] * 5 + [6] * 2)
    ]
    out = [d for d in stagger(decided, now=STAGGER_NOW) if STAGGERED in d.codes]
    assert out
    for d in out:
        ann = annotations_after(d, d.vm)
        assert ann[keys.FORCE_SIGNAL] == "true"
        state = parse_state(ann[keys.STATE])
        assert isinstance(state, OwnerState) and state.signal_original == "mine"
