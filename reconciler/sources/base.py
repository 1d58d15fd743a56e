"""What every source yields: a World of domain objects, and chains, behind one protocol."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.core import keys
from reconciler.core.chain import Chain
from reconciler.core.controller import DEFAULT, Upstream
from reconciler.core.model import VM, Bsl, Schedule, VMKey
from reconciler.core.objects import ObjectError, kind_of, parse_bsl, parse_schedule, parse_vm, unparsed_schedule


@dataclass(frozen=True)
class World:
    """The cluster objects a plan needs, already parsed; `errors` names the ones that could not be."""

    schedules: tuple[Schedule, ...] = ()
    bsls: tuple[Bsl, ...] = ()
    vms: tuple[VM, ...] = ()
    errors: tuple[str, ...] = field(default=())
    upstream: Upstream = DEFAULT  # the controller's global limit and trackers, as the source found them


def world_from_raw(objects: Iterable[Mapping[str, Any]], *, velero_namespace: str | None) -> World:
    """Sort raw objects by kind and parse them; a bad object is reported, the rest go on.

    A Schedule with a policy annotation that cannot be parsed, and a BackupStorageLocation that
    is rejected, stay in the World with their problems: missing evidence must not read as "no
    policy" (design 9), so the plan needs to know they exist.
    """
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
                    schedules.append(_schedule(obj))
            elif group == "velero.io" and kind == "BackupStorageLocation":
                if velero_namespace in (None, namespace):
                    bsl = parse_bsl(obj)
                    bsls.append(bsl)
                    errors.extend(f"{kind} {bsl.namespace}/{bsl.name}: {p}" for p in bsl.problems)
            elif group == "kubevirt.io" and kind == "VirtualMachine":
                vms.append(parse_vm(obj))
        except ObjectError as exc:
            errors.append(f"{kind} {exc}")
    return World(tuple(schedules), tuple(bsls), tuple(vms), tuple(errors))


def _schedule(obj: Mapping[str, Any]) -> Schedule:
    """The Schedule, or, when it cannot be parsed but carries a policy, what can be read of it."""
    try:
        return parse_schedule(obj)
    except ObjectError as exc:
        meta = obj.get("metadata")
        annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
        if isinstance(annotations, Mapping) and any(k in annotations for k in keys.POLICY_KEYS):
            return unparsed_schedule(obj, str(exc))
        raise


class Source(Protocol):
    """Where a plan's evidence comes from. Options (what to keep, what to record) are set when the
    source is built; the application layer only calls these four methods."""

    @property
    def velero_namespace(self) -> str | None:
        """Where Schedules and BSLs are read; None: every namespace (a snapshot, by default)."""
        ...

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
