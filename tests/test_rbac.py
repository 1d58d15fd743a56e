"""RBAC proven, not assumed: the fake API server enforces the rendered overlay's Role and ClusterRole
for the job's ServiceAccount during a real `run`.

Sufficient: every request of a run that exercises every code path (lists, the credential Secret,
the controller's Deployment and trackers, patches, a conflict re-read, Events) is allowed.
Minimal: taking away any single verb of any rule makes the run fail.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.core import keys
from tests.cluster import World, controller_deployment, schedule_object, vm_object
from tests.fakekube.server import FakeKubeServer
from tests.kubectl import kustomize
from tests.s3fixtures import Seeder

ROOT = Path(__file__).resolve().parent.parent
WINDOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
RBAC_KINDS = {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}


def rbac_documents(directory: str = "overlays/velero") -> list[dict[str, Any]]:
    return [d for d in kustomize(ROOT / "manifests" / directory) if d["kind"] in RBAC_KINDS]


def service_account() -> str:
    docs = kustomize(ROOT / "manifests" / "overlays" / "velero")
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    return f"system:serviceaccount:{sa['metadata']['namespace']}:{sa['metadata']['name']}"


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> Iterator[World]:
    w = World(fake_kube, s3_seed, s3_endpoint, tmp_path)
    w.kubeconfig = fake_kube.write_kubeconfig(tmp_path / "sa-kubeconfig", user=service_account())
    w.kube.seed(schedule_object("nightly", {keys.INTERVAL: "3"}))
    for name in ("a", "b"):
        w.kube.seed(vm_object(name))
    vms = [("apps", "a"), ("apps", "b")]
    for n in range(4, 0, -1):
        w.backup_window(WINDOW - n * timedelta(days=1), vms)
    yield w


def exercise(world: World) -> int:
    """A run that needs every permission: includes a conflict, so the VM is re-read with GET."""
    fired: list[int] = []

    def meddle(record: Any) -> None:
        if record.method == "PATCH" and record.path.endswith("/virtualmachines/a") and not fired:
            fired.append(1)
            world.kube.modify(
                "virtualmachines",
                "a",
                lambda o: {**o, "metadata": {**o["metadata"], "labels": {**o["metadata"].get("labels", {}), "x": "y"}}},
                namespace="apps",
            )

    world.kube.on_request(meddle)
    code, _ = world.run(now=WINDOW - timedelta(minutes=15))
    world.kube.remove_hook(meddle)
    return code


def test_manifest_rules_are_sufficient(world: World) -> None:
    """With RBAC enforced, the run makes every call it needs and none is refused."""
    world.kube.enable_rbac(*rbac_documents())
    code = exercise(world)
    refused = [f"{r.method} {r.path}" for r in world.kube.requests() if r.status == 403]
    assert refused == []
    assert code == 0
    verbs = {(r.verb, r.path.split("/")[-1] if r.verb != "list" else r.path) for r in world.kube.requests()}
    used = {v for v, _ in verbs}
    assert {"list", "get", "patch", "create"} <= used
    assert world.annotations("a")[keys.MAX_INCREMENTAL] == "3"
    assert world.kube.count("get", resource="deployments", status=200) == 1
    assert world.kube.count("list", resource="virtualmachinebackuptrackers", status=200) == 1


def test_the_upstream_install_needs_its_own_role(world: World) -> None:
    """With the controller in kubevirt-datamover-system, the overlay's rules are refused its Deployment (exit 1);
    manifests/upstream-controller adds exactly that read."""
    world.kube.delete("deployments", "oadp-kubevirt-datamover-controller-manager", "velero")
    world.kube.seed(
        controller_deployment(namespace="kubevirt-datamover-system", name="kubevirt-datamover-controller-manager")
    )
    world.kube.enable_rbac(*rbac_documents())
    assert exercise(world) == 1
    assert [(r.namespace, r.status) for r in world.kube.requests("get", resource="deployments")] == [
        ("velero", 404),
        ("kubevirt-datamover-system", 403),
    ]
    world.kube.clear_requests()
    world.kube.load_rbac(*rbac_documents("upstream-controller"))
    assert exercise(world) == 0
    assert [r for r in world.kube.requests() if r.status == 403] == []


def variants() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The manifests with exactly one verb of one rule taken away."""
    docs = rbac_documents()
    for i, doc in enumerate(docs):
        if doc["kind"] not in ("Role", "ClusterRole"):
            continue
        for r, rule in enumerate(doc["rules"]):
            for verb in rule["verbs"]:
                changed = copy.deepcopy(docs)
                new_rule = changed[i]["rules"][r]
                new_rule["verbs"] = [v for v in new_rule["verbs"] if v != verb]
                if not new_rule["verbs"]:
                    del changed[i]["rules"][r]
                label = f"{doc['kind']} rule {r} ({','.join(rule['resources'])}) without {verb}"
                yield label, changed


@pytest.mark.parametrize(("label", "docs"), list(variants()), ids=[v[0] for v in variants()])
def test_every_rule_is_needed(world: World, label: str, docs: list[dict[str, Any]]) -> None:
    """Without any single verb the run is refused something and exits non-zero."""
    world.kube.enable_rbac(*docs)
    code = exercise(world)
    refused = [r for r in world.kube.requests() if r.status == 403]
    assert refused, f"{label}: nothing was refused, so the rule is not needed"
    assert code != 0, f"{label}: the run still succeeded"
    # Whatever was refused, no VM lost the value it had before the job touched it.
    for name in ("a", "b"):
        ann = world.annotations(name)
        assert keys.MAX_INCREMENTAL not in ann or keys.STATE in ann
