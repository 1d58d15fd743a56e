"""How the controller decides full vs incremental for one DataUpload (``handleAccepted``).

In the order the controller runs them: find or recreate the VM's tracker, ``resolveBackupMode``
(the DataUpload's force annotation, then ``validateBSLCheckpoint`` around
``LookupLatestCheckpoint``, then the max-incremental limit), then the cross-check of the
tracker's checkpoint against the lookup. The first rule that forces a full names the reason.
Where each rule comes from is listed in the package docstring.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from reconciler.simulate.upstream.gojson import IndexDocument, IndexEntry, UnreadableIndex, decode_index

__all__ = [
    "FORCE_FULL_BACKUP",
    "MAX_INCREMENTAL_BACKUPS",
    "VM_NAME_HASH",
    "Decision",
    "Lookup",
    "Tracker",
    "TrackerLookup",
    "UpstreamController",
    "effective_limit",
    "label_hash",
    "lookup_latest_checkpoint",
    "resolve_backup_mode",
]

# The controller's own keys (pkg/common/constants.go), spelled here rather than imported from the
# job, so a typo on either side shows as a disagreement.
MAX_INCREMENTAL_BACKUPS: Final = "kubevirt-datamover.io/max-incremental-backups"
FORCE_FULL_BACKUP: Final = "kubevirt-datamover.io/force-full-backup"
VM_NAME_HASH: Final = "kubevirt-datamover.io/vm-name-hash"

FULL: Final = "full"
INCREMENTAL: Final = "incremental"

Objects = Mapping[str, int | bytes]  # key under the datamover prefix -> size, or the body itself


def label_hash(vm_name: str) -> str:
    """common.HashForLabel: the first 8 bytes of sha256(name), as 16 hex characters."""
    return hashlib.sha256(vm_name.encode()).hexdigest()[:16]


_ATOI: Final = re.compile(r"[+-]?[0-9]+")


def _atoi(text: str) -> int | None:
    """strconv.Atoi on a 64-bit platform: an optional sign and ASCII digits, in int64 range."""
    if _ATOI.fullmatch(text) is None:
        return None
    n = int(text)
    return n if -(2**63) <= n < 2**63 else None


def effective_limit(vm_annotations: Mapping[str, str] | None, global_limit: int) -> int:
    """getEffectiveMaxIncrementalBackups: the VM's annotation when it parses to an int >= 0
    ("0" = unlimited, overriding the global value), else the global ``--max-incremental-backups``.
    ``None`` means the VM could not be read, which also falls back to the global value."""
    if vm_annotations is not None and MAX_INCREMENTAL_BACKUPS in vm_annotations:
        parsed = _atoi(vm_annotations[MAX_INCREMENTAL_BACKUPS])
        if parsed is not None and parsed >= 0:
            return parsed
    return global_limit


# ------------------------------------------------------------------------------- tracker


class TrackerLookup(StrEnum):
    """How a controller finds the VM's VirtualMachineBackupTracker."""

    LABEL = "label"  # newest: the first tracker in the namespace labelled vm-name-hash=label_hash(vm)
    NAME = "name"  # older controllers: the tracker named vmbt-<vm name>


