"""Crash consistency: the CLI as a real process, killed with SIGKILL after k writes, for every k.

Two phases of the scenario in tests/faultworld.py: the first run (it takes four VMs over: three
forced fulls with their Events, one baseline; 7 writes) and the give-back after the policy is
removed (4 writes). For every k, a fresh API server holds the phase's starting objects and the
child process is killed as its (k+1)-th write arrives (that write is refused, so exactly k
landed). Then:

- every VM's original value is recoverable from the VM alone (the state annotation's
  `original`, or the value itself where the job has not written or has given it back): a merge
  patch writes the value, the state and the label in one request, so there is no in-between;
- a re-run reaches the uninterrupted run's end state, and one more run writes nothing.

All k of a phase run at once (one API server each; the bucket is shared, the job only reads it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    argv,
    child_environment,
    original_of,
    owned,
    run,
    seed,
    vm_state,
)
from tests.s3fixtures import Seeder

WRITES = ("PATCH", "POST")


@dataclass
class Victim:
    """One API server and the child process it kills at its (k+1)-th write."""

    k: int
    server: FakeKubeServer
    kubeconfig: Path
    pid: int = 0
    writes: int = 0
    killed: threading.Event = field(default_factory=threading.Event)

    def hook(self, record: RecordedRequest) -> None:
        if record.method not in WRITES:
            return
        self.writes += 1
        if self.writes == self.k + 1:
            os.kill(self.pid, signal.SIGKILL)
            self.killed.set()
        if self.writes > self.k:
            raise RuntimeError(f"refused: write {self.writes} arrived after the crash point k={self.k}")


def template(world: World) -> list[dict[str, Any]]:
    """The cluster objects a run reads, as they stand now."""
    return [
        *world.kube.objects("schedules", "velero"),
        *world.kube.objects("backupstoragelocations", "velero"),
        *world.kube.objects("secrets", "velero"),
        *world.kube.objects("virtualmachines", "apps"),
    ]


def server_state(server: FakeKubeServer) -> VMState:
    return {o["metadata"]["name"]: owned(o) for o in server.objects("virtualmachines", "apps")}


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> World:
    w = World(fake_kube, s3_seed, s3_endpoint, tmp_path)
    seed(w)
    return w


@pytest.fixture
def servers() -> Iterator[list[FakeKubeServer]]:
    made: list[FakeKubeServer] = []
    yield made
    for server in made:
        server.stop()


def crash_every_k(
    objects: list[dict[str, Any]],
    writes: int,
    expected: VMState,
    servers: list[FakeKubeServer],
    tmp_path: Path,
    phase: str,
    *extra: str,
) -> list[str]:
    """Kill a child after k writes for k = 0 .. writes-1 (all at once), then check and re-run each."""
    victims = []
    for k in range(writes):
        server = FakeKubeServer().start()
        servers.append(server)
        server.seed(*objects)
        victims.append(Victim(k, server, server.write_kubeconfig(tmp_path / f"{phase}-kubeconfig-{k}")))
    children = []
    for v in victims:
        v.server.on_request(v.hook)
        cmd = [sys.executable, "-m", "reconciler", *argv(v.kubeconfig, "run", *extra)]
        child = subprocess.Popen(cmd, cwd=REPO, env=child_environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        v.pid = child.pid
        children.append(child)
    lines = []
    for v, child in zip(victims, children, strict=True):
        _, err = child.communicate(timeout=120)
        assert v.killed.is_set(), f"{phase} k={v.k}: never reached write {v.k + 1}: {err.decode()[-2000:]}"
        assert child.returncode == -signal.SIGKILL
        landed = [r for r in v.server.requests() if r.method in WRITES and r.status is not None and r.status < 300]
        assert len(landed) == v.k, f"{phase} k={v.k}: {len(landed)} writes landed"
        # Right after the crash: every VM tells its own original value.
        after_crash = server_state(v.server)
        for name, (ann, _) in after_crash.items():
            assert original_of(ann) == ORIGINALS[name], f"{phase} k={v.k}: {name} lost its original: {ann}"
        patched = sum(1 for r in landed if r.method == "PATCH")
        # The re-run finishes the job: the end state of an uninterrupted run, then nothing more to write.
        v.server.remove_hook(v.hook)
        code, _, err_text = run(v.kubeconfig, "run", *extra)
        assert code == 0, err_text
        assert server_state(v.server) == expected, f"{phase} k={v.k}: the re-run did not converge"
        before = v.server.count(method="PATCH")
        code, _, _ = run(v.kubeconfig, "run", *extra)
        assert code == 0 and v.server.count(method="PATCH") == before, f"{phase} k={v.k}: a third run wrote"
        rerun_patches = v.server.count(method="PATCH", status=200) - patched
        lines.append(
            f"{phase} k={v.k}: killed after {v.k} writes ({patched} patches); originals recoverable; "
            f"the re-run wrote the remaining {rerun_patches} patches and converged"
        )
    return lines


@pytest.mark.slow
def test_sigkill_after_every_write_then_rerun(world: World, servers: list[FakeKubeServer], tmp_path: Path) -> None:
    """Takeover (7 writes) and give-back (4 writes): for every k a killed run, then a converging re-run."""
    # Phase 1, the first run: the uninterrupted reference.
    start = template(world)
    code, _, err = run(world)
    assert code == 0, err
    take_over = vm_state(world)
    writes = sum(1 for r in world.kube.requests() if r.method in WRITES and r.status and r.status < 300)
    assert writes == 7
    assert all(keys.STATE in ann for ann, _ in take_over.values())
    report = crash_every_k(start, writes, take_over, servers, tmp_path, "takeover")

    # Phase 2, the policy is removed on purpose (--release-all): the give-back, from the first run's end state.
    world.kube.modify(
        "schedules", "nightly", lambda o: {**o, "metadata": {**o["metadata"], "annotations": {}}}, namespace="velero"
    )
    start = template(world)
    world.kube.clear_requests()
    code, _, err = run(world, "run", "--release-all")
    assert code == 0, err
    given_back = vm_state(world)
    writes = sum(1 for r in world.kube.requests() if r.method in WRITES and r.status and r.status < 300)
    assert writes == 4
    for name, (ann, labels) in given_back.items():
        assert ann.get(keys.MAX_INCREMENTAL) == ORIGINALS[name] and keys.STATE not in ann and not labels
    report += crash_every_k(start, writes, given_back, servers, tmp_path, "give-back", "--release-all")
    print("\n".join(["CRASH", *report]))
