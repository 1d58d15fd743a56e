"""The Kubernetes side of the fault matrix: faults injected by the fake API server, the real CLI.

Each cell runs `run` with a fault on the API server, then checks the retries (request log and the
injected sleep), the outcome per VM, the exit status, that no VM lost its original value, and
that a re-run without faults reaches the fault-free end state.

A fault-free run sends: 3 lists (Schedules, BSLs, VMs), 1 get (the credentials Secret), 4 VM
patches and 3 Events.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.core import keys
from reconciler.errors import TransientError
from reconciler.sources import kube as kube_module
from reconciler.sources.kube import Kube, connect
from tests.cluster import World
from tests.fakekube.server import DEFAULT_CONTEXT, FakeKubeServer
from tests.faultworld import (
    ORIGINALS,
    Sleeps,
    VMState,
    actions,
    assert_originals_recoverable,
    converges,
    expected_state,
    messages,
    run,
    seed,
    vm_state,
)
from tests.s3fixtures import Seeder

VM_PATH = "/apis/kubevirt.io/v1/namespaces/apps/virtualmachines/{}$"
VM_LIST = r"^/apis/kubevirt.io/v1/virtualmachines$"
SCHEDULES = r"/apis/velero.io/v1/namespaces/velero/schedules$"


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> World:
    w = World(fake_kube, s3_seed, s3_endpoint, tmp_path)
    seed(w)
    return w


@pytest.fixture
def expected(world: World) -> VMState:
    state = expected_state(world)
    world.kube.clear_requests()
    return state


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every API request times out after 1 s instead of 30 s: still a hundred times what an answer of
    the in-process fake server takes, even on a loaded machine running tests in parallel, so only a
    request the test holds back times out. (Each held request costs the test this long: the
    persistent list timeout waits it out six times.)"""
    monkeypatch.setattr(kube_module, "TIMEOUT", (1.0, 1.0))


def report(cell: str, retries: int, outcome: str, code: int) -> None:
    print(f"MATRIX Kubernetes | {cell} | retries {retries} | {outcome} | exit {code}")


def summary(plan: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(actions(plan).items())) if plan else "no plan"


def requests(world: World, method: str, path: str) -> int:
    return world.kube.count(method=method, path=path)


# --------------------------------------------------------------------------- 409 Conflict


def test_conflict_once_is_re_read_and_decided_again(world: World, expected: VMState) -> None:
    """409 on a VM's patch: the job re-reads that VM, decides again, and writes once more."""
    world.kube.add_fault("PATCH", VM_PATH.format("loose"), status=409, times=1)
    code, plan, err = run(world)
    patches = requests(world, "PATCH", VM_PATH.format("loose"))
    rereads = requests(world, "GET", VM_PATH.format("loose"))
    report("409 Conflict (once)", patches - 1, summary(plan), code)
    assert code == 0, err
    assert (patches, rereads) == (2, 1)
    assert vm_state(world) == expected
    assert_originals_recoverable(world)


def test_conflict_for_ever_ends_that_vm_in_error(world: World, expected: VMState) -> None:
    """409 on every patch of one VM: three re-reads, then an error for that VM alone; it is untouched."""
    before = vm_state(world)["loose"]
    world.kube.add_fault("PATCH", VM_PATH.format("loose"), status=409, times=None)
    code, plan, _ = run(world)
    patches = requests(world, "PATCH", VM_PATH.format("loose"))
    report("409 Conflict (persistent, one VM)", patches - 1, summary(plan), code)
    assert code == 1
    assert actions(plan) == {"plain": "force-full", "loose": "error", "strict": "keep", "junk": "force-full"}
    assert "still conflicting after 3 re-reads" in messages(plan)["loose"]
    assert patches == 4 and requests(world, "GET", VM_PATH.format("loose")) == 3  # no unused 4th re-read
    assert vm_state(world)["loose"] == before
    assert_originals_recoverable(world)
    world.kube.clear_faults()
    converges(world, expected)


