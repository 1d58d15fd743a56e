"""The one application flow: load -> decide -> stagger -> plan (-> apply).

Every entry point goes through here: `plan`, `run`, `snapshot`, `explain` and the benchmark, so
the answer to "why is this VM full tonight" is the same wherever it is asked. Sources come in
through the `Source` protocol with their options already set; this module never builds one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from reconciler.apply import Tally, Writing, apply_plan, unguarded
from reconciler.core.chain import Chain
from reconciler.core.model import Bsl, VMKey
from reconciler.core.plan import Plan, build_plan, needs_index, targets, view_schedules
from reconciler.errors import UsageError
from reconciler.explain import Explanation
from reconciler.sources.base import Source, World
from reconciler.sources.kube import Kube


def plan_world(world: World, source: Source, *, now: datetime, only: Sequence[str] = ()) -> Plan:
    """Decide which indexes to read, read them (grouped by BSL), decide every VM, stagger."""
    views = view_schedules(world.schedules, world.bsls, now=now)
    covered = targets(views, world.vms, only=only)
    bsls: dict[tuple[str, str], Bsl] = {}
    wanted: dict[tuple[str, str], list[VMKey]] = defaultdict(list)
    for vm, mine in covered:
        bsl = needs_index(vm, mine)
        if bsl is not None:
            bsls[(bsl.namespace, bsl.name)] = bsl
            wanted[(bsl.namespace, bsl.name)].append(vm.key)
    chains: dict[VMKey, Chain] = {}
    for ref, keys in wanted.items():
        chains.update(source.chains(bsls[ref], keys))
    return build_plan(now=now, views=views, covered=covered, chains=chains, errors=world.errors)


def make_plan(source: Source, *, now: datetime, only: Sequence[str] = ()) -> Plan:
    """The dry run: everything `run` would decide, nothing written."""
    return plan_world(source.load(), source, now=now, only=only)


def run(source: Source, kube: Kube, *, now: datetime, only: Sequence[str] = (),
        writing: Writing = unguarded) -> tuple[Plan, Tally]:
    """Decide, then carry the plan out (resourceVersion-guarded patches, then Events).

    `writing` marks each VM's writes as one unit (the CLI holds Ctrl-C until it is complete).
    """
    return apply_plan(make_plan(source, now=now, only=only), kube, writing=writing)


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
