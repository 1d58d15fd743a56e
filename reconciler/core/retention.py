"""A decided VM's storage against its Schedule's TTL, and the plan's totals (design 10).

The chain carries what the folder holds (`Storage`); the TTL figure needs the plan's instant and a
Schedule's `spec.template.ttl`. A VM under several policy Schedules is measured against the TTL of
the one that runs next, the Schedule whose BSL the plan read its index from (ties broken by name,
as there): the backup that Schedule takes next is the one the chain will grow by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.core.decide import Decision, ScheduleView
from reconciler.core.storage import Storage, held_past_ttl


@dataclass(frozen=True)
class Retention:
    """One VM's storage, its TTL (None: unknown) and the bytes held past it (None with the TTL)."""

    storage: Storage
    ttl: timedelta | None
    past_ttl_bytes: int | None


@dataclass(frozen=True)
class Totals:
    """The plan's storage summed over the VMs that have figures; `unknown` counts those without."""

    vms: int = 0
    unknown: int = 0
    chain_bytes: int = 0
    folder_bytes: int = 0
    outside_bytes: int = 0
    past_ttl_bytes: int = 0
    past_ttl_unknown: int = 0  # VMs with figures but no known TTL: not in past_ttl_bytes
    leaked_objects: int = 0
    leaked_bytes: int = 0
    unreferenced: int = 0
    partial: int = 0  # VMs whose figures are lower bounds


def next_view(views: Sequence[ScheduleView]) -> ScheduleView | None:
    """The policy Schedule that runs next (the one the decision reads its BSL from), or None."""
    active = [v for v in views if v.next_run is not None]
    return min(active, key=lambda v: (v.next_run, v.ref)) if active else None


def retention(decision: Decision, *, now: datetime) -> Retention | None:
    """The VM's storage against its next Schedule's TTL; None where its folder was not listed."""
    storage = decision.chain.storage
    if storage is None:
        return None
    view = next_view(decision.views)
    ttl = view.schedule.ttl if view is not None else None
    past = held_past_ttl(storage, now=now, ttl=ttl) if ttl is not None else None
    return Retention(storage, ttl, past)


def totals(decisions: Sequence[Decision], *, now: datetime) -> Totals:
    """Every VM's figures added up; a VM without figures is counted as unknown, never as zero."""
    t = Totals()
    fields = dict(t.__dict__)
    for d in decisions:
        r = retention(d, now=now)
        if r is None:
            fields["unknown"] += 1
            continue
        s = r.storage
        fields["vms"] += 1
        fields["chain_bytes"] += s.chain_bytes
        fields["folder_bytes"] += s.folder_bytes
        fields["outside_bytes"] += s.outside_bytes
        fields["leaked_objects"] += s.leaked_objects
        fields["leaked_bytes"] += s.leaked_bytes
        fields["unreferenced"] += s.unreferenced
        fields["partial"] += int(s.partial)
        if r.past_ttl_bytes is None:
            fields["past_ttl_unknown"] += 1
        else:
            fields["past_ttl_bytes"] += r.past_ttl_bytes
    return Totals(**fields)
