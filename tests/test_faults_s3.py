"""The S3 side of the fault matrix: the real CLI reads the bucket through a fault-injecting proxy.

Every cell runs `run` with faults injected between the job and the (moto) S3 server, then checks:
transient faults are retried with exponential backoff (the injected sleep records each wait) and
the run ends as if nothing happened; persistent ones end the affected VMs in `error` with a
message that names the cause, exit status 1; no VM loses its original value; and a re-run
without faults reaches the fault-free end state.

A fault-free run sends 8 requests: one index GET per VM (4) and one LIST per VM folder (4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler import inputs
from reconciler.sources.s3 import BucketReader
from tests.cluster import World
from tests.fakekube.server import FakeKubeServer
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
from tests.s3fixtures import Fault, Seeder
from tests.s3proxy import TargetedProxy, index_of, is_get, is_list

FAULT_FREE_REQUESTS = 8
QUICK_TIMEOUT = 1.0  # seconds: connect and read timeout while a test stalls responses
STALL = 2 * QUICK_TIMEOUT  # seconds a stalled response waits: twice the quick read timeout


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[TargetedProxy]:
    p = TargetedProxy(s3_endpoint)
    p.start()
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, proxy: TargetedProxy, tmp_path: Path) -> World:
    """The BSL's s3Url is the proxy; seeding and the upstream model write to moto directly."""
    w = World(fake_kube, s3_seed, proxy.url, tmp_path)
    seed(w)
    return w


@pytest.fixture
def expected(world: World, proxy: TargetedProxy) -> VMState:
    state = expected_state(world)
    proxy.clear()
    return state


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A read timeout of 1 s instead of 30 s, so a stalled response (2 s) times out within the test,
    while every other answer (moto answers in milliseconds), even on a loaded machine running tests
    in parallel, comes in time. Each stalled attempt costs the test this long: the persistent read
    timeout waits it out five times."""

    class QuickReader(BucketReader):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("read_timeout_s", QUICK_TIMEOUT)
            kwargs.setdefault("connect_timeout_s", QUICK_TIMEOUT)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(inputs, "BucketReader", QuickReader)


def report(cell: str, retries: int, outcome: str, code: int) -> None:
    print(f"MATRIX S3 | {cell} | retries {retries} | {outcome} | exit {code}")


def on_backoff_curve(sleep: float) -> bool:
    """0.5 s, 1 s, 2 s, 4 s, 8 s (capped at 10 s), each plus a jitter below 0.5 s."""
    return any(step <= sleep <= step + 0.5 for step in (0.5, 1.0, 2.0, 4.0, 8.0, 10.0))


def assert_backoff(sleeps: list[float], count: int) -> None:
    assert len(sleeps) == count, sleeps
    assert all(on_backoff_curve(s) for s in sleeps), sleeps


# --------------------------------------------------------------------------- transient


@pytest.mark.parametrize(
    ("cell", "fault", "when"),
    [
        ("503 SlowDown", Fault.error(503, "SlowDown"), is_get),
        ("500 InternalError", Fault.error(500, "InternalError"), is_get),
        ("connection reset", Fault.reset(), is_get),
        ("503 SlowDown on LIST", Fault.error(503, "SlowDown"), is_list),
        ("connection reset on LIST", Fault.reset(), is_list),
    ],
)
def test_transient_fault_is_retried_and_the_run_is_undisturbed(
    world: World,
    proxy: TargetedProxy,
    expected: VMState,
    cell: str,
    fault: Fault,
    when: Callable[[str, str], bool],
) -> None:
    """Three faulted requests: each is retried after a backoff, and the run ends as a clean one would."""
    rule = proxy.add(fault, times=3, when=when)
    sleeps = Sleeps()
    code, plan, err = run(world, sleep=sleeps)
    assert rule.fired == 3
    retries = len(proxy.requests) - FAULT_FREE_REQUESTS
    report(cell, retries, ", ".join(f"{k}={v}" for k, v in sorted(actions(plan).items())), code)
    assert code == 0, err
    assert retries == 3
    assert_backoff(sleeps.calls, 3)
    assert vm_state(world) == expected
    assert_originals_recoverable(world)


def test_read_timeout_is_retried(world: World, proxy: TargetedProxy, expected: VMState, quick_timeouts: None) -> None:
    """A response that stalls past the read timeout is abandoned and the request sent again."""
    proxy.add(Fault.delay(STALL), times=2, when=is_get)
    sleeps = Sleeps()
    code, plan, err = run(world, sleep=sleeps)
    retries = len(proxy.requests) - FAULT_FREE_REQUESTS
    report("read timeout", retries, ", ".join(f"{k}={v}" for k, v in sorted(actions(plan).items())), code)
    assert code == 0, err
    assert retries == 2
    assert_backoff(sleeps.calls, 2)
    assert vm_state(world) == expected


# --------------------------------------------------------------------------- persistent


def _persistent(
    world: World,
    proxy: TargetedProxy,
    expected: VMState,
    *,
    cell: str,
    fault: Fault,
    when: Callable[[str, str], bool],
    failing: set[str],
    fired: int | range,
    message: str,
    sleeps: int,
) -> dict[str, Any]:
    """The fault answers every matching request: `fired` of them are sent, `sleeps` backoffs taken."""
    before = vm_state(world)
    rule = proxy.add(fault, when=when)
    slept = Sleeps()
    code, plan, err = run(world, sleep=slept)
    got = actions(plan)
    report(cell, len(slept.calls), ", ".join(f"{k}={v}" for k, v in sorted(got.items())), code)
    assert code == 1, err
    assert {n for n, a in got.items() if a == "error"} == failing
    for name in failing:
        assert message in messages(plan)[name], messages(plan)[name]
        assert vm_state(world)[name] == before[name], f"{name} was written although it is in error"
    assert rule.fired in (fired if isinstance(fired, range) else (fired,))
    assert len(slept.calls) == sleeps
    assert all(on_backoff_curve(s) for s in slept.calls), slept.calls
    if len(failing) == 1 and sleeps:  # one request's waits grow: 0.5, 1, 2, 4 s (+ jitter)
        assert [int(s) for s in sorted(slept.calls)] == [0, 1, 2, 4][:sleeps], slept.calls
    assert_originals_recoverable(world)
    proxy.clear()
    converges(world, expected)
    return plan


def test_persistent_slowdown_gives_up_after_five_attempts(
    world: World, proxy: TargetedProxy, expected: VMState
) -> None:
    """503 on every index GET: five attempts each, then those VMs are errors naming the throttling."""
    _persistent(
        world,
        proxy,
        expected,
        cell="503 SlowDown (persistent)",
        fault=Fault.error(503, "SlowDown"),
        when=is_get,
        failing=set(ORIGINALS),
        fired=20,
        message="SlowDown (503)",
        sleeps=16,
    )


def test_persistent_internal_error_on_one_index(world: World, proxy: TargetedProxy, expected: VMState) -> None:
    """500 on one VM's index only: that VM is in error, the other three are decided and written."""
    _persistent(
        world,
        proxy,
        expected,
        cell="500 InternalError (persistent, one VM)",
        fault=Fault.error(500, "InternalError"),
        when=index_of("loose"),
        failing={"loose"},
        fired=5,
        message="gave up after 5 attempts",
        sleeps=4,
    )
    # The other three were written by the faulted run already; the re-run writes "loose" only.


