"""The stub cluster the job's plan (a) reads: one policy Schedule, one BSL pointing at the endpoint, the VMs.

Only the few reads `LiveSource` makes of a cluster, so (a) runs the production code for everything
that touches the bucket (index GETs, the listing, the verification) and nothing waits on an API server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from bench.generate import FIRST_WINDOW, SCHEDULE, Spec, vm_identity

CREDENTIALS = "[default]\naws_access_key_id = AKIABENCHBENCHBENCH0\naws_secret_access_key = bench/secret\n"
ENVIRON = {"AWS_EC2_METADATA_DISABLED": "true"}
VELERO_NS = "velero"
P = "kubevirt-datamover.io/"


def raw_objects(spec: Spec, url: str) -> list[dict[str, Any]]:
    """The policy Schedule and the BSL, as the API server returns them."""
    meta = {"namespace": VELERO_NS, "uid": "uid", "resourceVersion": "1", "creationTimestamp": "2026-08-01T00:00:00Z"}
    bsl = {
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": {**meta, "name": "default"},
        "spec": {
            "provider": "aws",
            "default": True,
            "objectStorage": {"bucket": spec.bucket, "prefix": spec.prefix},
            "config": {"region": "us-east-1", "s3Url": url, "s3ForcePathStyle": "true"},
            "credential": {"name": "cloud-credentials", "key": "cloud"},
        },
    }
    last = FIRST_WINDOW + timedelta(days=spec.checkpoints - 1)
    schedule = {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": {
            **meta,
            "name": SCHEDULE,
            "annotations": {P + "force-full-backup-interval": "7", P + "force-full-backup-max-age": "7d"},
        },
        "spec": {
            "schedule": "0 1 * * *",
            "paused": False,
            "template": {"snapshotMoveData": True, "storageLocation": "default"},
        },
        "status": {"phase": "Enabled", "lastBackup": last.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    return [schedule, bsl]


def bsl_object(spec: Spec, url: str) -> dict[str, Any]:
    return raw_objects(spec, url)[1]


class StubKube:
    """The few reads LiveSource makes of the cluster; VMs are produced page by page, as listed."""

    def __init__(self, spec: Spec, url: str) -> None:
        self.spec, self.url = spec, url

    def list_velero(self, plural: str, namespace: str) -> Iterator[dict[str, Any]]:
        kind = {"schedules": "Schedule", "backupstoragelocations": "BackupStorageLocation"}[plural]
        yield from (o for o in raw_objects(self.spec, self.url) if o["kind"] == kind)

    def list_vms(self, *, label_selector: str = "") -> Iterator[dict[str, Any]]:
        for i in range(self.spec.vms):
            ns, name, kind = vm_identity(self.spec, i)
            if kind == "orphan":
                continue
            yield {
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachine",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "uid": f"uid-{i}",
                    "resourceVersion": "5",
                    "labels": {"app": name.rsplit("-", 1)[0]},
                    "annotations": {},
                },
                "spec": {"runStrategy": "Always"},
                "status": {"printableStatus": "Running", "ready": True, "changedBlockTracking": {"state": "Enabled"}},
            }

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        return CREDENTIALS

    def get_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """The controller as OADP deploys it, at its default global limit (0: unlimited)."""
        manager = {"name": "manager", "command": ["/manager"], "args": ["--leader-elect"]}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"template": {"spec": {"containers": [manager]}}},
        }

    def list_trackers(self) -> Iterator[dict[str, Any]]:
        return iter(())
