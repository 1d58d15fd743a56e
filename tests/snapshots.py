"""Hostile copies of the example snapshot, and the CLI called on them: each test states only its edit."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from reconciler.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "snapshot"
NOW = "2026-11-24T20:00:00Z"
BUCKET_DIR = "buckets/vm-backups"
CHECKPOINTS = f"{BUCKET_DIR}/velero-kubevirt-datamover/checkpoints"
MANAGED = ("dev/dev-4", "finance/payroll", "prod/web-1")  # the example's VMs carrying the state annotation


def copy_example(tmp_path: Path) -> Path:
    snap = tmp_path / "snap"
    shutil.copytree(EXAMPLE, snap)
    return snap


def edit_velero(snap: Path, name: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
    """Apply `change` to the object of that name in cluster/velero.yaml (None deletes it)."""
    path = snap / "cluster" / "velero.yaml"
    docs = []
    for doc in yaml.safe_load_all(path.read_text()):
        changed = change(doc) if doc["metadata"]["name"] == name else doc
        if changed is not None:
            docs.append(changed)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def add_vms(snap: Path, *vms: dict[str, Any]) -> None:
    path = snap / "cluster" / "virtualmachines.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["items"] += list(vms)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def vm(namespace: str, name: str, *, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}, "resourceVersion": "1"},
        "status": {"printableStatus": "Running", "changedBlockTracking": {"state": "Enabled"}},
    }


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def plan(snap: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    """`plan -o json` on the snapshot: exit status, the plan ({} when none was printed), stderr."""
    code, out, err = cli("plan", "--snapshot", str(snap), "--now", NOW, "-o", "json", "--log-format", "json", *extra)
    return code, json.loads(out) if out else {}, err


def vms(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{v['namespace']}/{v['name']}": v for v in doc["vms"]}


def patches(doc: dict[str, Any]) -> dict[str, Any]:
    """Every VM that the plan would write to, with its patch."""
    return {ref: v["detail"]["patch"] for ref, v in vms(doc).items() if v["detail"]["patch"] is not None}


def log_events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
