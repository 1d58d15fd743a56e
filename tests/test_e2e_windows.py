"""Many backup windows end to end: the job before each window, the upstream model taking the backup.

The job runs through its real CLI against the fake API server and moto; the upstream model decides
full vs incremental only from what the controller reads (the VM annotation, the index, the bucket,
the VM's tracker), with none of the job's code, so it also judges the plan's predictions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.core import keys
from tests.cluster import World, schedule_object, vm_object
from tests.fakekube.server import FakeKubeServer
from tests.s3fixtures import Seeder

pytestmark = pytest.mark.slow
START = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # the first window; nightly at 01:00 UTC
DAY = timedelta(days=1)
ORIGINALS = {"vm-plain": None, "vm-loose": "30", "vm-strict": "3", "vm-junk": "not-a-number"}


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> Iterator[World]:
    yield World(fake_kube, s3_seed, s3_endpoint, tmp_path)


def seed_vms(world: World) -> list[tuple[str, str]]:
    for name, original in ORIGINALS.items():
        ann = {keys.MAX_INCREMENTAL: original} if original is not None else {}
        world.kube.seed(vm_object(name, annotations=ann))
    return [("apps", n) for n in ORIGINALS]


def drive(world: World, vms: list[tuple[str, str]], windows: int) -> list[int]:
    """Run the job 15 minutes before each window (twice: the second must write nothing), then back up."""
    exit_codes = []
    for w in range(windows):
        window = START + w * DAY
        code, plan = world.run(now=window - timedelta(minutes=15))
        exit_codes.append(code)
        before = world.patches()
        code2, plan2 = world.run(now=window - timedelta(minutes=14))
        assert world.patches() == before, f"window {w}: a re-run with nothing changed wrote"
        assert all(v["detail"]["patch"] is None for v in plan2["vms"]), f"window {w}: re-run planned writes"
        assert code2 == code
        forced = {v["name"] for v in plan["vms"] if v["action"] == "force-full"}
        modes = world.backup_window(window, vms)
        for name in forced:
            assert modes[name] == "full", f"window {w}: {name} was forced but the backup was {modes[name]}"
    return exit_codes


def remove_policy_and_check_given_back(world: World, when: datetime) -> None:
    world.kube.modify(
        "schedules", "nightly", lambda o: {**o, "metadata": {**o["metadata"], "annotations": {}}}, namespace="velero"
    )
    code, plan = world.run(now=when)
    assert code == 2 and not plan  # no policy left anywhere: not given back without --release-all
    code, plan = world.run("--release-all", now=when)
    assert code == 0
    assert {v["action"] for v in plan["vms"]} <= {"release"}
    for name, original in ORIGINALS.items():
        ann, labels = world.annotations(name), world.labels(name)
        assert ann.get(keys.MAX_INCREMENTAL) == original, name
        assert keys.STATE not in ann and keys.DUE_LABEL not in labels, name
    before = world.patches()
    world.run(now=when + timedelta(minutes=1))
    assert world.patches() == before
    code, plan = world.run(now=when + timedelta(minutes=2))
    assert plan["vms"] == []  # given back: no longer the job's


def test_count_policy_over_twenty_windows(world: World) -> None:
    """Interval 5: no chain passes 5 incrementals (3 where the VM was stricter), every forced full
    lands, re-runs write nothing, and removing the policy gives every VM back exactly."""
    world.kube.seed(schedule_object("nightly", {keys.INTERVAL: "5"}))
    vms = seed_vms(world)
    codes = drive(world, vms, 22)
    assert set(codes) == {0}
    for record in world.history:
        limit = 3 if record["vm"] == "vm-strict" else 5
        assert record["incrementals"] <= limit, record
    fulls = [r for r in world.history if r["mode"] == "full" and r["vm"] == "vm-plain"]
    assert len(fulls) == 4  # windows 0, 6, 12, 18: a full then 5 incrementals, over and over
    remove_policy_and_check_given_back(world, START + 22 * DAY)


def test_age_policy_over_twenty_windows(world: World) -> None:
    """Max-age 7d with no count policy: the last full is never older than 7 days (window to window),
    fulls are forced through the annotation, and originals come back at the end."""
    world.kube.seed(schedule_object("nightly", {keys.MAX_AGE: "7d"}))
    vms = seed_vms(world)
    drive(world, vms, 22)
    for record in world.history:
        if record["vm"] == "vm-strict":
            continue  # its own limit of 3 makes the controller take fulls by itself, more often
        window, root_at = record["window"], record["root_at"]
        nominal = root_at.replace(minute=0, second=0)
        assert window + timedelta(minutes=12) - root_at < 7 * DAY + timedelta(minutes=12), record
        assert (window - nominal) <= 7 * DAY, record
    plain = [r["mode"] for r in world.history if r["vm"] == "vm-plain"]
    assert plain[:9] == ["full"] + ["incremental"] * 6 + ["full", "incremental"]
    remove_policy_and_check_given_back(world, START + 22 * DAY)


def test_both_policies_and_a_failed_night(world: World) -> None:
    """Interval 10 and max-age 4d together: age fires first; a VM that missed a backup still keeps
    its chain within both limits."""
    world.kube.seed(schedule_object("nightly", {keys.INTERVAL: "10", keys.MAX_AGE: "4d"}))
    vms = seed_vms(world)
    for w in range(20):
        window = START + w * DAY
        world.run(now=window - timedelta(minutes=15))
        world.backup_window(window, vms, fail=("vm-loose",) if w % 5 == 3 else ())
    for record in world.history:
        assert record["incrementals"] <= 4, record
        assert record["window"] - record["root_at"].replace(minute=0, second=0) <= 4 * DAY, record
    remove_policy_and_check_given_back(world, START + 20 * DAY)


# --------------------------------------------------------------- the job's predictions, judged

FULL_ACTIONS = ("force-full", "full-anyway")


def mispredictions(world: World, windows: int) -> list[tuple[int, str, str, list[str], str, str]]:
    """Interval 5 over `windows` nights: each VM where the plan's action disagrees with the
    independent model about full vs incremental, as (window, vm, action, reasons, mode, model's why)."""
    world.kube.seed(schedule_object("nightly", {keys.INTERVAL: "5"}))
    vms = seed_vms(world)
    found = []
    for w in range(windows):
        window = START + w * DAY
        _, plan = world.run(now=window - timedelta(minutes=15))
        planned = {v["name"]: v for v in plan["vms"]}
        for name, mode in world.backup_window(window, vms).items():
            if (mode == "full") != (planned[name]["action"] in FULL_ACTIONS):
                why = next(r["why"] for r in reversed(world.history) if r["vm"] == name)
                found.append((w, name, planned[name]["action"], planned[name]["reasons"], mode, why))
    return found


def test_the_plan_predicts_every_full_of_vms_without_a_stricter_own_limit(world: World) -> None:
    """For every VM but the one whose own annotation (3) is stricter than the policy (5), the plan
    says full (force-full or full-anyway) exactly when the controller, as the model has it, takes one."""
    misses = mispredictions(world, 7)
    assert [m for m in misses if m[1] != "vm-strict"] == []


def test_the_plan_predicts_every_full_the_controller_takes(world: World) -> None:
    """The plan says full exactly when the controller takes one, for every VM (a VM keeping its own stricter
    max-incremental-backups included: the controller's limit is predicted as controller-limit)."""
    assert mispredictions(world, 7) == []