def test_persistent_connection_reset(world: World, proxy: TargetedProxy, expected: VMState) -> None:
    _persistent(
        world,
        proxy,
        expected,
        cell="connection reset (persistent)",
        fault=Fault.reset(),
        when=is_get,
        failing=set(ORIGINALS),
        fired=20,
        message="gave up after 5 attempts",
        sleeps=16,
    )


@pytest.mark.slow
def test_persistent_read_timeout(world: World, proxy: TargetedProxy, expected: VMState, quick_timeouts: None) -> None:
    _persistent(
        world,
        proxy,
        expected,
        cell="read timeout (persistent, one VM)",
        fault=Fault.delay(STALL),
        when=index_of("junk"),
        failing={"junk"},
        fired=5,
        message="Read timeout",
        sleeps=4,
    )


def test_access_denied_is_not_retried(world: World, proxy: TargetedProxy, expected: VMState) -> None:
    """403 AccessDenied on one VM's index: one attempt, an error that says access was denied."""
    _persistent(
        world,
        proxy,
        expected,
        cell="403 AccessDenied (one VM)",
        fault=Fault.error(403, "AccessDenied"),
        when=index_of("plain"),
        failing={"plain"},
        fired=1,
        message="AccessDenied (403)",
        sleeps=0,
    )


def test_access_denied_on_listing(world: World, proxy: TargetedProxy, expected: VMState) -> None:
    """Reading indexes allowed but listing denied (no s3:ListBucket): no chain can be verified.
    (One LIST for the bucket, or one per VM folder: either way each is sent once, not retried.)"""
    _persistent(
        world,
        proxy,
        expected,
        cell="403 AccessDenied on LIST",
        fault=Fault.error(403, "AccessDenied"),
        when=is_list,
        failing=set(ORIGINALS),
        fired=range(1, 5),
        message="listing the bucket failed",
        sleeps=0,
    )


def test_missing_bucket(world: World, proxy: TargetedProxy, expected: VMState) -> None:
    """NoSuchBucket: not retried; every VM of the BSL is in error bucket-missing, naming the bucket."""
    plan = _persistent(
        world,
        proxy,
        expected,
        cell="404 NoSuchBucket",
        fault=Fault.error(404, "NoSuchBucket"),
        when=lambda _m, _p: True,
        failing=set(ORIGINALS),
        fired=4,
        message='bucket "backups" does not exist at this endpoint',
        sleeps=0,
    )
    # The reason a snapshot without the bucket gives too, so alerts and runbooks see one cause.
    assert {v["name"]: v["reasons"] for v in plan["vms"] if v["name"] in ORIGINALS} == {
        name: ["bucket-missing"] for name in ORIGINALS
    }
