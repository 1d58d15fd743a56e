"""A small model of the kubevirt-datamover controller and uploader (SPEC 3.1, 3.3).

It decides full vs incremental with the controller's rules and appends index entries the way
the uploader writes them. Pure: callers move the documents to and from a bucket. `simulate`
and the end-to-end tests drive the reconciler against it window after window.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler import keys
from reconciler.core.chain import Listing, compute_chain
from reconciler.core.model import IndexResult
from reconciler.core.state import controller_limit


@dataclass(frozen=True)
class UpstreamController:
    """`resolveBackupMode`: force annotation, chain validation, then the max-incremental rule."""

    global_max_incremental: int = 0  # the DPA's maxIncrementalBackups (0: unlimited)

    def limit(self, vm_annotations: Mapping[str, str]) -> int:
        """The VM's annotation wins over the global value; an unparsable or negative one is ignored."""
        own = controller_limit(vm_annotations.get(keys.MAX_INCREMENTAL))
        return own if own is not None else self.global_max_incremental

    def mode(self, *, vm_annotations: Mapping[str, str], index: IndexResult, listing: Listing | None,
             force_annotation: bool = False) -> tuple[str, str]:
        """("full" | "incremental", why)."""
        if force_annotation:
            return "full", "force-full-backup annotation"
        chain = compute_chain(index, listing)
        if not chain.valid:
            return "full", str(chain.state)
        limit = self.limit(vm_annotations)
        if limit > 0 and chain.incrementals >= limit:
            return "full", f"max-incremental-backups {limit} reached ({chain.incrementals})"
        return "incremental", "chain valid"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def append_checkpoint(
    doc: dict[str, Any] | None,
    *,
    namespace: str,
    name: str,
    mode: str,
    at: datetime,
    backup: str,
    disk_sizes: Mapping[str, int],
) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """The index after one more backup, and the objects (key relative to the datamover prefix, size)
    the uploader writes for it. Incrementals name the current latest entry as parent."""
    doc = dict(doc or {"vmName": name, "namespace": namespace, "checkpoints": []})
    checkpoints = list(doc.get("checkpoints") or [])
    cid = f"{name}-{at.strftime('%Y%m%d%H%M%S')}-{len(checkpoints) + 1:04d}"
    base = f"checkpoints/{namespace}/{name}/{cid}"
    files = [
        {"filename": f"vmb-{cid}-{disk}.qcow2", "diskName": disk, "size": size,
         "objectPath": f"{base}/vmb-{cid}-{disk}.qcow2"}
        for disk, size in disk_sizes.items()
    ]
    entry: dict[str, Any] = {
        "id": cid,
        "type": "Full" if mode == "full" else "Incremental",
        "timestamp": _iso(at),
        "vmBackup": f"vmb-{cid}",
        "files": files,
        "pvcs": list(disk_sizes),
        "referencedBy": [backup],
        "vmbObjectPath": f"{base}/vmb.json",
        "vmbtObjectPath": f"{base}/vmbt.json",
    }
    if mode != "full" and checkpoints:
        entry["parent"] = checkpoints[-1]["id"]
    checkpoints.append(entry)
    doc["checkpoints"] = checkpoints
    doc["lastUpdated"] = _iso(at)
    objects: list[tuple[str, int]] = [(str(f["objectPath"]), int(str(f["size"]))) for f in files]
    objects += [(f"{base}/vmb.json", 2), (f"{base}/vmbt.json", 2)]
    return doc, objects
