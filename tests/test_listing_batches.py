"""Chains read in batches (`read_chains`): one listing part at a time per stream, a bounded number
of VMs of each part in the pool of index GETs, every VM verified, a bug raised to the caller.
Against moto and the benchmark's in-memory endpoint.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from reconciler.core.model import ChainState
from reconciler.sources import chains as chains_module
from reconciler.sources.chains import read_chains
from reconciler.sources.listing import listing_plan
from tests.listingdata import Store, assert_valid, folder, only_gets_and_lists

pytest_plugins = ("tests.s3fixtures", "tests.listingdata")

pytestmark = pytest.mark.usefixtures("hermetic_aws_env")


def test_an_unexpected_error_ends_the_read(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug while one VM is verified is raised to the caller, not turned into a verdict, and the
    read ends instead of waiting for the other parts."""
    vms = [("ns", f"vm-{i:03d}") for i in range(200)]
    objects: dict[str, bytes] = {}
    for vm in vms:
        objects.update(folder(*vm, checkpoints=1, disks=("rootdisk",)))
    store.put(objects)
    parse = chains_module.parse_index

    def failing(data: bytes) -> Any:
        if b'"vm-007"' in data:
            raise ZeroDivisionError("a bug")
        return parse(data)

    monkeypatch.setattr(chains_module, "parse_index", failing)
    r = store.reader()
    with pytest.raises(ZeroDivisionError, match="a bug"):
        read_chains(r, r._bsl, vms, concurrency=8)


def test_many_vms_are_listed_in_disjoint_parts(store: Store) -> None:
    """Enough VMs for several listing parts: no key is listed twice and every VM is verified."""
    vms = [(f"team-{i % 3}", f"vm-{i}") for i in range(450)]
    objects: dict[str, bytes] = {}
    for vm in vms:
        objects.update(folder(*vm, checkpoints=1, disks=("rootdisk",)))
    objects.update(folder("team-1", "orphan", checkpoints=1))
    store.put(objects)
    r = store.reader()
    parts, streams = listing_plan(r._bsl, vms, 16)
    assert len(parts) > 1 and streams == 4
    chains = read_chains(r, r._bsl, vms, concurrency=16)
    assert_valid(chains, vms)
    pages = only_gets_and_lists(r)["ListObjectsV2"]
    assert len(parts) <= pages <= len(parts) + len(objects) // 1000


def _windows(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many VMs each part had handed to the pool, not yet verified, whenever it waited
    for one of them (each holds its folder's listing until verified, its index while verified)."""
    sizes: list[int] = []
    wait = chains_module.wait

    def recording(fs: Any, **kw: Any) -> Any:
        sizes.append(len(fs))
        return wait(fs, **kw)

    monkeypatch.setattr(chains_module, "wait", recording)
    return sizes


def _reads_at_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the most parts read at the same time: [peak]."""
    peak, now = [0], [0]
    lock = threading.Lock()
    read = chains_module._Batches.read

    def counting(self: Any, *args: Any) -> Any:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        try:
            return read(self, *args)
        finally:
            with lock:
                now[0] -= 1

    monkeypatch.setattr(chains_module._Batches, "read", counting)
    return peak


@pytest.mark.parametrize("checkpoints", [1, 8])
def test_a_part_hands_a_bounded_number_of_vms_to_the_pool(
    store: Store, monkeypatch: pytest.MonkeyPatch, checkpoints: int
) -> None:
    """Listed folders wait for their index GET in memory: a part has at most GETS_AHEAD VMs in the
    pool at once, whatever the chains' length, and every VM is still verified, those without an
    index or a folder included."""
    monkeypatch.setattr(chains_module, "GETS_AHEAD", 6)
    # Sorted first: 20 VMs with nothing in the bucket, then 10 whose folder holds no index, then 60 valid.
    nothing = [("a", f"vm-{i:02d}") for i in range(20)]
    lost = [("b", f"vm-{i:02d}") for i in range(10)]
    valid = [("c", f"vm-{i:02d}") for i in range(60)]
    objects: dict[str, bytes] = {}
    for vm in lost:
        objects.update({k: v for k, v in folder(*vm, checkpoints=1).items() if not k.endswith("index.json")})
    for n, vm in enumerate(valid):
        objects.update(folder(*vm, checkpoints=checkpoints, salt=n))
    store.put(objects)
    windows = _windows(monkeypatch)
    r = store.reader()
    assert listing_plan(r._bsl, valid + lost + nothing, 4)[1] == 1  # one part read at a time
    chains = read_chains(r, r._bsl, [*valid, *lost, *nothing], concurrency=4)
    assert_valid(chains, valid)
    assert all(chains[vm].state is ChainState.NO_INDEX for vm in [*lost, *nothing])
    assert max(windows) == 6  # the window filled, and never went past it
    assert only_gets_and_lists(r)["GetObject"] == 90


def test_parts_read_at_once_each_hold_their_own_window(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several parts: at most `streams` are read at once, each with at most GETS_AHEAD VMs in the pool."""
    monkeypatch.setattr(chains_module, "GETS_AHEAD", 8)
    vms = [(f"t{i % 5}", f"vm-{i:03d}") for i in range(300)]
    objects: dict[str, bytes] = {}
    for n, vm in enumerate(vms):
        objects.update(folder(*vm, checkpoints=1, disks=("rootdisk",), salt=n))
    store.put(objects)
    windows, reads = _windows(monkeypatch), _reads_at_once(monkeypatch)
    r = store.reader()
    parts, streams = listing_plan(r._bsl, vms, 8)
    assert len(parts) > streams == 2
    chains = read_chains(r, r._bsl, vms, concurrency=8)
    assert_valid(chains, vms)
    assert max(windows) <= 8
    assert reads[0] <= 2
