"""Absence from a listing of many folders is not proof: a VM's own folder decides.

An endpoint that pages out of order skips keys (s3rver does, see test_s3rver.py), and on any
endpoint a first backup can land after the listing went past its folder. Either way a VM whose
index was read shows fewer objects (or none) in the shared listing than it has. Its own folder is
listed before anything is called missing; if that listing fails the chain is UNKNOWN and the VM
in error, never broken; an object missing from its own folder too is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.app import make_plan
from reconciler.core.events import vm_events
from reconciler.core.model import Action, ChainState, VMKey
from reconciler.errors import SourceError
from reconciler.sources.chains import read_chains
from reconciler.sources.listing import PER_VM_LISTING_MAX
from reconciler.sources.live import LiveSource
from reconciler.sources.s3 import BucketReader
from tests.listingdata import BUCKET, PREFIX, Store, assert_valid, data_keys, folder, only_gets_and_lists
from tests.s3fixtures import CREDENTIALS

pytest_plugins = ("tests.s3fixtures", "tests.listingdata")

pytestmark = pytest.mark.usefixtures("hermetic_aws_env")

VMS = [("ns", f"vm-{i}") for i in range(PER_VM_LISTING_MAX + 3)]  # over the per-VM listing: one tree listing
BY_FOLDER = sorted(VMS, key=lambda vm: f"checkpoints/{vm[0]}/{vm[1]}/")  # vm-0, vm-1, vm-10, vm-2, ...


def own_folder(vm: VMKey) -> str:
    return f"checkpoints/{vm[0]}/{vm[1]}/"


class Hiding(BucketReader):
    """Listings of many folders leave out the keys in `hidden`; a listing of one VM's own folder
    shows them (or fails, with `own_fails`). `own` records the own folders listed."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.hidden: set[str] = set()
        self.own: list[str] = []
        self.own_fails = False

    def iter_objects(self, prefix: str = "checkpoints/") -> Iterator[tuple[str, int]]:
        if prefix.count("/") == 3:  # checkpoints/<ns>/<vm>/
            self.own.append(prefix)
            if self.own_fails:
                raise SourceError(f"ListObjectsV2 {prefix}: AccessDenied (403)")
            yield from super().iter_objects(prefix)
            return
        for key, size in super().iter_objects(prefix):
            if key not in self.hidden:
                yield key, size