def test_conflict_then_vm_deleted(world: World, expected: VMState) -> None:
    """409, and the re-read finds the VM gone: it is skipped as deleted, not an error."""
    world.kube.add_fault("PATCH", VM_PATH.format("junk"), status=409, times=1)
    world.kube.on_request(
        lambda r: (
            world.kube.delete("virtualmachines", "junk", "apps") if r.method == "PATCH" and r.name == "junk" else None
        )
    )
    code, plan, err = run(world)
    report("409 then 404 (VM deleted)", 0, summary(plan), code)
    assert code == 0, err
    assert actions(plan)["junk"] == "skip" and plan is not None
    assert [v["reasons"] for v in plan["vms"] if v["name"] == "junk"] == [["vm-deleted"]]


# --------------------------------------------------------------------------- 429 / 500


def test_throttled_list_waits_as_told(world: World, expected: VMState) -> None:
    """429 with Retry-After: 3 on the VM list, twice: the job waits 3 s each time, then goes on."""
    world.kube.add_fault("GET", VM_LIST, status=429, retry_after=3, times=2)
    sleeps = Sleeps()
    code, plan, err = run(world, sleep=sleeps)
    lists = requests(world, "GET", VM_LIST)
    report("429 Retry-After 3 (twice)", lists - 1, summary(plan), code)
    assert code == 0, err
    assert lists == 3 and sleeps.calls == [3.0, 3.0]
    assert vm_state(world) == expected


def test_throttled_patch_for_ever_ends_that_vm_in_error(world: World, expected: VMState) -> None:
    """429 on every patch of one VM: six attempts, each after the server's Retry-After, then error."""
    world.kube.add_fault("PATCH", VM_PATH.format("plain"), status=429, retry_after=1, times=None)
    sleeps = Sleeps()
    code, plan, _ = run(world, sleep=sleeps)
    patches = requests(world, "PATCH", VM_PATH.format("plain"))
    report("429 Retry-After 1 (persistent, one VM)", patches - 1, summary(plan), code)
    assert code == 1
    assert actions(plan)["plain"] == "error" and "429" in messages(plan)["plain"]
    assert patches == 6 and sleeps.calls == [1.0] * 5
    assert keys.STATE not in vm_state(world)["plain"][0]
    assert_originals_recoverable(world)
    world.kube.clear_faults()
    converges(world, expected)


def test_server_error_on_patch_is_retried_with_backoff(world: World, expected: VMState) -> None:
    """500 twice on a patch: exponential backoff (0.5 s, 1 s), then the write goes through once."""
    world.kube.add_fault("PATCH", VM_PATH.format("strict"), status=500, times=2)
    sleeps = Sleeps()
    code, plan, err = run(world, sleep=sleeps)
    patches = requests(world, "PATCH", VM_PATH.format("strict"))
    report("500 on PATCH (twice)", patches - 1, summary(plan), code)
    assert code == 0, err
    assert patches == 3 and sleeps.calls == [0.5, 1.0]
    assert vm_state(world) == expected


def test_server_error_for_ever_on_the_schedule_list_stops_the_run(world: World, expected: VMState) -> None:
    """500 on every Schedule list: six attempts with backoff, then the run stops before deciding
    anything: exit 1, a message on stderr, nothing written."""
    world.kube.add_fault("GET", SCHEDULES, status=500, times=None)
    sleeps = Sleeps()
    code, plan, err = run(world, sleep=sleeps)
    lists = requests(world, "GET", SCHEDULES)
    report("500 on LIST Schedules (persistent)", lists - 1, "run stopped, nothing decided", code)
    assert code == 1 and plan is None
    assert "error: list schedules.velero.io in velero: 500" in err
    assert lists == 6 and sleeps.calls == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert world.patches() == 0
    world.kube.clear_faults()
    converges(world, expected)


# --------------------------------------------------------------------------- 403


