"""What every source yields: a World of domain objects, and chains, behind one protocol."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.core.chain import Chain
from reconciler.core.controller import DEFAULT, Upstream
from reconciler.core.model import VM, Bsl, Schedule, VMKey
from reconciler.core.objects import ObjectError, kind_of, parse_bsl, parse_schedule, parse_vm


@dataclass(frozen=True)
class World:
    """The cluster objects a plan needs, already parsed; `errors` names the ones that could not be."""

    schedules: tuple[Schedule, ...] = ()
    bsls: tuple[Bsl, ...] = ()
    vms: tuple[VM, ...] = ()
    errors: tuple[str, ...] = field(default=())
    upstream: Upstream = DEFAULT  # the controller's global limit and trackers, as the source found them


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
    """Where a plan's evidence comes from. Options (what to keep, what to record) are set when the
    source is built; the application layer only calls these four methods."""

    def load(self) -> World:
        """Every object a plan needs, parsed; objects that could not be parsed are in `errors`."""
        ...

    def chains(self, bsl: Bsl, vms: Sequence[VMKey]) -> Mapping[VMKey, Chain]:
        """Each VM's chain in this BSL's bucket; a fetch failure is a Chain in state UNKNOWN."""
        ...

    def close(self) -> None:
        """Release connections; `stats` still answers afterwards."""
        ...

    def stats(self) -> dict[str, object]:
        """Requests made so far, by service and operation (empty where nothing is requested)."""
        ...
