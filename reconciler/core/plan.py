"""Cluster objects + chains -> Plan: every policy schedule, every VM decision, and the effects as data.

The shell calls `view_schedules` and `targets`, fetches an index for each target that
`needs_index`, then `build_plan`. The Plan carries the merge patches and Events that `apply`
sends; `plan -o json` prints the same data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from reconciler.core import keys
from reconciler.core.chain import Chain
from reconciler.core.controller import DEFAULT, Upstream
from reconciler.core.cron import CronError, next_run, parse_cron
from reconciler.core.decide import Decision, ScheduleView, decide, triage
from reconciler.core.model import VM, Action, Bsl, ChainState, Schedule, VMKey
from reconciler.core.policy import schedule_policy
from reconciler.core.scope import in_scope, resolve_bsl, unsupported_provider
from reconciler.core.stagger import stagger


def view_schedules(schedules: Sequence[Schedule], bsls: Sequence[Bsl], *, now: datetime) -> tuple[ScheduleView, ...]:
    """Every Schedule that carries a policy annotation, with its policy, next run and BSL or errors."""
    views = []
    for schedule in sorted(schedules, key=lambda s: s.ref):
        policy, policy_errors = schedule_policy(schedule.ref, schedule.annotations)
        if policy is None and not policy_errors:
            continue
        errors = [*schedule.problems, *(str(e) for e in policy_errors)]
        cron = None
        try:
            cron = parse_cron(schedule.cron)
        except CronError as exc:
            errors.append(f"{schedule.ref}: spec.schedule: {exc}")
        when = None
        if cron is not None:
            when = next_run(
                cron,
                last_backup=schedule.last_backup,
                created=schedule.created,
                now=now,
                paused=schedule.paused,
                last_skipped=schedule.last_skipped,
            )
        resolved = resolve_bsl(schedule, bsls)
        bsl = resolved if isinstance(resolved, Bsl) else None
        if isinstance(resolved, str):
            errors.append(f"{schedule.ref}: {resolved}")
        elif (unsupported := unsupported_provider(resolved)) is not None:
            errors.append(f"{schedule.ref}: {unsupported}")
        if schedule.scope.snapshot_move_data is False:
            errors.append(
                f"{schedule.ref}: spec.template.snapshotMoveData is false: the data mover "
                "does not run for this schedule's backups, so its policy cannot act"
            )
            policy = None
        views.append(ScheduleView(schedule, cron, when, policy if not errors else None, bsl, tuple(errors)))
    return tuple(views)


def targets(
    views: Sequence[ScheduleView], vms: Sequence[VM], *, only: Sequence[str] = ()
) -> list[tuple[VM, tuple[ScheduleView, ...]]]:
    """The VMs the plan covers, each with every policy schedule whose scope holds it.

    Unusable schedules are among them: a VM in the scope of one is an error (`triage`), never a
    VM that left the policy. A VM the job manages (it carries the state annotation) is covered
    even when no schedule backs it up any more, so it can be given back. `only` (schedule names)
    narrows the VMs considered, never the policies that apply to them.
    """
    chosen = [v for v in views if not only or v.schedule.name in only or v.ref in only]
    out = []
    for vm in sorted(vms, key=lambda v: v.key):
        mine = tuple(v for v in views if in_scope(v.schedule.scope, vm))
        selected = any(in_scope(v.schedule.scope, vm) for v in chosen)
        if selected or (not only and keys.STATE in vm.annotations):
            out.append((vm, mine))
    return out


def needs_index(vm: VM, views: Sequence[ScheduleView]) -> Bsl | None:
    """The BSL to read this VM's index from, or None when the decision needs no chain."""
    if triage(vm, views) is not None:
        return None
    active = [v for v in views if v.next_run is not None]
    return min(active, key=lambda v: (v.next_run, v.ref)).bsl


@dataclass(frozen=True)
class Plan:
    now: datetime
    schedules: tuple[ScheduleView, ...]
    decisions: tuple[Decision, ...]
    errors: tuple[str, ...] = ()  # objects that could not be read at all
    upstream: Upstream = DEFAULT  # the controller's global limit and trackers, as this plan knew them

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(str(d.action) for d in self.decisions)
        return {str(a): counts[str(a)] for a in Action if counts[str(a)]}

    @property
    def warnings(self) -> dict[str, int]:
        """VMs per warning code (a VM with three size mismatches counts once)."""
        counts = Counter(code for d in self.decisions for code in dict.fromkeys(w.code for w in d.warnings))
        return dict(sorted(counts.items()))

    @property
    def failed(self) -> bool:
        """Something was left alone because of an error: the run exits 1."""
        return (
            bool(self.errors)
            or any(v.errors for v in self.schedules)
            or any(d.action is Action.ERROR for d in self.decisions)
        )


def build_plan(
    *,
    now: datetime,
    views: tuple[ScheduleView, ...],
    covered: Sequence[tuple[VM, tuple[ScheduleView, ...]]],
    chains: Mapping[VMKey, Chain],
    errors: Sequence[str] = (),
    upstream: Upstream = DEFAULT,
    signal: bool = False,
) -> Plan:
    decisions = tuple(
        decide(
            vm,
            mine,
            chains.get(vm.key, Chain(ChainState.UNKNOWN, detail="index not read")),
            now=now,
            upstream=upstream,
            signal=signal,
        )
        for vm, mine in covered
    )
    return Plan(now, views, stagger(decisions, now=now), tuple(errors), upstream)
