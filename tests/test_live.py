"""The live source and `run`: the official client against the fake API server, boto3 against moto."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.core import keys
from tests.cluster import DM, World, iso, schedule_object, vm_object
from tests.fakekube.server import FakeKubeServer
from tests.s3fixtures import Seeder

WINDOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
NOW = WINDOW - timedelta(minutes=15)


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> Iterator[World]:
    yield World(fake_kube, s3_seed, s3_endpoint, tmp_path)


def history(world: World, vms: list[tuple[str, str]], nights: int) -> None:
    """Back the VMs up for `nights` windows before WINDOW, with no job running."""
    for n in range(nights, 0, -1):
        world.backup_window(WINDOW - n * timedelta(days=1), vms)


def populated(world: World) -> list[tuple[str, str]]:
    world.kube.seed(schedule_object("nightly", {keys.INTERVAL: "4", keys.MAX_AGE: "10d"}))
    names = ["a", "b", "c"]
    for name in names:
        world.kube.seed(vm_object(name))
    vms = [("apps", n) for n in names]
    history(world, vms, 5)
    return vms


def test_run_forces_and_logs_request_counts(world: World) -> None:
    """A run reads each index once, lists instead of HEADs, and forces the VMs that are due."""
    populated(world)
    world.kube.clear_requests()
    code, plan = world.run(now=NOW)
    assert code == 0
    assert {v["name"]: v["action"] for v in plan["vms"]} == {"a": "force-full", "b": "force-full", "c": "force-full"}
    assert world.annotations("a")[keys.MAX_INCREMENTAL] == "4"
    assert world.labels("a")[keys.DUE_LABEL] == "true"
    counts = world.kube.counts()
    assert counts["patch"] == 3 and counts["list"] == 4  # schedules, BSLs, trackers, VMs
    assert counts["get"] == 2  # the credential Secret; the controller's Deployment, found where first tried
    assert counts["create"] == 3  # one FullBackupForced Event per VM
    assert [r.path for r in world.kube.requests("get", resource="deployments")] == [
        "/apis/apps/v1/namespaces/velero/deployments/oadp-kubevirt-datamover-controller-manager"
    ]
    (trackers,) = world.kube.requests("list", resource="virtualmachinebackuptrackers")
    assert trackers.path == "/apis/backup.kubevirt.io/v1alpha1/virtualmachinebackuptrackers"
    assert trackers.query["labelSelector"] == keys.VM_NAME_HASH and trackers.query["limit"] == "500"
    events = world.kube.objects("events", "apps")
    assert {e["reason"] for e in events} == {keys.EVENT_FORCED}
    assert {e["involvedObject"]["name"] for e in events} == {"a", "b", "c"}


def test_rerun_writes_nothing(world: World) -> None:
    """A second run with nothing changed makes zero writes and raises no new Events."""
    populated(world)
    world.run(now=NOW)
    world.kube.clear_requests()
    code, _ = world.run(now=NOW + timedelta(minutes=1))
    assert code == 0
    counts = world.kube.counts()
    assert counts["patch"] == 0 and counts["create"] == 0


def test_conflict_is_re_read_and_decided_again(world: World) -> None:
    """If a VM changes between the read and the patch, the 409 leads to a re-read, not a blind write."""
    populated(world)
    fired = []

    def meddle(record: Any) -> None:
        if record.method == "PATCH" and record.path.endswith("/virtualmachines/b") and not fired:
            fired.append(1)
            world.kube.modify(
                "virtualmachines",
                "b",
                lambda o: {
                    **o,
                    "metadata": {
                        **o["metadata"],
                        "annotations": {**o["metadata"].get("annotations", {}), "team": "db"},
                    },
                },
                namespace="apps",
            )

    world.kube.on_request(meddle)
    code, _ = world.run(now=NOW)
    assert code == 0
    patches_b = world.kube.requests("patch", name="b")
    assert [r.status for r in patches_b] == [409, 200]
    ann = world.annotations("b")
    assert ann["team"] == "db" and ann[keys.MAX_INCREMENTAL] == "4"


def test_vm_listing_is_paged(world: World) -> None:
    """VMs are listed cluster-wide in pages, never one GET per VM."""
    world.kube.seed(schedule_object("nightly", {keys.INTERVAL: "4"}, namespaces=("none",)))
    world.kube.seed(*[vm_object(f"vm-{i:04d}", "bulk") for i in range(1100)])
    world.kube.clear_requests()
    code, plan = world.run(now=NOW, command="plan")
    assert code == 0 and plan["vms"] == []
    vm_lists = world.kube.requests("list", resource="virtualmachines")
    assert len(vm_lists) == 3 and vm_lists[0].query.get("limit") == "500"
    assert world.kube.counts(resource="virtualmachines")["get"] == 0


def test_missing_and_unreadable_indexes_are_full_anyway(world: World) -> None:
    """A VM without an index, and one whose index the controller cannot decode, are both full-anyway."""
    world.kube.seed(schedule_object("nightly", {keys.INTERVAL: "4"}))
    world.kube.seed(vm_object("fresh"), vm_object("locked"))
    history(world, [("apps", "locked")], 2)
    world.s3.client.put_object(Bucket="backups", Key=f"{DM}/checkpoints/apps/locked/index.json", Body=b"x" * 10)
    code, plan = world.run(now=NOW, command="plan")
    assert code == 0
    actions = {v["name"]: (v["action"], v["reasons"]) for v in plan["vms"]}
    assert actions["fresh"] == ("full-anyway", ["no-index"])
    assert actions["locked"] == ("full-anyway", ["unreadable-index"])


def test_snapshot_round_trip_equals_live_plan(world: World, tmp_path: Path) -> None:
    """`snapshot --out` writes what `plan --snapshot` needs to decide exactly as the live plan did."""
    vms = populated(world)
    world.kube.seed(vm_object("stopped", running=False))
    # Break one chain: delete a data object of the second checkpoint of "c".
    doc = world.docs[("apps", "c")]
    world.s3.client.delete_object(Bucket="backups", Key=f"{DM}/{doc['checkpoints'][1]['files'][0]['objectPath']}")
    del vms
    code_live, live = world.run(now=NOW, command="plan")
    code, _, offline = world.snapshot_then_plan(tmp_path / "snap", now=NOW)
    assert code == code_live
    assert offline["vms"] == live["vms"]
    assert [s | {"bsl": None} for s in offline["schedules"]] == [s | {"bsl": None} for s in live["schedules"]]
    assert {v["name"]: v["reasons"] for v in live["vms"]}["c"] == ["broken-chain"]


def test_explain_live(world: World) -> None:
    """explain prints the chain member by member with the cumulative restore cost."""
    populated(world)
    out = io.StringIO()
    code = main(
        [
            "explain",
            "apps/a",
            "--kubeconfig",
            str(world.kubeconfig),
            "--context",
            "fake",
            "--velero-namespace",
            "velero",
            "--now",
            iso(NOW),
        ],
        environ={},
        stdout=out,
        stderr=io.StringIO(),
    )
    text = out.getvalue()
    assert code == 0
    assert "Chain: valid, 5 member(s), 4 incremental(s)" in text
    assert "Decision: force-full (count)" in text
    assert text.count("Incremental") == 4


def test_bad_kubeconfig_is_a_usage_error(tmp_path: Path) -> None:
    """An unreadable kubeconfig exits 2 with a message, nothing written."""
    err = io.StringIO()
    code = main(["plan", "--kubeconfig", str(tmp_path / "missing")], environ={}, stdout=io.StringIO(), stderr=err)
    assert code == 2 and "cannot load Kubernetes configuration" in err.getvalue()


def test_missing_credentials_secret_is_an_error_per_vm(world: World) -> None:
    """A BSL whose named Secret is missing leaves its VMs in error with a message naming the Secret."""
    populated(world)
    world.kube.delete("secrets", "cloud-credentials", "velero")
    code, plan = world.run(now=NOW, command="plan")
    assert code == 1
    assert {v["action"] for v in plan["vms"]} == {"error"}
    assert "Secret velero/cloud-credentials" in plan["vms"][0]["detail"]["message"]
