"""The storage report live (fake API server, moto) and offline from the snapshot of the same world."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.core import keys
from tests.cluster import BUCKET, DM, World, schedule_object, vm_object
from tests.fakekube.server import FakeKubeServer
from tests.s3fixtures import Seeder

WINDOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
NOW = WINDOW - timedelta(minutes=15)
LEAKED = {
    "checkpoints/apps/a/orphan/vmb-orphan-rootdisk.qcow2": 100 * 1024,  # above the stand-in limit
    "checkpoints/apps/a/orphan/vmb.json": 10,
}


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> Iterator[World]:
    yield World(fake_kube, s3_seed, s3_endpoint, tmp_path)


def storage_world(world: World) -> None:
    """Two VMs backed up for five nights under a 72h TTL (interval 9: nothing forced); `a` has leaked objects."""
    sched = schedule_object("nightly", {keys.INTERVAL: "9"})
    sched["spec"]["template"]["ttl"] = "72h"
    world.kube.seed(sched, vm_object("a"), vm_object("b"))
    for n in range(5, 0, -1):
        world.backup_window(WINDOW - n * timedelta(days=1), [("apps", "a"), ("apps", "b")])
    for key, size in LEAKED.items():
        world.s3.put(BUCKET, f"{DM}/{key}", b"x" * size)


def offline_plan(world: World, out: Path) -> dict[str, Any]:
    snapped, _, doc = world.snapshot_then_plan(out, now=NOW)
    assert snapped == 0
    return doc


def test_live_storage_figures(world: World) -> None:
    """Live: the chain's bytes, the two oldest members held past the 72h TTL, the leaked objects."""
    storage_world(world)
    code, plan = world.run(now=NOW, command="plan")
    assert code == 0
    by_name = {v["name"]: v["storage"] for v in plan["vms"]}
    a = by_name["a"]
    # Members finished W-5d, W-4d ... W-1d (+12m); the cutoff is NOW-72h: the first two are past it,
    # and the newer backups of the same chain still need them. 4,000 bytes per member.
    assert a == {
        "chainBytes": 20000,
        "folderBytes": sum(world.listing("apps", "a").values()),
        "outsideChainBytes": sum(LEAKED.values()),
        "pastTtlBytes": 8000,
        "ttl": "72h0m0s",
        "leakedObjects": 2,
        "leakedBytes": sum(LEAKED.values()),
        "unreferencedCheckpoints": 0,
        "partial": False,
    }
    assert by_name["b"]["leakedObjects"] == 0 and by_name["b"]["outsideChainBytes"] == 0
    assert plan["summary"]["storage"]["vms"] == 2 and plan["summary"]["storage"]["leakedBytes"] == sum(LEAKED.values())
    assert plan["summary"]["storage"]["pastTtlBytes"] == 16000


def test_offline_storage_equals_live(world: World, tmp_path: Path) -> None:
    """`snapshot --out` keeps what the figures need: the offline plan shows the live figures exactly."""
    storage_world(world)
    _, live = world.run(now=NOW, command="plan")
    offline = offline_plan(world, tmp_path / "snap")
    assert [v["storage"] for v in offline["vms"]] == [v["storage"] for v in live["vms"]]
    assert offline["summary"]["storage"] == live["summary"]["storage"]
    assert not any(v["storage"]["partial"] for v in offline["vms"])
