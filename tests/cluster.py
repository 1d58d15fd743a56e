"""An end-to-end world: the fake API server, a moto bucket, and a model of the upstream controller.

`World.run(...)` calls the real CLI (`main`) with a kubeconfig pointing at the fake API server and a
BSL pointing at moto, exactly as production would. `World.backup_window(t)` plays Velero and the
kubevirt-datamover: one backup per VM in scope, full or incremental by the independent upstream
model (`reconciler.simulate.upstream`), from the VM annotations read live from the API server, the index
and the objects in the bucket, and the VM's tracker; index entries are written as the uploader
writes them. What the tests assert about chains (`history`) is read from the documents here, with
none of the job's chain code.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.cli import main
from reconciler.core import keys
from reconciler.core.controller import OADP_DEPLOYMENT, vm_name_hash
from reconciler.simulate.upstream import Tracker, UpstreamController, append_checkpoint
from tests.fakekube.resources import backup_tracker_resource
from tests.fakekube.server import DEFAULT_CONTEXT, FakeKubeServer
from tests.s3fixtures import CREDENTIALS, Seeder

BUCKET, PREFIX = "backups", "velero"
DM = f"{PREFIX}-kubevirt-datamover"
DISKS = {"rootdisk": 3000, "datadisk": 1000}


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def chain_of(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The entries from the last one back along `parent`, root first (the harness's own walk)."""
    entries = list(doc.get("checkpoints") or [])
    by_id = {e["id"]: e for e in entries}
    chain: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    current = entries[-1]["id"] if entries else ""
    while current in by_id and current not in seen:
        seen.add(current)
        chain.insert(0, by_id[current])
        current = by_id[current].get("parent") or ""
    return chain


def bsl_object(endpoint: str) -> dict[str, Any]:
    return {
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": {"name": "default", "namespace": "velero"},
        "spec": {
            "provider": "aws",
            "default": True,
            "objectStorage": {"bucket": BUCKET, "prefix": PREFIX},
            "config": {"region": "us-east-1", "s3Url": endpoint, "s3ForcePathStyle": "true"},
            "credential": {"name": "cloud-credentials", "key": "cloud"},
        },
    }


def secret_object(text: str = CREDENTIALS) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "cloud-credentials", "namespace": "velero"},
        "type": "Opaque",
        "data": {"cloud": base64.b64encode(text.encode()).decode()},
    }


def schedule_object(
    name: str,
    annotations: Mapping[str, str],
    *,
    cron: str = "0 1 * * *",
    namespaces: Sequence[str] = ("apps",),
    created: str = "2026-01-01T00:00:00Z",
    last_backup: str | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": {
            "name": name,
            "namespace": "velero",
            "annotations": dict(annotations),
            "creationTimestamp": created,
        },
        "spec": {"schedule": cron, "template": {"includedNamespaces": list(namespaces), "snapshotMoveData": True}},
        "status": {"phase": "Enabled"},
    }
    if last_backup:
        obj["status"]["lastBackup"] = last_backup
    return obj


def controller_deployment(*flags: str, namespace: str = "velero", name: str = OADP_DEPLOYMENT) -> dict[str, Any]:
    """The kubevirt-datamover controller's Deployment as OADP writes it: `manager` runs /manager with flags."""
    args = [
        "--leader-elect",
        "--health-probe-bind-address=:8081",
        "--metrics-bind-address=:8443",
        "--metrics-secure=true",
        *flags,
    ]
    manager = {
        "name": "manager",
        "image": "quay.io/konveyor/kubevirt-datamover-controller",
        "command": ["/manager"],
        "args": args,
        "env": [{"name": "WATCH_NAMESPACE", "value": namespace}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": "kubevirt-datamover"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"control-plane": "controller-manager"}},
            "template": {
                "metadata": {"labels": {"control-plane": "controller-manager"}},
                "spec": {"containers": [manager]},
            },
        },
    }


def tracker_object(
    vm: str, checkpoint: str | None, *, namespace: str = "apps", suffix: str = "x7k2p"
) -> dict[str, Any]:
    """A VirtualMachineBackupTracker as the newest controller creates it (generateName vmbt-<vm>-, hash label)."""
    obj: dict[str, Any] = {
        "apiVersion": "backup.kubevirt.io/v1alpha1",
        "kind": "VirtualMachineBackupTracker",
        "metadata": {
            "name": f"vmbt-{vm}-{suffix}",
            "namespace": namespace,
            "labels": {keys.VM_NAME_HASH: vm_name_hash(vm)},
            "annotations": {"kubevirt-datamover.io/vm-name": vm},
        },
        "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": vm}},
    }
    if checkpoint is not None:
        obj["status"] = {"latestCheckpoint": {"name": checkpoint}}
    return obj


def vm_object(
    name: str,
    namespace: str = "apps",
    *,
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    running: bool = True,
) -> dict[str, Any]:
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "annotations": dict(annotations or {}),
            "labels": dict(labels or {}),
        },
        "spec": {"runStrategy": "Always"},
        "status": {
            "printableStatus": "Running" if running else "Stopped",
            "changedBlockTracking": {"state": "Enabled"},
        },
    }


