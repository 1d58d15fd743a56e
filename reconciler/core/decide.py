"""(VM, its policy schedules, chain, now) -> Decision: the one place that says why a VM is full tonight.

Each rule (core.rules) is a small function that returns a Reason with its numbers, or None; a
decision lists every rule that fired (design 4). Nothing here reads the clock or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from reconciler.core import keys
from reconciler.core.chain import Chain
from reconciler.core.controller import (
    DEFAULT,
    Upstream,
    controller_limit_reason,
    size_warnings,
    storage_warning,
    tracker_findings,
)
from reconciler.core.decision import Decision, ScheduleView, last_full
from reconciler.core.model import VM, Action, ChainState
from reconciler.core.policy import effective, strictest, vm_override, vm_warnings
from reconciler.core.reason import Reason
from reconciler.core.rules import age_rule, calendar_rule, count_rule, growth_rule, within_policy
from reconciler.core.state import Desired, OwnerState, baseline, controller_limit, parse_state
from reconciler.core.timefmt import format_time

# Decision and ScheduleView live in core.decision; the plan, the shell and the tests name them here.
__all__ = ["Decision", "ScheduleView", "decide", "schedule_invalid", "triage"]


# --- the decision ----------------------------------------------------------------------------


def _reason(code: str, text: str, **numbers: Any) -> Reason:
    return Reason(code, text, dict(numbers))


def _owner(vm: VM) -> OwnerState | str | None:
    text = vm.annotations.get(keys.STATE)
    return None if text is None else parse_state(text)


def schedule_invalid(views: Sequence[ScheduleView]) -> Reason | None:
    """A VM in the scope of a policy schedule that cannot be used is left exactly as it is (design 9).

    Its policy, next run or BSL is unknown, so neither a full nor a give-back can be decided: a
    forced full stays forced, a baseline stays, and the VM is never taken to have left the policy.
    """
    bad = [v for v in views if not v.usable]
    if not bad:
        return None
    names = ", ".join(v.ref for v in bad)
    problems = "; ".join(e for v in bad for e in v.errors)
    return Reason(
        "schedule-invalid",
        f"policy schedule {names} cannot be used ({problems}); nothing is written to this VM until it is fixed",
        {"invalidSchedules": {v.ref: list(v.errors) for v in bad}},
    )


def triage(vm: VM, views: Sequence[ScheduleView]) -> Decision | None:
    """Decisions that need no chain: skips, errors, giving a VM back. None: read its index."""
    unknown = Chain(ChainState.UNKNOWN)
    refs = tuple(v.ref for v in views)
    owner = _owner(vm)
    override, errors = vm_override(vm.ref, vm.annotations)
    bad = [str(e) for e in errors]
    if isinstance(owner, str):
        bad.append(f"{vm.ref}: annotation {keys.STATE}: {owner}")
    failed = [Reason("invalid-annotation", "; ".join(bad))] if bad else []
    invalid = schedule_invalid(views)
    if invalid is not None:
        failed.append(invalid)
    if failed:
        return Decision(vm, Action.ERROR, tuple(failed), unknown, refs)
    managed = owner is not None
    original = owner.original if isinstance(owner, OwnerState) else None
    give_back = Desired(original, None, due_label=False).signalled(
        owner=owner if isinstance(owner, OwnerState) else None, found=None, on=False
    )
    if not views:
        if managed:
            return Decision(
                vm,
                Action.RELEASE,
                (_reason("left-policy", "no policy schedule backs this VM up any more"),),
                unknown,
                refs,
                desired=give_back,
            )
        return None  # not ours, not under a policy: not in the plan at all
    if vm.printable_status != "Running":
        return Decision(
            vm,
            Action.SKIP,
            (
                _reason(
                    "not-running",
                    f"status {vm.printable_status or 'unknown'}: the data mover backs up running VMs only",
                ),
            ),
            unknown,
            refs,
        )
    if vm.cbt_state != "Enabled":
        return Decision(
            vm,
            Action.SKIP,
            (
                _reason(
                    "cbt-disabled",
                    f"changed-block tracking is {vm.cbt_state or 'not configured'}: "
                    "the data mover does not back this VM up",
                ),
            ),
            unknown,
            refs,
        )
    active = [v for v in views if v.next_run is not None]
    if not active:
        return Decision(
            vm, Action.SKIP, (_reason("schedule-paused", "every policy schedule of this VM is paused"),), unknown, refs
        )
    policy, _ = effective(strictest(v.policy for v in active if v.policy), override)
    if policy.empty:
        reason = _reason("opted-out", "the VM switches every policy off")
        if managed:
            return Decision(vm, Action.RELEASE, (reason,), unknown, refs, policy, desired=give_back)
        return Decision(vm, Action.SKIP, (reason,), unknown, refs, policy)
    return None


def decide(
    vm: VM,
    views: Sequence[ScheduleView],
    chain: Chain,
    *,
    now: datetime,
    upstream: Upstream = DEFAULT,
    signal: bool = False,
) -> Decision:
    """The full decision for one VM, with every reason that fired and the numbers behind it.

    Order: the chain the controller cannot build on (unknown -> error; invalid -> full-anyway),
    then the fulls the controller takes by itself (its max-incremental limit, its tracker), then
    the policy rules. `signal`: also set the signal annotation (design 6.4) on every VM this forces,
    and on a `blocked` one.
    """
    decision = replace(_decide(vm, views, chain, now=now, upstream=upstream, signal=signal), signal=signal)
    extra = vm_warnings(vm.ref, vm.annotations)
    return replace(decision, warnings=(*decision.warnings, *extra)) if extra else decision


def _decide(
    vm: VM, views: Sequence[ScheduleView], chain: Chain, *, now: datetime, upstream: Upstream, signal: bool
) -> Decision:
    early = triage(vm, views)
    if early is None and not views:
        # Neither managed nor under a policy any more: given back since it was read (apply's re-read
        # after a conflict lands here, e.g. when two runs give the same VM back). Nothing to write.
        early = Decision(
            vm,
            Action.RELEASE,
            (_reason("left-policy", "no policy schedule backs this VM up any more; it has been given back"),),
            Chain(ChainState.UNKNOWN),
        )
    if early is not None:
        return replace(early, views=tuple(views), upstream=upstream)
    active = [v for v in views if v.next_run is not None]
    override, _ = vm_override(vm.ref, vm.annotations)
    policy, _ = effective(strictest(v.policy for v in active if v.policy), override)
    next_run = min(v.next_run for v in active if v.next_run is not None)
    # The schedule that runs next takes the backup, so its BSL holds the chain that matters.
    bsl = min(active, key=lambda v: (v.next_run, v.ref)).bsl
    refs = tuple(v.ref for v in views)
    last = last_full(chain, next_run=next_run, views=views)
    base = Decision(
        vm, Action.KEEP, (), chain, refs, policy, next_run, bsl, last_full=last, views=tuple(views), upstream=upstream
    )
    if chain.state is ChainState.UNKNOWN:
        return replace(
            base, action=Action.ERROR, reasons=(_reason(chain.error_code or "index-fetch-failed", chain.detail),)
        )
    two = storage_warning([v.bsl for v in active if v.bsl is not None])
    base = replace(base, warnings=(*size_warnings(chain), *([two] if two else [])))
    if not chain.valid:
        return replace(base, action=Action.FULL_ANYWAY, reasons=(_full_anyway_reason(chain),))

    owner = _owner(vm)
    assert not isinstance(owner, str)  # triage turned a malformed state into an error
    original = owner.original if owner is not None else vm.annotations.get(keys.MAX_INCREMENTAL)
    root = chain.root
    assert root is not None
    found = vm.annotations.get(keys.FORCE_SIGNAL)
    steady = Desired(
        baseline(original, policy.interval, global_limit=upstream.limit.value), OwnerState(original), due_label=False
    ).signalled(owner=owner, found=found, on=False)
    limit = controller_limit_reason(chain, original=original, limit=upstream.limit)
    mismatch, disagree = tracker_findings(vm.namespace, vm.name, chain, upstream.trackers)
    if disagree is not None:
        base = replace(base, warnings=(*base.warnings, disagree))
    if limit is not None or mismatch is not None:
        # The controller takes this full by itself: nothing to force, and a pending forced full
        # keeps its state (its `landed` release follows). One write only where the VM still holds
        # a looser value than the limit predicted (a baseline of an earlier run, or of an older
        # global value): the baseline then is what makes the controller's full happen.
        pending = owner is not None and owner.forcing
        correct = limit is not None and not pending and not _fires_now(vm, chain, upstream)
        desired = Desired.value(steady.max_incremental) if correct else None
        return replace(
            base,
            action=Action.FULL_ANYWAY,
            desired=desired,
            reasons=tuple(r for r in (limit, mismatch) if r is not None),
        )
    runs_next = min(active, key=lambda v: (v.next_run, v.ref))
    assert runs_next.cron is not None  # triage: every view is usable
    last_window = None if last is None else last.window
    calendar = calendar_rule(chain, policy, window=next_run, cron=runs_next.cron, last_full_window=last_window)
    fired = (count_rule(chain, policy), age_rule(policy, last), calendar, growth_rule(chain, policy))
    due = [r for r in fired if r is not None]
    landed = owner is not None and owner.forcing and owner.forced_root != root.id
    if due and chain.incrementals >= 1:
        codes = tuple(r.code for r in due)
        keep_since = owner is not None and owner.forced_root == root.id and owner.forced_at
        forced_at = owner.forced_at if keep_since and owner is not None else format_time(now)
        state = OwnerState(original, forced_at, root.id, codes)
        forced = Desired(str(chain.incrementals), state, due_label=True)
        return replace(
            base,
            action=Action.FORCE_FULL,
            reasons=tuple(due),
            desired=forced.signalled(owner=owner, found=found, on=signal),
        )
    if due:
        blocked = _reason(
            "head-is-full",
            f"the chain head {root.id} is a full: the controller's max-incremental rule cannot force another full yet",
        )
        return replace(
            base,
            action=Action.BLOCKED,
            reasons=(*due, blocked),
            desired=_blocked_desired(vm, owner, original, found=found, signal=signal),
        )
    if owner is not None and owner.forced_root == root.id and chain.incrementals >= 1:
        # Forced in an earlier run (pulled forward by a budget, or due under a policy changed
        # since) and the full has not landed yet: keep forcing it, so a re-run writes nothing.
        state = OwnerState(original, owner.forced_at or format_time(now), root.id, owner.reasons)
        still = Desired(str(chain.incrementals), state, due_label=True)
        return replace(
            base,
            action=Action.FORCE_FULL,
            reasons=_pending_reasons(state),
            desired=still.signalled(owner=owner, found=found, on=signal),
        )
    if landed and owner is not None:
        return replace(
            base,
            action=Action.RELEASE,
            desired=steady,
            reasons=(
                _reason("landed", f"the forced full landed: chain root is now {root.id} (was {owner.forced_root})"),
            ),
        )
    return replace(base, desired=steady, reasons=(within_policy(chain, policy, last),))


def _blocked_desired(
    vm: VM, owner: OwnerState | None, original: str | None, *, found: str | None, signal: bool
) -> Desired | None:
    """A blocked VM changes nothing but the signal annotation: set with `signal` (a plugin that copies it
    takes the full the controller's rule cannot force), or given back where the job holds it without.
    The job's other keys stay exactly as they are.
    """
    if not signal and (owner is None or not owner.signal_owned):
        return None
    current = Desired(
        vm.annotations.get(keys.MAX_INCREMENTAL),
        owner or OwnerState(original),
        due_label=vm.labels.get(keys.DUE_LABEL) == "true",
    )
    return current.signalled(owner=owner, found=found, on=signal)


def _fires_now(vm: VM, chain: Chain, upstream: Upstream) -> bool:
    """Would the controller's limit fire on the VM as it is now (its current annotation, else the global)?"""
    current = controller_limit(vm.annotations.get(keys.MAX_INCREMENTAL))
    limit = current if current is not None else upstream.limit.value
    return limit is not None and 0 < limit <= chain.incrementals


def _pending_reasons(state: OwnerState) -> tuple[Reason, ...]:
    """The reasons recorded when the full was forced, each saying it has not landed yet."""
    numbers = {"forcedAt": state.forced_at, "forcedRoot": state.forced_root}
    text = f"full forced at {state.forced_at} has not landed yet: the chain root is still {state.forced_root}"
    return tuple(Reason(code, f"{text} ({code})", numbers) for code in state.reasons or ("pending",))


def _full_anyway_reason(chain: Chain) -> Reason:
    code = str(chain.state)
    numbers: dict[str, Any] = {}
    text = chain.detail
    if chain.unrestorable:
        numbers["unrestorableBackups"] = list(chain.unrestorable)
        text += f"; backups that can no longer be restored: {', '.join(chain.unrestorable)}"
    if chain.problems:
        numbers["problems"] = [str(p) for p in chain.problems]
    return Reason(code, f"{text}; the controller takes a full anyway", numbers)
