"""Writes examples/snapshot: a realistic offline snapshot in which every action and reason appears.

Run `python examples/generate.py` after changing it; the output is committed so `make demo`
needs nothing but the package. Demo instant: 2026-11-24T20:00:00Z. Velero namespace: velero.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parent / "snapshot"
BUCKET, PREFIX = "vm-backups", "velero"
DM = f"{PREFIX}-kubevirt-datamover"
GiB = 1024**3
P = "kubevirt-datamover.io/"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule(
    name: str, cron: str, annotations: dict[str, str], template: dict[str, Any], *, last: str, paused: bool = False
) -> dict[str, Any]:
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": {
            "name": name,
            "namespace": "velero",
            "annotations": annotations,
            "creationTimestamp": "2026-09-01T09:00:00Z",
            "uid": f"uid-sched-{name}",
            "resourceVersion": "1001",
        },
        "spec": {
            "schedule": cron,
            "paused": paused,
            "template": {"snapshotMoveData": True, "storageLocation": "default", "ttl": "720h0m0s", **template},
        },
        "status": {"phase": "Enabled", "lastBackup": last},
    }


def vm(
    ns: str,
    name: str,
    *,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    status: str = "Running",
    cbt: str | None = "Enabled",
) -> dict[str, Any]:
    st: dict[str, Any] = {"printableStatus": status, "ready": status == "Running"}
    if cbt is not None:
        st["changedBlockTracking"] = {"state": cbt}
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": labels or {},
            "annotations": annotations or {},
            "uid": f"uid-vm-{ns}-{name}",
            "resourceVersion": "2001",
            "creationTimestamp": "2026-08-01T10:00:00Z",
        },
        "spec": {"runStrategy": "Always" if status == "Running" else "Halted"},
        "status": st,
    }


def chain(
    ns: str,
    name: str,
    *,
    first: datetime,
    count: int,
    every: timedelta = timedelta(days=1),
    disks: tuple[str, ...] = ("rootdisk", "datadisk"),
    full_size: int = 20 * GiB,
    prefix: str = "cp",
    schedule_name: str = "nightly-prod",
    start: int = 1,
    root_parent: str = "",
    incremental_size: int | None = None,
) -> list[dict[str, Any]]:
    """`count` checkpoints: a full at `first`, then incrementals every `every`, 12 minutes after the window."""
    out = []
    parent = root_parent
    for i in range(count):
        when = first + i * every + timedelta(minutes=12, seconds=7)
        cid = f"{prefix}-{start + i:03d}"
        backup = f"{schedule_name}-{(first + i * every).strftime('%Y%m%d%H%M%S')}"
        full = i == 0 and not root_parent
        files = []
        for d in disks:
            small = full_size // 40 + 4096 * i if incremental_size is None else incremental_size
            size = full_size if full else small
            files.append(
                {
                    "filename": f"vmb-{cid}-{d}.qcow2",
                    "diskName": d,
                    "size": size,
                    "objectPath": f"checkpoints/{ns}/{name}/{cid}/vmb-{cid}-{d}.qcow2",
                }
            )
        entry: dict[str, Any] = {
            "id": cid,
            "type": "Full" if full else "Incremental",
            "timestamp": iso(when),
            "vmBackup": f"vmb-{cid}",
            "files": files,
            "pvcs": [f"{name}-{d}" for d in disks],
            "pvcSizes": ["50Gi" for _ in disks],
            "referencedBy": [backup],
            "vmbObjectPath": f"checkpoints/{ns}/{name}/{cid}/vmb.json",
            "vmbtObjectPath": f"checkpoints/{ns}/{name}/{cid}/vmbt.json",
        }
        if parent:
            entry["parent"] = parent
        out.append(entry)
        parent = cid
    return out


def write_index(
    ns: str, name: str, checkpoints: list[dict[str, Any]], *, skip: set[str] = frozenset(), raw: str | None = None
) -> None:
    base = OUT / "buckets" / BUCKET / DM / "checkpoints" / ns / name
    base.mkdir(parents=True, exist_ok=True)
    for cp in checkpoints:
        for f in cp["files"]:
            if f["objectPath"] not in skip:
                path = OUT / "buckets" / BUCKET / DM / f["objectPath"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")  # zero-length stand-in: existence from the file, size from the index
        for key in ("vmbObjectPath", "vmbtObjectPath"):
            (OUT / "buckets" / BUCKET / DM / cp[key]).write_text("{}\n")
    doc = {
        "vmName": name,
        "namespace": ns,
        "lastUpdated": checkpoints[-1]["timestamp"] if checkpoints else None,
        "checkpoints": checkpoints,
    }
    (base / "index.json").write_text(raw if raw is not None else json.dumps(doc, indent=2) + "\n")


def controller(max_incremental: int) -> dict[str, Any]:
    """The kubevirt-datamover controller as OADP deploys it beside Velero (DPA maxIncrementalBackups)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "oadp-kubevirt-datamover-controller-manager", "namespace": "velero"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "manager",
                            "command": ["/manager"],
                            "args": [
                                "--leader-elect",
                                "--health-probe-bind-address=:8081",
                                "--metrics-bind-address=:8443",
                                "--metrics-secure=true",
                                f"--max-incremental-backups={max_incremental}",
                            ],
                        }
                    ]
                }
            }
        },
    }