def test_forbidden_patch_is_not_retried(world: World, expected: VMState) -> None:
    """403 on one VM's patch (RBAC): one attempt, an error naming the refusal, the others proceed."""
    before = vm_state(world)["junk"]
    world.kube.add_fault(
        "PATCH",
        VM_PATH.format("junk"),
        status=403,
        times=None,
        message='virtualmachines.kubevirt.io "junk" is forbidden: cannot patch',
    )
    sleeps = Sleeps()
    code, plan, _ = run(world, sleep=sleeps)
    patches = requests(world, "PATCH", VM_PATH.format("junk"))
    report("403 on PATCH (one VM)", patches - 1, summary(plan), code)
    assert code == 1
    assert actions(plan) == {"plain": "force-full", "loose": "force-full", "strict": "keep", "junk": "error"}
    assert "403" in messages(plan)["junk"] and "forbidden" in messages(plan)["junk"]
    assert patches == 1 and sleeps.calls == []
    assert vm_state(world)["junk"] == before
    world.kube.clear_faults()
    converges(world, expected)


def test_forbidden_secret_ends_the_bsls_vms_in_error(world: World, expected: VMState) -> None:
    """403 reading the credentials Secret: every VM of that BSL is in error, nothing is written."""
    world.kube.add_fault("GET", r"/secrets/cloud-credentials$", status=403, times=None)
    code, plan, _ = run(world)
    report("403 on GET Secret", requests(world, "GET", r"/secrets/") - 1, summary(plan), code)
    assert code == 1
    assert set(actions(plan).values()) == {"error"}
    assert "get secret velero/cloud-credentials: 403" in messages(plan)["plain"]
    assert world.patches() == 0
    world.kube.clear_faults()
    converges(world, expected)


def test_forbidden_events_leave_the_writes_standing(world: World, expected: VMState) -> None:
    """403 creating Events: every patch stands (an Event is a report, not state), the failures are
    logged and the exit status says something went wrong."""
    world.kube.add_fault("POST", r"/events$", status=403, times=None)
    code, plan, err = run(world)
    report("403 on POST Event", 0, summary(plan), code)
    assert code == 1
    assert set(actions(plan).values()) == {"force-full", "keep"}
    assert vm_state(world) == expected
    assert err.count("event-failed") == 3
    world.kube.clear_faults()
    converges(world, expected)


# --------------------------------------------------------------------------- 404 mid-run


def test_vm_deleted_mid_run_is_skipped(world: World, expected: VMState) -> None:
    """A VM deleted after the list and before its patch: 404, reported as deleted, exit 0."""

    def delete_on_first_patch(record: Any) -> None:
        if record.method == "PATCH" and world.kube.get("virtualmachines", "loose", "apps") is not None:
            world.kube.delete("virtualmachines", "loose", "apps")

    world.kube.on_request(delete_on_first_patch)
    code, plan, err = run(world)
    report("404 VM deleted mid-run", 0, summary(plan), code)
    assert code == 0, err
    assert plan is not None
    assert {v["name"]: v["reasons"] for v in plan["vms"]}["loose"] == ["vm-deleted"]
    assert requests(world, "PATCH", VM_PATH.format("loose")) == 1
    world.kube.remove_hook(delete_on_first_patch)
    del expected["loose"]
    converges(world, expected)


# --------------------------------------------------------------------------- timeouts


def test_patch_timeout_unanswered_is_sent_again(world: World, expected: VMState, quick_timeouts: None) -> None:
    """A patch the server never answers (and never applies): read timeout, sent again, applied once."""
    gate = threading.Event()
    world.kube.add_fault("PATCH", VM_PATH.format("plain"), hold=gate, drop=True, times=1)
    sleeps = Sleeps()
    try:
        code, plan, err = run(world, sleep=sleeps)
    finally:
        gate.set()  # the held patch is dropped, never applied
    patches = requests(world, "PATCH", VM_PATH.format("plain"))
    report("timeout on PATCH (unanswered)", patches - 1, summary(plan), code)
    assert code == 0, err
    assert patches == 2 and sleeps.calls == [0.5]
    assert vm_state(world) == expected


