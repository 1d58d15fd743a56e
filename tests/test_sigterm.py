"""SIGTERM during `run`, as Kubernetes sends it: the VM being written is finished, then the run stops.

Kubernetes sends SIGTERM when the Job is deleted, its activeDeadlineSeconds passes or the node
drains, and SIGKILL only after terminationGracePeriodSeconds. Python's default would end the
process at once, possibly between a VM's patch and its Events. These tests send a real SIGTERM to
this process as the k-th write reaches the API server: the run completes that VM (patch and
Events), writes nothing after it, exits 143, and a re-run completes what was left.
"""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.interrupts import Interrupts, Terminated, held_during_writes
from tests.cluster import World
from tests.fakekube.server import FakeKubeServer
from tests.faultworld import interrupted_at_write, seed
from tests.s3fixtures import Seeder


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), environ={}, stdout=out, stderr=err, sleep=lambda _s: None)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def default_sigterm() -> Iterator[None]:
    """SIGTERM at its default disposition, as in a container's main process (a test runner may differ)."""
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> World:
    w = World(fake_kube, s3_seed, s3_endpoint, tmp_path)
    seed(w)
    return w


def test_sigterm_outside_a_unit_stops_at_once_inside_after_it() -> None:
    guard = Interrupts()
    with pytest.raises(Terminated, match=r"terminated \(SIGTERM\)"):
        guard.handle(signal.SIGTERM, None)
    steps = []
    with pytest.raises(Terminated), guard.writing("VirtualMachine a/b"):
        guard.handle(signal.SIGTERM, None)
        steps.append("unit finished")
    assert steps == ["unit finished"]
    with pytest.raises(Terminated, match="interrupted again while writing VirtualMachine a/c"):  # noqa: SIM117
        with guard.writing("VirtualMachine a/c"):
            guard.handle(signal.SIGTERM, None)
            guard.handle(signal.SIGTERM, None)
            steps.append("never here")
    assert steps == ["unit finished"]


def test_ctrl_c_after_sigterm_in_a_unit_stops_at_once() -> None:
    guard = Interrupts()
    with pytest.raises(KeyboardInterrupt, match="interrupted again"), guard.writing("VirtualMachine a/b"):
        guard.handle(signal.SIGTERM, None)
        guard.handle(signal.SIGINT, None)


def test_handlers_are_taken_only_from_their_defaults_and_given_back(default_sigterm: None) -> None:
    before_int = signal.getsignal(signal.SIGINT)
    with held_during_writes() as guard:
        assert signal.getsignal(signal.SIGTERM) == guard.handle
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is before_int

    def own(_signum: int, _frame: object) -> None:
        """An embedding program's own handler."""

    signal.signal(signal.SIGTERM, own)
    with held_during_writes():
        assert signal.getsignal(signal.SIGTERM) is own  # left alone
    assert signal.getsignal(signal.SIGTERM) is own


@pytest.mark.parametrize("k", range(1, 8))
def test_sigterm_in_run_finishes_the_vm_being_written_then_stops(
    world: World, tmp_path: Path, k: int, default_sigterm: None
) -> None:
    """SIGTERM during the k-th write: that VM is finished, patch and Events, no other is touched, exit 143."""
    code, out, err = interrupted_at_write(world, tmp_path, signal.SIGTERM, k)
    assert code == 143 and out == "", err
    assert err.splitlines()[-1] == "error: terminated (SIGTERM)" and "Traceback" not in err