@dataclass(frozen=True)
class Tracker:
    """A VirtualMachineBackupTracker in the VM's namespace."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    latest_checkpoint: str | None = None  # status.latestCheckpoint.name; None: no status

    @classmethod
    def for_vm(cls, vm_name: str, latest_checkpoint: str | None = None) -> Tracker:
        """A tracker as the newest controller creates it: generated name, the hash label."""
        return cls(f"vmbt-{vm_name}-model", {VM_NAME_HASH: label_hash(vm_name)}, latest_checkpoint)

    def after_backup(self, checkpoint: str) -> Tracker:
        """The tracker once KubeVirt finished a backup through it: it names the new checkpoint."""
        return replace(self, latest_checkpoint=checkpoint)


def find_tracker(trackers: Sequence[Tracker], vm_name: str, lookup: TrackerLookup) -> Tracker | None:
    if lookup is TrackerLookup.NAME:
        return next((t for t in trackers if t.name == f"vmbt-{vm_name}"), None)
    wanted = label_hash(vm_name)
    return next((t for t in trackers if t.labels.get(VM_NAME_HASH) == wanted), None)


def _archived_checkpoint(
    index: bytes | IndexDocument | None, objects: Objects | None, failing: Collection[str]
) -> str | None:
    """lookupLatestVMBTFromBSL: status.latestCheckpoint.name of the vmbt.json archived with the
    index's last entry; None wherever the controller ends up with a fresh tracker instead (no
    index, unreadable or empty index, no vmbtObjectPath, archive missing or unreadable)."""
    try:
        document = _document(index)
    except UnreadableIndex:
        return None
    if document is None or not document.entries:
        return None
    latest = document.entries[-1]
    path = latest.vmbt_object_path
    if not path or path in failing:
        return None
    if objects is None:  # a model run without a bucket: the uploader's archive, as it writes it
        return latest.id
    body = objects.get(path)
    if body is None:
        return None
    if isinstance(body, int):  # only a size: archiveKubeResources set it to this entry's checkpoint
        return latest.id
    try:
        status = json.loads(body).get("status") or {}
        name = (status.get("latestCheckpoint") or {}).get("name")
    except (ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


# -------------------------------------------------------------------------------- lookup


@dataclass(frozen=True)
class Lookup:
    """uploader.CheckpointLookupResult."""

    found: bool
    chain_valid: bool = False
    latest: str = ""  # the checkpoint an incremental would build on
    chain_length: int = 0
    reason: str = ""  # why not found or not valid
    message: str = ""


def _document(index: bytes | IndexDocument | None) -> IndexDocument | None:
    if index is None or isinstance(index, IndexDocument):
        return index
    return decode_index(index)


def _chain(entries: Sequence[IndexEntry], target: str) -> list[IndexEntry]:
    """buildCheckpointChain: from target along `parent`, root first; an id maps to its last
    entry in the list; the walk stops at an empty parent, an unknown id or a repeated one."""
    by_id = {e.id: e for e in entries}
    chain: list[IndexEntry] = []
    seen: set[str] = set()
    current = target
    while current and current not in seen and current in by_id:
        seen.add(current)
        chain.insert(0, by_id[current])
        current = by_id[current].parent
    return chain


def _exists(path: str, objects: Objects | None, failing: Collection[str]) -> bool:
    """ObjectExists: an error counts as missing; an empty path is refused before any call."""
    if not path or path in failing:
        return False
    return objects is None or path in objects


def lookup_latest_checkpoint(
    index: bytes | IndexDocument | None, objects: Objects | None, failing: Collection[str] = ()
) -> Lookup:
    """LookupLatestCheckpoint and validateCheckpointChain, file existence only (no sizes)."""
    if index is None:
        return Lookup(False, reason="no-index", message="no checkpoint index found")
    try:
        document = _document(index)
    except UnreadableIndex as error:
        return Lookup(False, reason="unreadable-index", message=str(error))
    assert document is not None
    if not document.entries:
        return Lookup(False, reason="empty-index", message="checkpoint index contains no checkpoints")
    target = current = document.entries[-1].id
    while True:
        chain = _chain(document.entries, current)
        if not chain:
            return Lookup(False, reason="latest-not-found", message=f"checkpoint {current!r} not found")
        if chain[0].type.lower() != FULL:
            return Lookup(False, reason="root-not-full", message=f"chain starts with type {chain[0].type!r}")
        broken = next(
            (
                i
                for i in range(len(chain) - 1, -1, -1)
                if not all(_exists(f.object_path, objects, failing) for f in chain[i].files)
            ),
            None,
        )
        if broken is None:
            valid = current == target
            return Lookup(
                True,
                chain_valid=valid,
                latest=current,
                chain_length=len(chain),
                reason="" if valid else "broken-chain",
                message=f"{len(chain)} checkpoints" if valid else f"fell back from {target} to {current}",
            )
        if broken == 0:
            return Lookup(False, reason="broken-chain", message=f"full checkpoint {chain[0].id!r} is broken")
        current = chain[broken - 1].id


# ------------------------------------------------------------------------------ decision


@dataclass(frozen=True)
class Decision:
    """What the controller asks KubeVirt for, and why."""

    mode: str  # "full" | "incremental"
    reason: str  # the first rule that forced a full, or "chain-valid"
    tracker: Tracker  # the tracker the backup goes through (found, or recreated for it)
    detail: str = ""
    chain_length: int = 0  # of the chain the lookup walked; 0 when none was found
    limit: int | None = None  # the effective max-incremental limit, where it was consulted
    latest: str = ""  # the checkpoint an incremental builds on
    tracker_recreated: bool = False

    @property
    def full(self) -> bool:
        return self.mode == FULL

    @property
    def incrementals(self) -> int:
        return max(self.chain_length - 1, 0)


def resolve_backup_mode(
    *,
    vm_name: str,
    index: bytes | IndexDocument | None,
    objects: Objects | None,
    vm_annotations: Mapping[str, str] | None,
    global_limit: int = 0,
    trackers: Sequence[Tracker] = (),
    tracker_lookup: TrackerLookup = TrackerLookup.LABEL,
    dataupload_annotations: Mapping[str, str] | None = None,
    unreachable: bool = False,
    failing: Collection[str] = (),
) -> Decision:
    """The controller's decision for one new DataUpload of the VM.

    ``index`` is the body of the VM's index.json (None: no such object); ``objects`` what exists
    under the datamover prefix, key to size or body (None: everything the index names exists);
    sizes are never compared with the index's. ``vm_annotations`` are the VM's at decision time
    (None: the VM could not be read). ``trackers`` are the VirtualMachineBackupTrackers in the
    VM's namespace. ``unreachable``: the bucket or the index cannot be read (any error but "not
    found"); ``failing``: object keys whose existence check errors.
    """
    found = find_tracker(trackers, vm_name, tracker_lookup)
    # prepareVMBackupTracker runs first: a missing tracker is created, its checkpoint from the archive.
    tracker = found or Tracker.for_vm(vm_name, None if unreachable else _archived_checkpoint(index, objects, failing))

    def decided(
        mode: str, reason: str, detail: str, lookup: Lookup | None = None, limit: int | None = None
    ) -> Decision:
        return Decision(
            mode,
            reason,
            tracker,
            detail,
            chain_length=lookup.chain_length if lookup else 0,
            limit=limit,
            latest=lookup.latest if lookup else "",
            tracker_recreated=found is None,
        )

    if (dataupload_annotations or {}).get(FORCE_FULL_BACKUP) == "true":
        return decided(FULL, "force-full-annotation", f"{FORCE_FULL_BACKUP}=true on the DataUpload")
    if unreachable:
        return decided(FULL, "lookup-failed", "the checkpoint lookup failed, and the default is full")
    lookup = lookup_latest_checkpoint(index, objects, failing)
    if not (lookup.found and lookup.chain_valid):
        return decided(FULL, lookup.reason, lookup.message, lookup)

    limit = effective_limit(vm_annotations, global_limit)
    incrementals = lookup.chain_length - 1
    if limit > 0 and incrementals >= limit:
        return decided(FULL, "max-incremental", f"{incrementals} incrementals, limit {limit}", lookup, limit)
    named = tracker.latest_checkpoint or ""
    if named != lookup.latest:
        detail = f"tracker {tracker.name} names {named!r}, the index {lookup.latest!r}"
        return decided(FULL, "tracker-mismatch", detail, lookup, limit)
    return decided(INCREMENTAL, "chain-valid", lookup.message, lookup, limit)


@dataclass(frozen=True)
class UpstreamController:
    """A controller deployment: its ``--max-incremental-backups`` and how it finds trackers."""

    global_max_incremental: int = 0  # the DPA's maxIncrementalBackups; 0 = unlimited
    tracker_lookup: TrackerLookup = TrackerLookup.LABEL

    def decide(
        self,
        *,
        vm_name: str,
        index: bytes | IndexDocument | None,
        objects: Objects | None,
        vm_annotations: Mapping[str, str] | None,
        trackers: Sequence[Tracker] = (),
        dataupload_annotations: Mapping[str, str] | None = None,
        unreachable: bool = False,
        failing: Collection[str] = (),
    ) -> Decision:
        return resolve_backup_mode(
            vm_name=vm_name,
            index=index,
            objects=objects,
            vm_annotations=vm_annotations,
            global_limit=self.global_max_incremental,
            trackers=trackers,
            tracker_lookup=self.tracker_lookup,
            dataupload_annotations=dataupload_annotations,
            unreachable=unreachable,
            failing=failing,
        )