def test_patch_timeout_applied_late_is_not_applied_twice(world: World, expected: VMState, quick_timeouts: None) -> None:
    """A patch the server applies after the client gave up: the retry is guarded by the same
    resourceVersion, so it cannot apply twice; whichever lands second gets 409 and the re-read
    finds nothing left to write."""
    gate = threading.Event()
    world.kube.add_fault("PATCH", VM_PATH.format("plain"), hold=gate, times=1)
    code, plan, err = run(world)
    gate.set()  # the server goes on with the patch the client gave up on
    patches = world.kube.requests(method="PATCH", path=VM_PATH.format("plain"))
    assert patches and patches[0].done.wait(30)
    report("timeout on PATCH (applied late)", len(patches) - 1, summary(plan), code)
    assert code == 0, err
    # The retry landed first; the late original, guarded by the same resourceVersion, is refused.
    assert [r.status for r in patches] == [409, 200]
    assert vm_state(world) == expected
    assert_originals_recoverable(world)


@pytest.mark.slow
def test_list_timeout_for_ever_stops_the_run(world: World, expected: VMState, quick_timeouts: None) -> None:
    """The VM list never answers: six attempts, each ended by the read timeout, then exit 1 with the
    cause; nothing written."""
    gate = threading.Event()
    world.kube.add_fault("GET", VM_LIST, hold=gate, drop=True, times=None)
    # Only if the client never timed out: end the hold, so that the test fails instead of hanging.
    guard = threading.Timer(60, gate.set)
    guard.start()
    sleeps = Sleeps()
    try:
        code, plan, err = run(world, sleep=sleeps)
    finally:
        guard.cancel()
    held = world.kube.requests(method="GET", path=VM_LIST)
    report("timeout on LIST VMs (persistent)", len(held) - 1, "run stopped, nothing decided", code)
    assert code == 1 and plan is None
    assert "list virtualmachines.kubevirt.io" in err and "timed out" in err.lower()
    # The server never answered, so the run ended on its own: six read timeouts, five backoffs.
    assert len(held) == 6 and not any(r.done.is_set() for r in held)
    assert len(sleeps.calls) == 5
    assert world.patches() == 0
    gate.set()
    world.kube.clear_faults()
    converges(world, expected)


# --------------------------------------------------------------------------- the deadline


def test_retries_never_sleep_past_the_deadline(fake_kube: FakeKubeServer, tmp_path: Path) -> None:
    """The retry budget is a deadline as well as an attempt count: a wait that would end past the
    deadline (here the server's Retry-After: 2 against a 1 s deadline) ends the retries at once
    instead of sleeping through the deadline and trying again."""
    fake_kube.add_fault("GET", r"/namespaces/velero/secrets/x$", status=429, retry_after=2, times=None)
    sleeps = Sleeps()
    path = fake_kube.write_kubeconfig(tmp_path / "kubeconfig")
    kube = Kube(
        connect(kubeconfig=str(path), context=DEFAULT_CONTEXT, environ={}), deadline_s=1.0, attempts=6, sleep=sleeps
    )
    with pytest.raises(TransientError, match="429"):
        kube.secret_value("velero", "x", "cloud")
    assert sleeps.calls == []
    assert fake_kube.count(method="GET", path=r"/secrets/x$") == 1


def test_every_write_failing_leaves_every_vm_as_it_was(world: World) -> None:
    """500 on every patch: six attempts per VM, four errors, and every VM exactly as before."""
    before = vm_state(world)
    world.kube.add_fault("PATCH", None, status=500, times=None)
    code, plan, _ = run(world)
    report("500 on every PATCH (persistent)", world.patches() - 4, summary(plan), code)
    assert code == 1 and set(actions(plan).values()) == {"error"}
    assert world.patches() == 24
    assert vm_state(world) == before
    assert_originals_recoverable(world, ORIGINALS)
