"""Builders for test inputs: small functions with defaults, so each test states only what matters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.core.model import VM, BackupScope, Bsl, Checkpoint, FileRef, Index, Schedule

T0 = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)


def files(cid: str, *, ns: str = "ns", vm: str = "vm", size: int = 100, disks: int = 1) -> tuple[FileRef, ...]:
    return tuple(
        FileRef(f"{cid}-d{i}.qcow2", f"d{i}", size, f"checkpoints/{ns}/{vm}/{cid}/{cid}-d{i}.qcow2")
        for i in range(disks)
    )


def cp(
    cid: str,
    parent: str = "",
    *,
    type: str | None = None,
    at: datetime | None = T0,
    size: int = 100,
    refs: tuple[str, ...] | None = None,
    disks: int = 1,
) -> Checkpoint:
    kind = type or ("Incremental" if parent else "Full")
    return Checkpoint(
        cid,
        kind,
        parent,
        at,
        f"vmb-{cid}",
        files(cid, size=size, disks=disks),
        refs if refs is not None else (f"backup-{cid}",),
    )


def linear(
    n_incrementals: int, *, start: datetime = T0, every: timedelta = timedelta(days=1), prefix: str = "c"
) -> tuple[Checkpoint, ...]:
    """A full followed by n incrementals, one per `every`, 12 minutes after each window."""
    out = []
    parent = ""
    for i in range(n_incrementals + 1):
        cid = f"{prefix}{i}"
        out.append(cp(cid, parent, at=start + i * every + timedelta(minutes=12)))
        parent = cid
    return tuple(out)


def index(*checkpoints: Checkpoint) -> Index:
    return Index("vm", "ns", None, tuple(checkpoints))


def listing_for(*checkpoints: Checkpoint) -> dict[str, int | None]:
    return {f.object_path: f.size for c in checkpoints for f in c.files}


def vm(
    name: str = "vm",
    ns: str = "ns",
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    status: str = "Running",
    cbt: str = "Enabled",
    rv: str = "7",
) -> VM:
    return VM(ns, name, f"uid-{name}", rv, labels or {}, annotations or {}, status, cbt)


def bsl(name: str = "default", *, default: bool = True, prefix: str = "velero", ns: str = "velero") -> Bsl:
    return Bsl(ns, name, "aws", "bucket", prefix, default, {}, "cloud-credentials", "cloud", "")


def schedule(
    name: str = "nightly",
    *,
    cron: str = "0 1 * * *",
    annotations: dict[str, str] | None = None,
    paused: bool = False,
    last_backup: datetime | None = None,
    created: datetime = T0 - timedelta(days=60),
    ns: str = "velero",
    **scope: Any,
) -> Schedule:
    return Schedule(
        ns, name, f"uid-{name}", "1", annotations or {}, cron, paused, created, last_backup, BackupScope(**scope)
    )
