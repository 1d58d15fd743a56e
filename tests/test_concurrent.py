"""Two runs at once on the same cluster: no lost update, the end state of a single run.

The API server holds each run's first patch until the other run's first patch has arrived, so
both have read every VM before either writes, and both then write the same VM with the same
resourceVersion: one wins, the other gets 409, re-reads and decides again. A third party edits a
VM at that moment too; its change must survive.

The first race is between two processes (two pods, as a CronJob without concurrencyPolicy:
Forbid would start them); the second, the give-back after the policy is removed, between two
threads calling `main`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.core import keys
from tests.cluster import World
from tests.fakekube.server import FakeKubeServer, RecordedRequest
from tests.faultworld import (
    ORIGINALS,
    REPO,
    VMState,
    actions,
    argv,
    assert_originals_recoverable,
    child_environment,
    expected_state,
    run,
    seed,
    vm_state,
)
from tests.s3fixtures import Seeder

THIRD_PARTY = "example.com/owner"


class Lockstep:
    """Holds each run's first PATCH until every run's first PATCH has arrived; then a third
    party edits a VM, so both runs' views of it are stale as well."""

    def __init__(self, world: World, users: tuple[str, ...]) -> None:
        self.world = world
        self.users = users
        self.barrier = threading.Barrier(len(users), timeout=90, action=self._meddle)
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def _meddle(self) -> None:
        self.world.kube.modify(
            "virtualmachines",
            "strict",
            lambda o: {
                **o,
                "metadata": {
                    **o["metadata"],
                    "annotations": {**o["metadata"].get("annotations", {}), THIRD_PARTY: "team-db"},
                },
            },
            namespace="apps",
        )

    def hook(self, record: RecordedRequest) -> None:
        if record.method != "PATCH" or record.user not in self.users:
            return
        with self.lock:
            first = record.user not in self.seen
            self.seen.add(record.user)
        if first:
            self.barrier.wait()


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> World:
    w = World(fake_kube, s3_seed, s3_endpoint, tmp_path)
    seed(w)
    return w


def kubeconfigs(world: World, tmp_path: Path, *users: str) -> list[Path]:
    return [world.kube.write_kubeconfig(tmp_path / f"kubeconfig-{u}", user=u) for u in users]


def check_no_lost_update(world: World, expected: VMState) -> None:
    state = vm_state(world)
    assert state == expected, "the concurrent runs did not reach a single run's end state"
    assert world.annotations("strict")[THIRD_PARTY] == "team-db", "the third party's edit was lost"
    assert_originals_recoverable(world)
    conflicts = world.kube.requests(method="PATCH", status=409)
    assert conflicts, "the runs never raced"
    # Every VM was written by exactly one of the runs: no write ever carried a stale resourceVersion.
    applied = world.kube.requests(method="PATCH", status=200)
    assert sorted(r.name for r in applied) == sorted({r.name for r in applied})


@pytest.mark.slow
def test_two_processes_take_over_at_once(world: World, tmp_path: Path) -> None:
    """Two `run` processes, first run ever: 4 VMs written once each, 3 FullBackupForced Events (not 6)."""
    expected = expected_state(world)
    users = ("pod-a", "pod-b")
    lockstep = Lockstep(world, users)
    world.kube.on_request(lockstep.hook)
    world.kube.clear_requests()
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "reconciler", *argv(path)],
            cwd=REPO,
            env=child_environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for path in kubeconfigs(world, tmp_path, *users)
    ]
    results = [child.communicate(timeout=120) for child in children]
    codes = [child.returncode for child in children]
    assert codes == [0, 0], [err.decode()[-2000:] for _, err in results]
    check_no_lost_update(world, expected)
    forced = [e for e in world.kube.objects("events", "apps") if e["reason"] == keys.EVENT_FORCED]
    assert sorted(e["involvedObject"]["name"] for e in forced) == ["junk", "loose", "plain"]
    conflicts = len(world.kube.requests(method="PATCH", status=409))
    print(
        f"CONCURRENT takeover: exit {codes}, {conflicts} conflicts resolved by re-read, "
        f"{len(world.kube.requests(method='PATCH', status=200))} patches applied, {len(forced)} Events"
    )


def test_two_threads_give_back_at_once(world: World, tmp_path: Path) -> None:
    """Policy removed, two `main` calls at once: every VM gets its original back exactly once, and the
    run that loses the race finds the VM already given back (no crash, no second write)."""
    code, _, err = run(world)
    assert code == 0, err
    world.kube.modify(
        "schedules", "nightly", lambda o: {**o, "metadata": {**o["metadata"], "annotations": {}}}, namespace="velero"
    )
    expected = expected_state(world, "--release-all")
    users = ("pod-a", "pod-b")
    lockstep = Lockstep(world, users)
    world.kube.on_request(lockstep.hook)
    world.kube.clear_requests()
    results: dict[str, tuple[int, dict[str, Any] | None, str]] = {}

    def one(user: str, path: Path) -> None:
        results[user] = run(path, "run", "--release-all")  # every policy removed, on purpose

    threads = [
        threading.Thread(target=one, args=(u, p))
        for u, p in zip(users, kubeconfigs(world, tmp_path, *users), strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(results) == sorted(users), "a run died"
    assert [results[u][0] for u in users] == [0, 0], [results[u][2][-2000:] for u in users]
    for user in users:
        assert set(actions(results[user][1]).values()) == {"release"}
    check_no_lost_update(world, expected)
    for name, original in ORIGINALS.items():
        ann = world.annotations(name)
        assert ann.get(keys.MAX_INCREMENTAL) == original and keys.STATE not in ann
    conflicts = len(world.kube.requests(method="PATCH", status=409))
    print(
        f"CONCURRENT give-back: exit [0, 0], {conflicts} conflicts resolved by re-read, "
        f"{len(world.kube.requests(method='PATCH', status=200))} patches applied"
    )
