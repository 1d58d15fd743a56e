"""Index documents for property tests: JSON values of any shape, and schema-shaped valid indexes.

Shared by the exact decoder's tests (test_index) and the common path's (test_index_fast).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from reconciler.core.model import Checkpoint, FileRef, Index

__all__ = ["FIELD_NAMES", "documents", "field_shaped", "json_values", "rfc3339", "scalars", "typed_positions"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["2026-01-02T03:04:05Z", "0001-01-01T00:00:00Z", "10Gi", "Full", ""])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
FIELD_NAMES = [
    "vmName",
    "namespace",
    "checkpoints",
    "lastUpdated",
    "id",
    "type",
    "parent",
    "timestamp",
    "vmBackup",
    "files",
    "pvcs",
    "pvcSizes",
    "referencedBy",
    "vmbObjectPath",
    "vmbtObjectPath",
    "superseded",
    "filename",
    "diskName",
    "size",
    "objectPath",
]
field_shaped = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=4), inner, max_size=6)
    ),
    max_leaves=20,
)


def rfc3339(instant: datetime, offset_minutes: int, nanos: str) -> str:
    local = (instant + timedelta(minutes=offset_minutes)).replace(tzinfo=None)
    stamp = f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    if instant.microsecond or nanos:
        stamp += f".{instant.microsecond:06d}{nanos}"
    if offset_minutes == 0:
        return stamp + "Z"
    sign = "-" if offset_minutes < 0 else "+"
    return stamp + f"{sign}{abs(offset_minutes) // 60:02d}:{abs(offset_minutes) % 60:02d}"


instants = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.just(UTC))
times = st.tuples(instants, st.integers(-(23 * 60 + 59), 23 * 60 + 59), st.sampled_from(["", "000", "999"]))
names = st.text(max_size=6)


@st.composite
def documents(draw: st.DrawFn) -> tuple[dict[str, Any], Index]:
    """A schema-shaped valid document and the Index it must decode to."""
    checkpoints: list[dict[str, Any]] = []
    expected: list[Checkpoint] = []
    for _ in range(draw(st.integers(0, 2))):
        int64s = st.integers(-(2**63), 2**63 - 1)
        files = draw(st.lists(st.tuples(names, names, int64s, names), max_size=2))
        instant, offset, nanos = draw(times)
        referenced_by = draw(st.lists(names, max_size=2))
        entry: dict[str, Any] = {
            "id": draw(names),
            "type": draw(st.sampled_from(["Full", "Incremental", "full", "incremental"])),
            "timestamp": rfc3339(instant, offset, nanos),
            "vmBackup": draw(names),
            "files": [{"filename": f, "diskName": d, "size": s, "objectPath": o} for f, d, s, o in files],
            "pvcs": draw(st.lists(names, max_size=2)),
            "pvcSizes": draw(st.lists(st.sampled_from(["10Gi", "5.5T", 1024]), max_size=2)),
            "referencedBy": referenced_by,
            "superseded": draw(st.booleans()),
        }
        parent = draw(st.none() | names)
        if parent is not None:
            entry["parent"] = parent
        checkpoints.append(entry)
        expected.append(
            Checkpoint(
                id=entry["id"],
                type=entry["type"],
                parent=parent or "",
                timestamp=instant,
                vm_backup=entry["vmBackup"],
                files=tuple(FileRef(f, d, s, o) for f, d, s, o in files),
                referenced_by=tuple(referenced_by),
                superseded=entry["superseded"],
            )
        )
    instant, offset, nanos = draw(times)
    document: dict[str, Any] = {
        "vmName": draw(names),
        "namespace": draw(names),
        "checkpoints": checkpoints,
        "lastUpdated": rfc3339(instant, offset, nanos),
    }
    index = Index(document["vmName"], document["namespace"], instant, tuple(expected))
    return document, index


def typed_positions(document: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Every position of `document` whose Go type is fixed, with that type's kind."""
    positions: list[tuple[tuple[str | int, ...], str]] = [
        (("vmName",), "string"),
        (("namespace",), "string"),
        (("lastUpdated",), "time"),
        (("checkpoints",), "array"),
    ]
    for i, checkpoint in enumerate(document["checkpoints"]):
        at: tuple[str | int, ...] = ("checkpoints", i)
        positions.append((at, "object"))
        for name in ("id", "type", "vmBackup"):
            positions.append(((*at, name), "string"))
        positions.append(((*at, "timestamp"), "time"))
        positions.append(((*at, "superseded"), "bool"))
        if "parent" in checkpoint:
            positions.append(((*at, "parent"), "string"))
        for name in ("files", "pvcs", "pvcSizes", "referencedBy"):
            positions.append(((*at, name), "array"))
        for j, _ in enumerate(checkpoint["pvcs"]):
            positions.append(((*at, "pvcs", j), "string"))
        for j, _ in enumerate(checkpoint["referencedBy"]):
            positions.append(((*at, "referencedBy", j), "string"))
        for j, _ in enumerate(checkpoint["pvcSizes"]):
            positions.append(((*at, "pvcSizes", j), "quantity"))
        for j, _ in enumerate(checkpoint["files"]):
            positions.append(((*at, "files", j), "object"))
            for name in ("filename", "diskName", "objectPath"):
                positions.append(((*at, "files", j, name), "string"))
            positions.append(((*at, "files", j, "size"), "int64"))
    return positions