def seeded(store: Store, *, without: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every VM of VMS backed up three times, less the keys `without`."""
    objects: dict[str, bytes] = {}
    for n, vm in enumerate(VMS):
        objects.update(folder(*vm, salt=n))
    for key in without:
        del objects[key]
    store.put(objects)
    return objects


@pytest.mark.parametrize("position", [0, 4, -1], ids=["first", "middle", "last"])
def test_a_folder_the_shared_listing_left_out_is_listed_on_its_own(store: Store, position: int) -> None:
    """A folder the tree listing never showed, though its index was read from it: its own folder is
    listed once, and the chain is valid (first, in the middle or last of the listing)."""
    objects = seeded(store)
    skipped = BY_FOLDER[position]
    r = store.reader(Hiding)
    r.hidden = {k for k in objects if k.startswith(own_folder(skipped))}
    chains = read_chains(r, r._bsl, VMS, concurrency=4)
    assert_valid(chains, VMS)
    assert r.own == [own_folder(skipped)]
    assert only_gets_and_lists(r) == {"GetObject": len(VMS), "ListObjectsV2": 2}


def test_objects_the_shared_listing_left_out_are_listed_on_their_own(store: Store) -> None:
    """Some objects of two folders absent from the tree listing: only those two folders are listed
    again, and their chains are valid."""
    objects = seeded(store)
    r = store.reader(Hiding)
    r.hidden = {data_keys(folder(*VMS[3], salt=3))[0], *data_keys(folder(*VMS[7], salt=7))[2:5]}
    chains = read_chains(r, r._bsl, VMS, concurrency=4)
    assert_valid(chains, VMS)
    assert sorted(r.own) == sorted(own_folder(vm) for vm in (VMS[3], VMS[7]))
    assert {k for k in objects if k in r.hidden} == r.hidden  # they were there all along


def test_a_missing_object_is_still_missing_in_its_own_folder(store: Store) -> None:
    """An object gone from the bucket is missing from the VM's own folder too: broken, the object
    named, after one listing of that folder."""
    gone = data_keys(folder(*VMS[5], salt=5))[1]
    seeded(store, without=(gone,))
    r = store.reader(Hiding)
    chains = read_chains(r, r._bsl, VMS, concurrency=4)
    assert_valid(chains, [vm for vm in VMS if vm != VMS[5]])
    assert chains[VMS[5]].state is ChainState.BROKEN
    assert [(p.object_path, p.problem) for p in chains[VMS[5]].problems] == [(gone, "missing")]
    assert r.own == [own_folder(VMS[5])]


@pytest.mark.parametrize("really_gone", [False, True], ids=["hidden", "missing"])
def test_a_failed_listing_of_the_own_folder_is_unknown_never_broken(store: Store, really_gone: bool) -> None:
    """When the VM's own folder cannot be listed, nothing is called missing: the chain is UNKNOWN,
    saying which listing failed and why it was sent, whether the objects were there or not."""
    keys = data_keys(folder(*VMS[2], salt=2))[:2]
    seeded(store, without=tuple(keys) if really_gone else ())
    r = store.reader(Hiding)
    r.hidden = set(keys)
    r.own_fails = True
    chains = read_chains(r, r._bsl, VMS, concurrency=4)
    assert_valid(chains, [vm for vm in VMS if vm != VMS[2]])
    chain = chains[VMS[2]]
    assert chain.state is ChainState.UNKNOWN and not chain.problems
    assert chain.detail.startswith(f"listing the bucket failed: ListObjectsV2 {own_folder(VMS[2])}: AccessDenied")
    assert "a listing of many folders did not show every object of its chain" in chain.detail


class Racing(BucketReader):
    """A first backup of `late` lands while the tree is listed, after the listing passed its folder;
    the job reads its index after that."""

    def __init__(self, *args: Any, land: Any, late: VMKey, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.land, self.late = land, late
        self.landed = threading.Event()

    def iter_objects(self, prefix: str = "checkpoints/") -> Iterator[tuple[str, int]]:
        listed = list(super().iter_objects(prefix))
        if prefix.count("/") < 3 and not self.landed.is_set():
            self.land()
            self.landed.set()
        yield from listed

    def get_index(self, vm: VMKey) -> bytes | None:
        if vm == self.late:
            assert self.landed.wait(timeout=60), "the tree was never listed"  # a guard, not a timing
        return super().get_index(vm)


def test_a_first_backup_landing_after_the_listing_passed_is_not_broken(store: Store) -> None:
    """On a well-behaved endpoint too: an index read after the listing went past the VM's folder has
    objects the listing did not show. Its own folder is listed; the new chain is valid."""
    late = BY_FOLDER[3]
    objects = seeded(store, without=tuple(k for k in folder(*late, salt=VMS.index(late))))
    late_objects = folder(*late, salt=VMS.index(late))
    r = store.reader(Racing, land=lambda: store.put(late_objects), late=late)
    chains = read_chains(r, r._bsl, VMS, concurrency=4)
    assert r.landed.is_set()
    assert_valid(chains, VMS)
    assert not any(k in objects for k in late_objects)
    assert only_gets_and_lists(r) == {"GetObject": len(VMS), "ListObjectsV2": 2}


# --------------------------------------------------------------------------- the plan


class Cluster:
    """The cluster reads of `LiveSource`: one policy Schedule, the BSL, VMS."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.calls: dict[str, int] = {}

    def list_velero(self, plural: str, namespace: str) -> Iterator[dict[str, Any]]:
        meta = {
            "namespace": namespace,
            "uid": plural,
            "resourceVersion": "1",
            "creationTimestamp": "2026-08-01T00:00:00Z",
        }
        if plural == "schedules":
            yield {
                "apiVersion": "velero.io/v1",
                "kind": "Schedule",
                "metadata": {
                    **meta,
                    "name": "nightly",
                    "annotations": {"kubevirt-datamover.io/force-full-backup-interval": "7"},
                },
                "spec": {"schedule": "0 1 * * *", "template": {"snapshotMoveData": True}},
                "status": {"phase": "Enabled", "lastBackup": "2026-09-03T01:00:00Z"},
            }
        else:
            yield {
                "apiVersion": "velero.io/v1",
                "kind": "BackupStorageLocation",
                "metadata": {**meta, "name": "default"},
                "spec": {
                    "provider": "aws",
                    "default": True,
                    "objectStorage": {"bucket": BUCKET, "prefix": PREFIX},
                    "config": {"region": "us-east-1", "s3Url": self.endpoint, "s3ForcePathStyle": "true"},
                    "credential": {"name": "cloud-credentials", "key": "cloud"},
                },
            }

    def get_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """The controller as OADP deploys it, at its default global limit (0: unlimited)."""
        manager = {"name": "manager", "command": ["/manager"], "args": ["--leader-elect"]}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"template": {"spec": {"containers": [manager]}}},
        }

    def list_trackers(self) -> Iterator[dict[str, Any]]:
        return iter(())

    def list_vms(self, *, label_selector: str = "") -> Iterator[dict[str, Any]]:
        for i, (ns, name) in enumerate(VMS):
            yield {
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachine",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "uid": f"uid-{i}",
                    "resourceVersion": "5",
                    "annotations": {},
                    "labels": {},
                },
                "spec": {"runStrategy": "Always"},
                "status": {"printableStatus": "Running", "changedBlockTracking": {"state": "Enabled"}},
            }

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        return CREDENTIALS


def test_the_plan_raises_no_false_alarm_and_errs_where_the_own_folder_cannot_be_listed(store: Store) -> None:
    """Through the job's plan: a VM the tree listing skipped is decided like the others (no
    BackupChainBroken Event); one whose own folder cannot be listed either is in error."""
    objects = seeded(store)
    readers: list[Hiding] = []

    def reader(bsl: Any, credentials: str | None) -> Hiding:
        made = store.reader(Hiding)
        made.hidden = {k for k in objects if k.startswith((own_folder(VMS[1]), own_folder(VMS[6])))}
        made.own_fails = bool(readers)  # the second plan's reader
        readers.append(made)
        return made

    now = datetime(2026, 9, 3, 20, 0, tzinfo=UTC)
    for own_fails in (False, True):
        source = LiveSource(
            Cluster(store.endpoint),
            velero_namespace="velero",
            concurrency=4,  # type: ignore[arg-type]
            reader_factory=reader,
        )
        plan = make_plan(source, now=now)
        source.close()
        decisions = {d.vm.key: d for d in plan.decisions}
        assert set(decisions) == set(VMS)
        assert not [e for d in plan.decisions for e in vm_events(d)], "no Event: nothing is due or broken"
        for vm in (VMS[1], VMS[6]):
            d = decisions[vm]
            if own_fails:
                assert d.action is Action.ERROR and d.chain.state is ChainState.UNKNOWN, d
                assert "listing the bucket failed" in d.message
            else:
                assert d.action is Action.KEEP and d.chain.state is ChainState.VALID, d
        assert all(decisions[vm].action is Action.KEEP for vm in VMS if vm not in (VMS[1], VMS[6]))
        assert plan.failed is own_fails