class World:
    def __init__(
        self, kube: FakeKubeServer, seeder: Seeder, endpoint: str, tmp: Path, *, tracker_crd: bool = True
    ) -> None:
        self.kube = kube
        self.s3 = seeder
        self.endpoint = endpoint
        self.kubeconfig = kube.write_kubeconfig(tmp / "kubeconfig")
        self.controller = UpstreamController()
        self.docs: dict[tuple[str, str], dict[str, Any]] = {}
        self.trackers: dict[tuple[str, str], Tracker] = {}  # the VMs' trackers on the cluster
        self.history: list[dict[str, Any]] = []  # one record per backup taken
        seeder.bucket(BUCKET)
        kube.seed(bsl_object(endpoint), secret_object())
        # The controller as OADP deploys it (no --max-incremental-backups: 0, unlimited), and its trackers' CRD.
        kube.seed(controller_deployment())
        if tracker_crd:
            kube.register(backup_tracker_resource())

    def set_global_limit(self, value: int | None) -> None:
        """The DPA's maxIncrementalBackups rolled out: the Deployment's flag and the model's global value."""
        flags = () if value is None else (f"--max-incremental-backups={value}",)
        self.kube.seed(controller_deployment(*flags))
        self.controller = UpstreamController(global_max_incremental=value or 0)

    # --- the job ---------------------------------------------------------------------------

    def run(self, *args: str, now: datetime, command: str = "run") -> tuple[int, dict[str, Any]]:
        out, err = io.StringIO(), io.StringIO()
        argv = [
            command,
            "--kubeconfig",
            str(self.kubeconfig),
            "--context",
            DEFAULT_CONTEXT,
            "--velero-namespace",
            "velero",
            "--now",
            iso(now),
            "-o",
            "json",
            *args,
        ]
        code = main(argv, environ={}, stdout=out, stderr=err, sleep=lambda _s: None)
        text = out.getvalue()
        self.last_stderr = err.getvalue()
        if not text:  # the run stopped before it could plan: that must show in the exit status
            assert code != 0, f"exit 0 without a plan; stderr:\n{self.last_stderr}"
            return code, {}
        return code, json.loads(text)

    def snapshot_then_plan(self, out: Path, *, now: datetime) -> tuple[int, int, dict[str, Any]]:
        """`snapshot --out OUT` of this cluster, then `plan --snapshot OUT -o json`: both exit
        statuses and the offline plan ({} when none was printed)."""
        snapped = main(
            [
                "snapshot",
                "--kubeconfig",
                str(self.kubeconfig),
                "--context",
                DEFAULT_CONTEXT,
                "--velero-namespace",
                "velero",
                "--now",
                iso(now),
                "--out",
                str(out),
            ],
            environ={},
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
        buf = io.StringIO()
        planned = main(
            ["plan", "--snapshot", str(out), "--now", iso(now), "-o", "json"],
            environ={},
            stdout=buf,
            stderr=io.StringIO(),
        )
        text = buf.getvalue()
        return snapped, planned, json.loads(text) if text else {}

    def patches(self) -> int:
        return self.kube.counts(resource="virtualmachines")["patch"]

    # --- the upstream systems ------------------------------------------------------------

    def vm(self, name: str, namespace: str = "apps") -> dict[str, Any]:
        obj = self.kube.get("virtualmachines", name, namespace)
        assert obj is not None
        return obj

    def annotations(self, name: str, namespace: str = "apps") -> dict[str, str]:
        return dict(self.vm(name, namespace)["metadata"].get("annotations") or {})

    def labels(self, name: str, namespace: str = "apps") -> dict[str, str]:
        return dict(self.vm(name, namespace)["metadata"].get("labels") or {})

    def listing(self, namespace: str, name: str) -> dict[str, int | None]:
        prefix = f"{DM}/checkpoints/{namespace}/{name}/"
        pages = self.s3.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        return {o["Key"][len(DM) + 1 :]: o["Size"] for page in pages for o in page.get("Contents", [])}

    def backup_window(
        self, window: datetime, vms: Sequence[tuple[str, str]], *, schedule: str = "nightly", fail: Sequence[str] = ()
    ) -> dict[str, str]:
        """One Velero backup at `window`: each VM gets a full or an incremental 12 minutes later."""
        modes: dict[str, str] = {}
        backup = f"{schedule}-{window.strftime('%Y%m%d%H%M%S')}"
        for namespace, name in vms:
            if name in fail:
                continue
            key = (namespace, name)
            doc = self.docs.get(key)
            tracker = self.trackers.get(key)
            decision = self.controller.decide(
                vm_name=name,
                index=json.dumps(doc).encode() if doc else None,
                objects=self.listing(namespace, name),
                vm_annotations=self.annotations(name, namespace),
                trackers=[tracker] if tracker else [],
            )
            at = window + timedelta(minutes=12)
            doc, objects = append_checkpoint(
                doc, namespace=namespace, name=name, mode=decision.mode, at=at, backup=backup, disk_sizes=DISKS
            )
            for object_key, size in objects:
                self.s3.put(BUCKET, f"{DM}/{object_key}", b"x" * size)
            self.s3.put(BUCKET, f"{DM}/checkpoints/{namespace}/{name}/index.json", json.dumps(doc).encode())
            self.docs[key] = doc
            self.trackers[key] = decision.tracker.after_backup(doc["checkpoints"][-1]["id"])
            chain = chain_of(doc)
            self.history.append(
                {
                    "vm": name,
                    "window": window,
                    "mode": decision.mode,
                    "why": decision.reason,
                    "incrementals": len(chain) - 1,
                    "root_at": datetime.fromisoformat(chain[0]["timestamp"]),
                }
            )
            modes[name] = decision.mode
        self.kube.modify(
            "schedules",
            schedule,
            lambda o: {**o, "status": {**o.get("status", {}), "lastBackup": iso(window)}},
            namespace="velero",
        )
        return modes


def managed_keys(annotations: Mapping[str, str]) -> set[str]:
    return {k for k in annotations if k in (keys.STATE, keys.MAX_INCREMENTAL)}
