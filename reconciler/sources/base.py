"""What every source yields (a World of domain objects, and chains), and the one planning flow."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from reconciler.core.chain import Chain
from reconciler.core.model import VM, Bsl, Schedule, VMKey
from reconciler.core.objects import ObjectError, kind_of, parse_bsl, parse_schedule, parse_vm
from reconciler.core.plan import Plan, build_plan, needs_index, targets, view_schedules


@dataclass(frozen=True)
class World:
    """The cluster objects a plan needs, already parsed; `errors` names the ones that could not be."""

    schedules: tuple[Schedule, ...] = ()
    bsls: tuple[Bsl, ...] = ()
    vms: tuple[VM, ...] = ()
    errors: tuple[str, ...] = field(default=())


def world_from_raw(objects: Iterable[Mapping[str, Any]], *, velero_namespace: str | None) -> World:
    """Sort raw objects by kind and parse them; a bad object is reported, the rest go on."""
    schedules: list[Schedule] = []
    bsls: list[Bsl] = []
    vms: list[VM] = []
    errors: list[str] = []
    for obj in objects:
        group, kind = kind_of(obj)
        namespace = str((obj.get("metadata") or {}).get("namespace", ""))
        try:
            if group == "velero.io" and kind == "Schedule":
                if velero_namespace in (None, namespace):
                    schedules.append(parse_schedule(obj))
            elif group == "velero.io" and kind == "BackupStorageLocation":
                if velero_namespace in (None, namespace):
                    bsls.append(parse_bsl(obj))
            elif group == "kubevirt.io" and kind == "VirtualMachine":
                vms.append(parse_vm(obj))
        except ObjectError as exc:
            errors.append(f"{kind} {exc}")
    return World(tuple(schedules), tuple(bsls), tuple(vms), tuple(errors))


class Source(Protocol):
    def load(self) -> World: ...

    def chains(self, bsl: Bsl, vms: Sequence[VMKey]) -> Mapping[VMKey, Chain]:
        """Each VM's chain in this BSL's bucket; a fetch failure is a Chain in state UNKNOWN."""
        ...


def make_plan(source: Source, *, now: datetime, only: Sequence[str] = ()) -> Plan:
    """Load, decide which indexes to read, read them (grouped by bucket), decide."""
    world = source.load()
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
