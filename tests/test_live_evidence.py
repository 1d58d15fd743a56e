"""Live, against the fake API server and moto: missing evidence writes nothing (design 9)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.core import keys
from tests.cluster import World, schedule_object, vm_object
from tests.fakekube.server import FakeKubeServer
from tests.s3fixtures import Seeder

WINDOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
NOW = WINDOW - timedelta(minutes=15)
NAMES = ("a", "b", "c")


@pytest.fixture
def managed(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> Iterator[World]:
    """Three VMs under interval 4, five nights backed up, then forced by a first run: all managed and forced."""
    world = World(fake_kube, s3_seed, s3_endpoint, tmp_path)
    world.kube.seed(schedule_object("nightly", {keys.INTERVAL: "4"}))
    world.kube.seed(*[vm_object(name) for name in NAMES])
    for n in range(5, 0, -1):
        world.backup_window(WINDOW - n * timedelta(days=1), [("apps", name) for name in NAMES])
    code, plan = world.run(now=NOW)
    assert code == 0 and {v["action"] for v in plan["vms"]} == {"force-full"}
    world.kube.clear_requests()
    yield world


def forced(world: World) -> bool:
    """Every VM still carries the forced full and the job's state."""
    return all(
        world.annotations(n).get(keys.MAX_INCREMENTAL) == "4"
        and keys.STATE in world.annotations(n)
        and world.labels(n).get(keys.DUE_LABEL) == "true"
        for n in NAMES
    )


def test_wrong_velero_namespace_writes_nothing(managed: World) -> None:
    """Schedules looked for in the wrong namespace: exit 2 naming it and the managed count, zero PATCH requests."""
    code, plan = managed.run("--velero-namespace", "openshift-adp", now=NOW)
    assert (code, plan) == (2, {})
    assert (
        "no Velero Schedule in namespace openshift-adp carries a full-backup policy, but 3 VirtualMachine(s) "
        f"carry {keys.STATE}"
    ) in managed.last_stderr
    assert managed.kube.requests(method="PATCH") == [] and managed.kube.counts()["create"] == 0
    assert forced(managed)


def test_release_all_gives_them_back(managed: World) -> None:
    """With --release-all the same run gives every managed VM back: the original value, no state, no label."""
    code, plan = managed.run("--velero-namespace", "openshift-adp", "--release-all", now=NOW)
    assert code == 0 and {(v["action"], tuple(v["reasons"])) for v in plan["vms"]} == {("release", ("left-policy",))}
    assert len(managed.kube.requests(method="PATCH")) == 3
    assert all(not {keys.STATE, keys.MAX_INCREMENTAL} & set(managed.annotations(n)) for n in NAMES)


def _schedule_edit(world: World, change: Any) -> None:
    world.kube.modify("schedules", "nightly", change, namespace="velero")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda o: {**o, "spec": {**o["spec"], "schedule": "61 * * * *"}}, "velero/nightly: spec.schedule: "),
        (
            lambda o: {**o, "metadata": {**o["metadata"], "annotations": {keys.INTERVAL: "seven"}}},
            f'annotation {keys.INTERVAL}="seven"',
        ),
    ],
)
def test_unusable_schedule_writes_nothing(managed: World, change: Any, problem: str) -> None:
    """A cron typo or a malformed policy value: its VMs are error schedule-invalid, zero PATCH requests,
    and the forced fulls stay forced."""
    _schedule_edit(managed, change)
    code, plan = managed.run(now=NOW + timedelta(minutes=1))
    assert code == 1
    assert {(v["action"], tuple(v["reasons"])) for v in plan["vms"]} == {("error", ("schedule-invalid",))}
    assert all(problem in v["detail"]["message"] for v in plan["vms"])
    assert managed.kube.requests(method="PATCH") == []
    assert forced(managed)


def test_rejected_bsl_writes_nothing(managed: World) -> None:
    """A BSL with an empty bucket is reported as rejected (not "not found"); its VMs are left alone."""
    managed.kube.modify(
        "backupstoragelocations",
        "default",
        lambda o: {**o, "spec": {**o["spec"], "objectStorage": {"bucket": ""}}},
        namespace="velero",
    )
    code, plan = managed.run(now=NOW + timedelta(minutes=1))
    assert code == 1
    [schedule] = plan["schedules"]
    assert schedule["errors"] == [
        "velero/nightly: the default BackupStorageLocation velero/default is rejected: "
        "spec.objectStorage.bucket: missing or empty"
    ]
    assert {v["action"] for v in plan["vms"]} == {"error"}
    assert managed.kube.requests(method="PATCH") == [] and forced(managed)
