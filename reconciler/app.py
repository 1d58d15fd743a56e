"""The one application flow: load -> decide -> stagger -> plan (-> apply).

Every entry point goes through here: `plan`, `run`, `snapshot`, `explain` and the benchmark, so
the answer to "why is this VM full tonight" is the same wherever it is asked. Sources come in
through the `Source` protocol with their options already set; this module never builds one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

from reconciler.apply import Tally, Writing, apply_plan, unguarded
from reconciler.core.chain import Chain
from reconciler.core.decide import ScheduleView
from reconciler.core.keys import STATE
from reconciler.core.model import Bsl, VMKey
from reconciler.core.plan import Plan, build_plan, needs_index, targets, view_schedules
from reconciler.errors import MissingEvidenceError, UsageError
from reconciler.explain import Explanation
from reconciler.sources.base import Source, World
from reconciler.sources.kube import Kube


def _searched(source: Source) -> str:
    namespace = source.velero_namespace
    return f"namespace {namespace}" if namespace else "any namespace"


def check_evidence(
    world: World, views: Sequence[ScheduleView], source: Source, *, only: Sequence[str], release_all: bool
) -> None:
    """Refuse to decide on missing evidence (design 9), before anything is read or written.

    No policy Schedule at all while VMs carry the job's state annotation is far more often the
    wrong Velero namespace (or an empty list from a broken API) than every policy removed on
    purpose: giving every VM back would cancel every forced full. `--release-all` says it is
    on purpose. A `--schedule` name that matches no policy Schedule would plan nothing.
    """
    managed = sum(1 for vm in world.vms if STATE in vm.annotations)
    if not views and managed and not release_all:
        raise MissingEvidenceError(
            f"no Velero Schedule in {_searched(source)} carries a full-backup policy, but {managed} "
            f"VirtualMachine(s) carry {STATE}: refusing to give them all back, nothing was written. "
            "Check --velero-namespace (velero, or openshift-adp with OADP); "
            "if every policy was removed on purpose, pass --release-all"
        )
    names = {n for v in views for n in (v.schedule.name, v.ref)}
    missing = [name for name in only if name not in names]
    if missing:
        policy = ", ".join(v.ref for v in views) or "none"
        others = (
            ", ".join(
                s.ref for s in sorted(world.schedules, key=lambda s: s.ref) if s.ref not in {v.ref for v in views}
            )
            or "none"
        )
        raise UsageError(
            f"--schedule {', '.join(missing)}: no policy Schedule of that name in {_searched(source)}; "
            f"policy Schedules: {policy}; other Schedules: {others}"
        )


Progress = Callable[[int, int], None]
"""Told (VMs whose chain was read, VMs whose chain is to be read) before the reads and after each
BSL's batch: the CLI draws a bar with it; the flow itself stays the same without one."""


def no_progress(_done: int, _total: int) -> None:
    """The default: nobody is watching."""


def plan_world(
    world: World,
    source: Source,
    *,
    now: datetime,
    only: Sequence[str] = (),
    release_all: bool = False,
    signal: bool = False,
    progress: Progress = no_progress,
) -> Plan:
    """Decide which indexes to read, read them (grouped by BSL), decide every VM, stagger."""
    views = view_schedules(world.schedules, world.bsls, now=now)
    check_evidence(world, views, source, only=only, release_all=release_all)
    covered = targets(views, world.vms, only=only)
    bsls: dict[tuple[str, str], Bsl] = {}
    wanted: dict[tuple[str, str], list[VMKey]] = defaultdict(list)
    for vm, mine in covered:
        bsl = needs_index(vm, mine)
        if bsl is not None:
            bsls[(bsl.namespace, bsl.name)] = bsl
            wanted[(bsl.namespace, bsl.name)].append(vm.key)
    chains: dict[VMKey, Chain] = {}
    total, done = sum(len(keys) for keys in wanted.values()), 0
    progress(done, total)
    for ref, keys in wanted.items():
        chains.update(source.chains(bsls[ref], keys))
        done += len(keys)
        progress(done, total)
    return build_plan(
        now=now,
        views=views,
        covered=covered,
        chains=chains,
        errors=world.errors,
        upstream=world.upstream,
        signal=signal,
    )


def make_plan(
    source: Source,
    *,
    now: datetime,
    only: Sequence[str] = (),
    release_all: bool = False,
    signal: bool = False,
    progress: Progress = no_progress,
) -> Plan:
    """The dry run: everything `run` would decide, nothing written. `signal`: `--signal annotation`."""
    return plan_world(
        source.load(), source, now=now, only=only, release_all=release_all, signal=signal, progress=progress
    )


def run(
    source: Source,
    kube: Kube,
    *,
    now: datetime,
    only: Sequence[str] = (),
    release_all: bool = False,
    signal: bool = False,
    writing: Writing = unguarded,
    progress: Progress = no_progress,
) -> tuple[Plan, Tally]:
    """Decide, then carry the plan out (resourceVersion-guarded patches, then Events).

    `writing` marks each VM's writes as one unit (the CLI holds Ctrl-C until it is complete).
    """
    plan = make_plan(source, now=now, only=only, release_all=release_all, signal=signal, progress=progress)
    return apply_plan(plan, kube, writing=writing)


def explain(source: Source, key: VMKey, *, now: datetime) -> Explanation:
    """The decision `plan` makes for this VM: the same run of the whole plan, budget included.

    Planning only this VM would miss what the others do to it (a budget pulling its full forward).
    """
    world = source.load()
    vm = next((v for v in world.vms if v.key == key), None)
    if vm is None:
        raise UsageError(f"VirtualMachine {key[0]}/{key[1]} not found")
    plan = plan_world(world, source, now=now)
    decision = next((d for d in plan.decisions if d.vm.key == key), None)
    return Explanation(vm, plan, decision)