def tracker(ns: str, name: str, checkpoint: str) -> dict[str, Any]:
    """The VM's VirtualMachineBackupTracker, found by the controller through its vm-name-hash label."""
    return {
        "apiVersion": "backup.kubevirt.io/v1alpha1",
        "kind": "VirtualMachineBackupTracker",
        "metadata": {
            "name": f"vmbt-{name}-q8w2x",
            "namespace": ns,
            "labels": {P + "vm-name-hash": hashlib.sha256(name.encode()).hexdigest()[:16]},
            "annotations": {P + "vm-name": name},
        },
        "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": name}},
        "status": {"latestCheckpoint": {"name": checkpoint}},
    }


def state(
    original: str | None, forced_at: str | None = None, root: str | None = None, reasons: tuple[str, ...] = ()
) -> str:
    return json.dumps(
        {"original": original, "forcedAt": forced_at, "forcedRoot": root, "reasons": list(reasons)},
        separators=(",", ":"),
    )


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "cluster").mkdir(parents=True)
    nightly = ts("2026-11-24T01:00:00Z")

    bsl = {
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": {"name": "default", "namespace": "velero", "uid": "uid-bsl-default", "resourceVersion": "900"},
        "spec": {
            "provider": "aws",
            "default": True,
            "objectStorage": {"bucket": BUCKET, "prefix": PREFIX},
            "config": {
                "region": "us-east-1",
                "s3Url": "https://minio.backup.example.com:9000",
                "s3ForcePathStyle": "true",
            },
            "credential": {"name": "cloud-credentials", "key": "cloud"},
        },
        "status": {"phase": "Available"},
    }
    schedules = [
        schedule(
            "nightly-prod",
            "0 1 * * *",
            {P + "force-full-backup-interval": "7", P + "force-full-backup-max-age": "7d"},
            {"includedNamespaces": ["prod", "finance"]},
            last="2026-11-24T01:00:00Z",
        ),
        schedule(
            "weekly-db",
            "CRON_TZ=Europe/Berlin 0 3 * * 0",
            {P + "force-full-backup-interval": "10", P + "force-full-backup-max-age": "14d"},
            {"includedNamespaces": ["prod"], "labelSelector": {"matchLabels": {"app": "database"}}},
            last="2026-11-22T02:00:00Z",
        ),
        schedule(
            "dev-every-6h",
            "0 */6 * * *",
            {P + "force-full-backup-interval": "5"},
            {
                "ttl": "24h0m0s",  # dev backups expire after a day: dev-2's long chain holds old ones past it
                "includedNamespaces": ["dev"],
                "labelSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["dev", "test"]}]},
            },
            last="2026-11-24T18:00:00Z",
        ),
        schedule(
            "qa-nightly",
            "30 2 * * *",
            {P + "force-full-backup-interval": "3"},
            {"includedNamespaces": ["qa"]},
            last="2026-11-10T02:30:00Z",
            paused=True,
        ),
        schedule(
            "finance-hourly",
            "@every 1h",
            {P + "force-full-backup-max-age": "7x"},
            {"includedNamespaces": ["finance"], "labelSelector": {"matchLabels": {"hourly": "true"}}},
            last="2026-11-24T19:17:00Z",
        ),
        schedule("infra-weekly", "@weekly", {}, {"includedNamespaces": ["*"]}, last="2026-11-22T00:00:00Z"),
        # Calendar: a full every Thursday on Tokyo's calendar. The next window, 00:30 on Thursday in
        # Tokyo, is 15:30 UTC on Wednesday.
        schedule(
            "staging-tokyo",
            "CRON_TZ=Asia/Tokyo 30 0 * * *",
            {P + "force-full-backup-days": "Thu", P + "force-full-backup-interval": "14"},
            {"includedNamespaces": ["staging"], "labelSelector": {"matchLabels": {"policy": "calendar"}}},
            last="2026-11-24T15:30:00Z",
        ),
        # Growth: a full once the incrementals weigh half the full.
        schedule(
            "staging-scratch",
            "0 2 * * *",
            {P + "force-full-backup-max-growth": "50%", P + "force-full-backup-interval": "14"},
            {"includedNamespaces": ["staging"], "labelSelector": {"matchLabels": {"policy": "growth"}}},
            last="2026-11-24T02:00:00Z",
        ),
    ]
    vms = [
        # prod: nightly-prod (interval 7, max-age 7d); db-1 also under weekly-db.
        vm("prod", "db-1", labels={"app": "database"}),
        vm(
            "prod", "web-1", annotations={P + "max-incremental-backups": "7", P + "full-backup-reconciler": state(None)}
        ),
        vm("prod", "web-2"),
        vm("prod", "cache-1", status="Stopped"),
        vm("prod", "app-legacy", cbt="Disabled"),
        vm("prod", "api-1"),
        vm("prod", "web-3"),
        # finance: nightly-prod too.
        vm("finance", "ledger"),
        vm("finance", "reports"),
        vm("finance", "billing"),
        vm(
            "finance",
            "payroll",
            annotations={
                P + "max-incremental-backups": "6",
                P + "full-backup-reconciler": state("14", "2026-11-20T19:30:05Z", "cp-001", ("count",)),
                P + "full-backup-due": "true",
            },
            labels={P + "full-backup-due": "true"},
        ),
        vm("finance", "audit", annotations={P + "force-full-backup-max-age": "1d"}),
        # dev: dev-every-6h (interval 5).
        vm("dev", "dev-1", labels={"tier": "dev"}),
        vm("dev", "dev-2", labels={"tier": "dev"}, annotations={P + "force-full-backup-interval": "off"}),
        vm("dev", "dev-3", labels={"tier": "test"}, annotations={P + "force-full-backup-interval": "five"}),
        vm(
            "dev",
            "dev-4",
            labels={"tier": "sandbox"},
            annotations={P + "max-incremental-backups": "5", P + "full-backup-reconciler": state("12")},
        ),
        vm("dev", "dev-5", labels={"tier": "test"}, annotations={P + "max-incremental-backups": "30"}),
        vm("dev", "dev-6", labels={"tier": "dev"}, annotations={P + "force-full-backup-interval": "12"}),
        # qa: only under a paused schedule.
        vm("qa", "qa-1"),
        # staging: one VM under the calendar, one under the growth policy.
        vm("staging", "builder", labels={"policy": "calendar"}),
        vm("staging", "scratch", labels={"policy": "growth"}),
    ]
    (OUT / "cluster" / "velero.yaml").write_text(yaml.safe_dump_all([bsl, *schedules], sort_keys=False))
    vm_list = {"apiVersion": "v1", "kind": "List", "items": vms}
    (OUT / "cluster" / "virtualmachines.yaml").write_text(yaml.safe_dump(vm_list, sort_keys=False))
    # The controller's global limit 10 (above every interval here, so it changes no baseline), and the
    # trackers of three VMs: web-3's names the checkpoint before its index's latest.
    (OUT / "cluster" / "controller.yaml").write_text(yaml.safe_dump(controller(10), sort_keys=False))
    trackers = [tracker("prod", "db-1", "cp-009"), tracker("prod", "web-1", "cp-004"), tracker("prod", "web-3", "cp-003")]
    (OUT / "cluster" / "trackers.yaml").write_text(yaml.safe_dump_all(trackers, sort_keys=False))

    day = timedelta(days=1)
    write_index("prod", "db-1", chain("prod", "db-1", first=nightly - 8 * day, count=9, full_size=120 * GiB))
    web1 = chain("prod", "web-1", first=nightly - 3 * day, count=4)
    write_index("prod", "web-1", web1)
    # One object of web-1 is listed with another size than its index records: a warning only.
    resized = web1[2]["files"][0]
    sizes = {BUCKET: {f"{DM}/{resized['objectPath']}": resized["size"] - 65536}}
    # And a data file no entry names any more (its entry was lost): leaked, 2 GiB, its size recorded
    # as `snapshot --out` records the size of an object the index does not size.
    leaked = "checkpoints/prod/web-1/cp-000/vmb-cp-000-rootdisk.qcow2"
    (OUT / "buckets" / BUCKET / DM / leaked).parent.mkdir(parents=True)
    (OUT / "buckets" / BUCKET / DM / leaked).write_bytes(b"")
    sizes[BUCKET][f"{DM}/{leaked}"] = 2 * GiB
    (OUT / "object-sizes.json").write_text(json.dumps(sizes, indent=1, sort_keys=True) + "\n")
    write_index("prod", "web-3", chain("prod", "web-3", first=nightly - 3 * day, count=4))
    web2 = chain("prod", "web-2", first=nightly - 7 * day, count=8)
    del web2[2:4]  # two failed nights: 5 incrementals, relink the chain
    web2[2]["parent"] = web2[1]["id"]
    write_index("prod", "web-2", web2)
    write_index("prod", "cache-1", chain("prod", "cache-1", first=nightly - 20 * day, count=3))
    ledger = chain("finance", "ledger", first=nightly - 5 * day, count=6, full_size=60 * GiB)
    write_index("finance", "ledger", ledger, skip={ledger[3]["files"][1]["objectPath"]})
    write_index(
        "finance",
        "reports",
        chain("finance", "reports", first=nightly - 4 * day, count=5, start=9, root_parent="cp-008"),
    )
    billing = chain("finance", "billing", first=nightly - 2 * day, count=3)
    raw = json.dumps({"vmName": "billing", "namespace": "finance", "checkpoints": billing}, indent=2)
    broken = raw.replace('"size": 21474836480', '"size": "21474836480"', 1)
    assert broken != raw, "the billing example must carry a size written as a string"
    write_index("finance", "billing", billing, raw=broken)
    old = chain("finance", "payroll", first=nightly - 12 * day, count=8)  # an older chain kept for retention
    old[-1]["referencedBy"] = [""]  # its last backup expired: no backup references that checkpoint
    new = chain("finance", "payroll", first=nightly - 3 * day, count=4, start=9)
    write_index("finance", "payroll", old + new)
    write_index("finance", "audit", chain("finance", "audit", first=nightly, count=1))
    dev_window = ts("2026-11-24T18:00:00Z")
    sixh = timedelta(hours=6)
    # dev VMs, every 6 hours: (name, checkpoints) — a full then incrementals up to the last window.
    # dev-6 (interval 12 of its own) reaches the controller's global limit 10 first.
    for name, count in (("dev-1", 3), ("dev-2", 10), ("dev-4", 5), ("dev-5", 6), ("dev-6", 11)):
        first = dev_window - (count - 1) * sixh
        cps = chain("dev", name, first=first, count=count, every=sixh, schedule_name="dev-every-6h", full_size=8 * GiB)
        write_index("dev", name, cps)
    tokyo = ts("2026-11-21T15:30:00Z")  # 00:30 on Sunday in Tokyo
    write_index("staging", "builder",
                chain("staging", "builder", first=tokyo, count=4, schedule_name="staging-tokyo"))
    # 3 incrementals of 1.5 GiB per disk on a full of 8 GiB per disk: 56.25 % of the full.
    write_index("staging", "scratch",
                chain("staging", "scratch", first=ts("2026-11-21T02:00:00Z"), count=4, schedule_name="staging-scratch",
                      full_size=8 * GiB, incremental_size=3 * GiB // 2))
    write_index(
        "qa", "qa-1", chain("qa", "qa-1", first=ts("2026-11-01T02:30:00Z"), count=10, schedule_name="qa-nightly")
    )


if __name__ == "__main__":
    main()
