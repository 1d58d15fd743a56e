"""How the datamover pod's uploader writes a checkpoint into ``index.json`` (``updateVMIndex``).

Pure: it takes the index document (or None) and returns the new one with the objects to write.
What it reproduces:

* the entry's ``type`` is what KubeVirt reported for the backup ("Full" / "Incremental");
* an incremental names the index's *last* entry as ``parent``; a full has no parent;
* files sit at ``checkpoints/<ns>/<vm>/<checkpoint>/<filename>``, ``diskName`` being the part of
  the file name after its last '-' (``extractDiskName``), ``size`` the bytes uploaded;
* ``vmb.json`` and ``vmbt.json`` are archived beside them (``archiveKubeResources``) and named by
  ``vmbObjectPath`` / ``vmbtObjectPath``; the archived tracker names this checkpoint;
* ``referencedBy`` gets the Velero backup's name, on the new entry and on every ancestor along
  ``parent`` (``propagateReferencedBy``), without duplicates (``mergeReferencedBy``);
* an entry whose id is already in the index replaces it in place, keeping its ``referencedBy``
  (and its parent if the new one would point at itself); otherwise it is appended, newest last;
* ``lastUpdated`` is the time of the write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["append_checkpoint", "archived_tracker"]


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _disk_name(filename: str) -> str:
    """extractDiskName: "vmb-xxx-disk1.qcow2" -> "disk1"."""
    stem = filename.removesuffix(".qcow2").removesuffix(".QCOW2")
    return stem.split("-")[-1]


def _merged(existing: list[str], additional: list[str]) -> list[str]:
    return list(dict.fromkeys([*existing, *additional]))


def archived_tracker(namespace: str, name: str, checkpoint: str) -> bytes:
    """The vmbt.json the uploader archives: the VM's tracker, its latest checkpoint set to this one."""
    body = {
        "apiVersion": "backup.kubevirt.io/v1alpha1",
        "kind": "VirtualMachineBackupTracker",
        "metadata": {"name": f"vmbt-{name}", "namespace": namespace},
        "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": name}},
        "status": {"latestCheckpoint": {"name": checkpoint}},
    }
    return json.dumps(body).encode()


def append_checkpoint(
    doc: dict[str, Any] | None,
    *,
    namespace: str,
    name: str,
    mode: str,
    at: datetime,
    backup: str,
    disk_sizes: Mapping[str, int],
    checkpoint: str | None = None,
) -> tuple[dict[str, Any], list[tuple[str, int]]]:
    """The index after one more backup, and the objects (key under the datamover prefix, size)
    the uploader writes for it. ``checkpoint`` is KubeVirt's checkpoint name (default: one made
    from the VM, the time and the entry count)."""
    doc = dict(doc or {"vmName": name, "namespace": namespace, "checkpoints": []})
    checkpoints = [dict(c) for c in doc.get("checkpoints") or []]
    cid = checkpoint or f"{name}-{at.strftime('%Y%m%d%H%M%S')}-{len(checkpoints) + 1:04d}"
    base = f"checkpoints/{namespace}/{name}/{cid}"
    files: list[dict[str, Any]] = []
    for disk, size in disk_sizes.items():
        filename = f"vmb-{cid}-{disk}.qcow2"
        files.append(
            {"filename": filename, "diskName": _disk_name(filename), "size": size, "objectPath": f"{base}/{filename}"}
        )
    entry: dict[str, Any] = {
        "id": cid,
        "type": "Full" if mode == "full" else "Incremental",
        "timestamp": _iso(at),
        "vmBackup": f"vmb-{cid}",
        "files": files,
        "pvcs": list(disk_sizes),
        "referencedBy": [backup] if backup else None,
        "vmbObjectPath": f"{base}/vmb.json",
        "vmbtObjectPath": f"{base}/vmbt.json",
    }
    if mode != "full" and checkpoints:
        entry["parent"] = checkpoints[-1]["id"]
    same = next((i for i, c in enumerate(checkpoints) if c.get("id") == cid), None)
    if same is None:
        checkpoints.append(entry)
    else:
        old = checkpoints[same]
        if entry.get("parent") == cid:
            entry["parent"] = old.get("parent", "")
        entry["referencedBy"] = _merged(old.get("referencedBy") or [], entry["referencedBy"] or [])
        checkpoints[same] = entry
    if backup:
        _propagate(checkpoints, cid, backup)
    doc["checkpoints"] = checkpoints
    doc["lastUpdated"] = _iso(at)
    objects: list[tuple[str, int]] = [(str(f["objectPath"]), int(f["size"])) for f in files]
    objects += [(f"{base}/vmb.json", 2), (f"{base}/vmbt.json", len(archived_tracker(namespace, name, cid)))]
    return doc, objects


def _propagate(checkpoints: list[dict[str, Any]], start: str, backup: str) -> None:
    """propagateReferencedBy: every ancestor of `start` also lists the backup."""
    position = {c.get("id"): i for i, c in enumerate(checkpoints)}
    parent = checkpoints[position[start]].get("parent") or ""
    seen: set[str] = set()
    while parent and parent not in seen and parent in position:
        seen.add(parent)
        ancestor = checkpoints[position[parent]]
        ancestor["referencedBy"] = _merged(ancestor.get("referencedBy") or [], [backup])
        parent = ancestor.get("parent") or ""
