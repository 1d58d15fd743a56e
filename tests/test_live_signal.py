"""`--signal annotation` against the fake API server: set with the forced full, given back once it lands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.core import keys
from tests.cluster import World, schedule_object, vm_object
from tests.fakekube.server import FakeKubeServer
from tests.s3fixtures import Seeder

WINDOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
NOW = WINDOW - timedelta(minutes=15)
DAY = timedelta(days=1)


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> Iterator[World]:
    yield World(fake_kube, s3_seed, s3_endpoint, tmp_path)


def test_signal_set_landed_removed_and_pre_existing_value_restored(world: World) -> None:
    """Forcing sets force-full-backup=true; a re-run writes nothing; once the full lands the VM's own value is back."""
    world.kube.seed(schedule_object("nightly", {keys.INTERVAL: "4"}))
    world.kube.seed(vm_object("a", annotations={keys.FORCE_SIGNAL: "no"}), vm_object("b"))
    vms = [("apps", "a"), ("apps", "b")]
    for n in range(5, 0, -1):
        world.backup_window(WINDOW - n * DAY, vms)

    code, plan = world.run("--signal", "annotation", now=NOW)
    assert code == 0 and {v["name"]: v["action"] for v in plan["vms"]} == {"a": "force-full", "b": "force-full"}
    for name in ("a", "b"):
        assert world.annotations(name)[keys.FORCE_SIGNAL] == "true"
        assert world.labels(name)[keys.DUE_LABEL] == "true"
    assert json.loads(world.annotations("a")[keys.STATE])["signalOriginal"] == "no"
    assert json.loads(world.annotations("b")[keys.STATE])["signalOriginal"] is None

    world.kube.clear_requests()
    code, _ = world.run("--signal", "annotation", now=NOW + timedelta(minutes=1))
    assert code == 0 and world.patches() == 0

    assert world.backup_window(WINDOW, vms) == {"a": "full", "b": "full"}
    code, plan = world.run("--signal", "annotation", now=NOW + DAY)
    assert code == 0 and {v["name"]: v["reasons"] for v in plan["vms"]} == {"a": ["landed"], "b": ["landed"]}
    assert world.annotations("a")[keys.FORCE_SIGNAL] == "no"
    assert keys.FORCE_SIGNAL not in world.annotations("b")
    for name in ("a", "b"):
        assert keys.DUE_LABEL not in world.labels(name)
        assert "signalOriginal" not in json.loads(world.annotations(name)[keys.STATE])

    world.kube.clear_requests()
    code, _ = world.run("--signal", "annotation", now=NOW + DAY + timedelta(minutes=1))
    assert code == 0 and world.patches() == 0


def test_without_the_flag_the_signal_is_never_written(world: World) -> None:
    """The default run forces with the max-incremental lever only."""
    world.kube.seed(schedule_object("nightly", {keys.INTERVAL: "4"}), vm_object("a"))
    for n in range(5, 0, -1):
        world.backup_window(WINDOW - n * DAY, [("apps", "a")])
    code, plan = world.run(now=NOW)
    assert code == 0 and plan["vms"][0]["action"] == "force-full"
    assert keys.FORCE_SIGNAL not in world.annotations("a")
