"""Chains verified from listings (`read_chains`), against moto and the benchmark's in-memory endpoint.

Every VM's index is written the way the uploader writes it (`append_checkpoint`); then objects
go missing or change size, folders straddle listing pages, and names hold characters that sort
in unexpected places. The verdict must name the damaged object, and no HEAD is ever sent.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.s3server import DictBucket, S3Server
from reconciler.core.chain import Chain, Problem, SizeMismatch
from reconciler.core.model import ChainState, VMKey
from reconciler.errors import SourceError
from reconciler.sim.upstream import append_checkpoint
from reconciler.sources import live
from reconciler.sources.live import (
    PER_VM_LISTING_MAX,
    UnorderedListingError,
    group_listing,
    listing_plan,
    partition,
    read_chains,
)
from reconciler.sources.s3 import BucketReader, lean
from reconciler.sources.s3.answers import ListPage
from tests.s3fixtures import CREDENTIALS, Seeder, bsl_for

pytest_plugins = ("tests.s3fixtures",)

BUCKET = "vm-backups"
PREFIX = "velero"
ROOT = f"{PREFIX}-kubevirt-datamover/"
T0 = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
ENV = {"AWS_EC2_METADATA_DISABLED": "true"}
# Names that sort in unexpected places: ' ' < '%' < '&' < '+' < '-' < '/' < 'a' < 'é' < U+E000 < U+1F600
# (the last two swap places in UTF-16 order, which S3 does not use).
ODD = ["a", "a b", "a+b", "a-b", "a%2Fb", "a&b", "ab", "é", "\ue000", "😀", "100%"]


@pytest.fixture(autouse=True)
def _hermetic_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


class Store:
    """A bucket on one of the two endpoints, and readers of it."""

    def __init__(self, endpoint: str, put: Any) -> None:
        self.endpoint = endpoint
        self._put = put
        self.readers: list[BucketReader] = []

    def put(self, objects: dict[str, bytes]) -> None:
        """Objects by key relative to the datamover prefix."""
        self._put({ROOT + k: v for k, v in objects.items()})

    def reader(self, cls: type[BucketReader] = BucketReader, **kw: Any) -> BucketReader:
        r = cls(bsl_for(BUCKET, PREFIX, self.endpoint), credentials=CREDENTIALS, environ=ENV, **kw)
        self.readers.append(r)
        return r


@pytest.fixture(params=["moto", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "moto":
        seed: Seeder = request.getfixturevalue("s3_seed")
        seed.bucket(BUCKET)
        made = Store(seed.endpoint, lambda objects: seed.put_many(BUCKET, objects))
        yield made
    else:
        bucket = DictBucket()
        server = S3Server({BUCKET: bucket}).start()

        def put(objects: dict[str, bytes]) -> None:
            for k, v in objects.items():
                bucket.put(k, v)

        made = Store(server.url, put)
        try:
            yield made
        finally:
            server.stop()
    for r in made.readers:
        r.close()


def folder(ns: str, name: str, checkpoints: int = 3, disks: tuple[str, ...] = ("rootdisk", "datadisk"),
           *, salt: int = 0) -> dict[str, bytes]:
    """A VM's objects and index, written as the uploader writes them (small sizes, real bodies)."""
    doc: dict[str, Any] | None = None
    objects: dict[str, bytes] = {}
    for j in range(checkpoints):
        sizes = {d: 3 + (salt + 7 * j + 3 * i) % 50 for i, d in enumerate(disks)}
        doc, written = append_checkpoint(doc, namespace=ns, name=name, mode="full" if j == 0 else "incremental",
                                         at=T0 + timedelta(days=j), backup=f"nightly-{j}", disk_sizes=sizes)
        objects.update({key: b"x" * size for key, size in written})
    objects[f"checkpoints/{ns}/{name}/index.json"] = json.dumps(doc).encode()
    return objects


def data_keys(objects: dict[str, bytes]) -> list[str]:
    return sorted(k for k in objects if k.endswith(".qcow2"))


def checkpoint_of(key: str) -> str:
    return key.split("/")[3]


def assert_valid(chains: dict[VMKey, Chain], vms: list[VMKey]) -> None:
    for vm in vms:
        assert chains[vm].state is ChainState.VALID, (vm, chains[vm].detail, chains[vm].problems)


def only_gets_and_lists(reader: BucketReader) -> dict[str, int]:
    stats = dict(reader.stats())
    assert set(stats) <= {"GetObject", "ListObjectsV2"}, stats
    return stats


# --------------------------------------------------------------------------- missing, wrong size


@pytest.mark.parametrize("fillers", [0, PER_VM_LISTING_MAX + 1], ids=["per-vm-listing", "tree-listing"])
def test_missing_is_broken_and_wrong_size_is_only_named(store: Store, fillers: int) -> None:
    """A missing object breaks its chain, named; one of another size exists, so its chain stays valid (the
    controller checks existence only) and the size difference is recorded with both sizes."""
    good, gone, short = ("prod", "good"), ("prod", "gone"), ("prod", "short")
    objects = {**folder(*good), **folder(*gone, salt=1), **folder(*short, salt=2)}
    extra = [("fill", f"vm-{i}") for i in range(fillers)]
    for vm in extra:
        objects.update(folder(*vm))
    missing = data_keys(folder(*gone, salt=1))[2]
    del objects[missing]
    resized = data_keys(folder(*short, salt=2))[-1]
    size = len(objects[resized])
    objects[resized] = b"y" * (size + 5)
    store.put(objects)
    r = store.reader()

    chains = read_chains(r, r._bsl, [good, gone, short, *extra], concurrency=4)

    assert_valid(chains, [good, short, *extra])
    assert chains[gone].state is ChainState.BROKEN
    assert chains[gone].problems == (Problem(checkpoint_of(missing), missing, "missing"),)
    assert "first at" in chains[gone].detail and chains[gone].unrestorable
    assert chains[short].mismatches == (SizeMismatch(checkpoint_of(resized), resized, size + 5, size),)
    assert chains[good].mismatches == ()
    stats = only_gets_and_lists(r)
    assert stats["GetObject"] == 3 + fillers
    assert stats["ListObjectsV2"] == (3 if not fillers else 1)  # one per VM folder, or one for the tree


def test_vms_without_index_or_folder_are_not_broken(store: Store) -> None:
    """No index, an empty folder and a VM nobody asked for: only the asked-for VMs, each as the controller sees it."""
    asked = [("ns", f"vm-{i}") for i in range(PER_VM_LISTING_MAX + 2)]
    objects: dict[str, bytes] = {}
    for vm in asked[:-2]:
        objects.update(folder(*vm))
    lost = {k: v for k, v in folder(*asked[-2]).items() if not k.endswith("index.json")}  # objects, no index
    objects.update(lost)
    objects.update(folder("ns", "vm-deleted"))  # in the bucket, not in the cluster
    store.put(objects)
    r = store.reader()
    chains = read_chains(r, r._bsl, asked, concurrency=3)
    assert_valid(chains, asked[:-2])
    assert chains[asked[-2]].state is ChainState.NO_INDEX
    assert chains[asked[-1]].state is ChainState.NO_INDEX  # nothing at all under its folder
    assert ("ns", "vm-deleted") not in chains


# --------------------------------------------------------------------------- pages


def test_folders_straddling_pages_over_a_thousand_keys(store: Store) -> None:
    """Over 1,000 keys: the folder cut by the page boundary is put together, its damage found."""
    vms = [("big", f"vm-{i:02d}") for i in range(10)]  # 10 x (30 x 4 + 1) = 1,210 keys
    objects: dict[str, bytes] = {}
    for n, vm in enumerate(vms):
        objects.update(folder(*vm, checkpoints=30, salt=n))
    ordered = sorted(objects)
    cut = ordered[1000]  # the first key of the second page
    straddler = ("big", cut.split("/")[2])
    keys = data_keys({k: v for k, v in objects.items() if k.startswith(f"checkpoints/big/{straddler[1]}/")})
    before = [k for k in keys if k < cut][-1]
    after = [k for k in keys if k > cut][-1]
    assert before < cut < after  # damage on both sides of the page boundary
    del objects[before]
    del objects[after]
    store.put(objects)
    r = store.reader()

    chains = read_chains(r, r._bsl, vms, concurrency=4)

    assert_valid(chains, [vm for vm in vms if vm != straddler])
    assert {p.object_path for p in chains[straddler].problems} == {before, after}
    assert all(p.problem == "missing" for p in chains[straddler].problems)
    assert only_gets_and_lists(r)["ListObjectsV2"] == 2


def test_small_pages_cut_every_folder(store: Store) -> None:
    """Pages of 7 keys: every folder spans several pages and several folders share one."""
    vms = [("p", f"v{i}") for i in range(PER_VM_LISTING_MAX + 4)]
    objects: dict[str, bytes] = {}
    for n, vm in enumerate(vms):
        objects.update(folder(*vm, salt=n))
    damaged = data_keys(folder(*vms[5], salt=5))[3]
    del objects[damaged]
    store.put(objects)
    r = store.reader(page_size=7)
    chains = read_chains(r, r._bsl, vms, concurrency=2)
    assert_valid(chains, [vm for vm in vms if vm != vms[5]])
    assert [p.object_path for p in chains[vms[5]].problems] == [damaged]
    assert only_gets_and_lists(r)["ListObjectsV2"] == -(-len(objects) // 7)


# --------------------------------------------------------------------------- odd characters


def test_odd_characters_in_namespaces_and_names(store: Store) -> None:
    """Spaces, '+', '%', '&', unicode: folders that interleave in UTF-8 order are each verified whole."""
    vms = [("odd ns", name) for name in ODD] + [("ns+1", "vm%20x"), ("ns", "雪 snow")]
    objects: dict[str, bytes] = {}
    for n, vm in enumerate(vms):
        objects.update(folder(*vm, salt=n))
    objects["checkpoints/odd ns/a"] = b"a stray key beside the folders"
    objects["checkpoints/README"] = b"not a VM folder"
    gone = data_keys(folder("odd ns", "a b", salt=1))[1]
    del objects[gone]
    resized = data_keys(folder("odd ns", "😀", salt=ODD.index("😀")))[0]
    objects[resized] += b"!"
    plus = data_keys(folder("odd ns", "a+b", salt=2))[4]
    del objects[plus]
    store.put(objects)
    r = store.reader()

    chains = read_chains(r, r._bsl, vms, concurrency=4)

    assert_valid(chains, [vm for vm in vms if vm[1] not in ("a b", "a+b")])
    assert [(p.object_path, p.problem) for p in chains[("odd ns", "a b")].problems] == [(gone, "missing")]
    assert [p.object_path for p in chains[("odd ns", "a+b")].problems] == [plus]
    (mismatch,) = chains[("odd ns", "😀")].mismatches  # present, so valid; its size only recorded
    assert mismatch.object_path == resized and mismatch.bucket_size == len(objects[resized])
    assert "😀" in str(mismatch)
    only_gets_and_lists(r)


def test_lean_page_parsing_matches_botocore(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lean listing (signed requests, only Key and Size taken from each parsed page) yields
    exactly what a botocore client and its own XML parser yield, odd keys and pagination included."""
    objects: dict[str, bytes] = {}
    for n, name in enumerate(ODD):
        objects[f"checkpoints/ns/{name}/k{n} <&>'\"=?#.qcow2"] = b"z" * n
    store.put(objects)
    taken: list[int] = []
    parse = lean.parse_list_page

    def spy(body: bytes, *, where: str) -> ListPage:
        page = parse(body, where=where)
        taken.append(len(page.objects))
        return page

    monkeypatch.setattr(lean, "parse_list_page", spy)
    plain, fast = store.reader(page_size=4, lean=False), store.reader(page_size=4)
    assert list(plain.iter_objects()) == sorted((k, len(v)) for k, v in objects.items())
    assert taken == []  # botocore parsed those
    assert list(fast.iter_objects()) == list(plain.iter_objects())
    assert taken == [4, 4, 3]  # every page was read by the lean path, not by botocore
    assert fast.stats() == {"ListObjectsV2": 3}  # plain listed twice above


# --------------------------------------------------------------------------- failures


class Shuffled(BucketReader):
    """An endpoint that lists a tree out of order (S3 directory buckets do); a VM's own folder as it is."""

    def iter_objects(self, prefix: str = "checkpoints/") -> Iterator[tuple[str, int]]:
        items = list(super().iter_objects(prefix))
        if prefix.count("/") < 3:
            random.Random(7).shuffle(items)
        yield from items


def test_unordered_listing_falls_back_to_per_vm_listings(store: Store) -> None:
    """Keys out of order could split folders: every VM is verified again from its own folder."""
    vms = [("ns", f"vm-{i}") for i in range(PER_VM_LISTING_MAX + 3)]
    objects: dict[str, bytes] = {}
    for n, vm in enumerate(vms):
        objects.update(folder(*vm, salt=n))
    damaged = data_keys(folder(*vms[2], salt=2))[0]
    del objects[damaged]
    store.put(objects)
    r = store.reader(Shuffled)
    chains = read_chains(r, r._bsl, vms, concurrency=4)
    assert_valid(chains, [vm for vm in vms if vm != vms[2]])
    assert [p.object_path for p in chains[vms[2]].problems] == [damaged]
    assert only_gets_and_lists(r)["ListObjectsV2"] == 1 + len(vms)


class Failing(BucketReader):
    """The tree listing fails after the first `good` VM folders (retries exhausted, say)."""

    good = 2

    def iter_objects(self, prefix: str = "checkpoints/") -> Iterator[tuple[str, int]]:
        seen: set[str] = set()
        for key, size in super().iter_objects(prefix):
            seen.add(key.split("/")[2])
            if len(seen) > self.good + 1:
                raise SourceError("ListObjectsV2: SlowDown (503), gave up after 5 attempts")
            yield key, size


def test_listing_failure_keeps_whole_folders_and_leaves_the_rest_unknown(store: Store) -> None:
    """Folders listed in full before the failure are verified; the others are UNKNOWN, never broken."""
    vms = [("ns", f"vm-{i}") for i in range(PER_VM_LISTING_MAX + 3)]
    objects: dict[str, bytes] = {}
    for vm in vms[:-1]:
        objects.update(folder(*vm))
    store.put(objects)  # the last VM has no index: no listing needed for it
    r = store.reader(Failing)
    chains = read_chains(r, r._bsl, vms, concurrency=4)
    assert_valid(chains, vms[: Failing.good])
    for vm in vms[Failing.good : -1]:
        assert chains[vm].state is ChainState.UNKNOWN
        assert chains[vm].detail.startswith("listing the bucket failed: ListObjectsV2: SlowDown")
    assert chains[vms[-1]].state is ChainState.NO_INDEX


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


def test_index_gets_run_a_bounded_distance_ahead(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parsed indexes wait for their folder in memory: no more than GETS_AHEAD of them are sent ahead
    (plus one per listed folder waiting for its index), VMs without an index or folder don't hold
    the window, and every VM is still verified."""
    monkeypatch.setattr(live, "GETS_AHEAD", 6)
    monkeypatch.setattr(live, "GETS_AHEAD_MIN", 6)
    monkeypatch.setattr(live, "LISTING_STASH", 4)
    # Sorted first: 20 VMs with nothing in the bucket, then 10 whose folder holds no index, then 60 valid.
    nothing = [("a", f"vm-{i:02d}") for i in range(20)]
    lost = [("b", f"vm-{i:02d}") for i in range(10)]
    valid = [("c", f"vm-{i:02d}") for i in range(60)]
    objects: dict[str, bytes] = {}
    for vm in lost:
        objects.update({k: v for k, v in folder(*vm, checkpoints=1).items() if not k.endswith("index.json")})
    for n, vm in enumerate(valid):
        objects.update(folder(*vm, checkpoints=2, salt=n))
    store.put(objects)
    peak = 0
    send = live._Verifier.send

    def counting(self: Any, vm: VMKey) -> None:
        nonlocal peak
        send(self, vm)
        peak = max(peak, len(self.futures))

    monkeypatch.setattr(live._Verifier, "send", counting)
    r = store.reader()
    chains = read_chains(r, r._bsl, [*valid, *lost, *nothing], concurrency=8)
    assert_valid(chains, valid)
    assert all(chains[vm].state is ChainState.NO_INDEX for vm in [*lost, *nothing])
    assert 6 <= peak <= 6 + 4 + 1
    assert only_gets_and_lists(r)["GetObject"] == 90


def _peak_of_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many VMs await their verification after each GET is sent; [peak]."""
    peak = [0]
    send = live._Verifier.send

    def counting(self: Any, vm: VMKey) -> None:
        send(self, vm)
        peak[0] = max(peak[0], len(self.futures))

    monkeypatch.setattr(live._Verifier, "send", counting)
    return peak


@pytest.mark.parametrize(("checkpoints", "window"), [(6, 3), (1, 18)])
def test_long_chains_shorten_the_window_of_gets_ahead(store: Store, monkeypatch: pytest.MonkeyPatch,
                                                      checkpoints: int, window: int) -> None:
    """The window holds about CHECKPOINTS_AHEAD parsed checkpoints once indexes come in: 18 / 6 = 3
    indexes of 6 checkpoints, 18 of 1 (under GETS_AHEAD 30); GETS_AHEAD_MIN before the first."""
    monkeypatch.setattr(live, "GETS_AHEAD", 30)
    monkeypatch.setattr(live, "GETS_AHEAD_MIN", 3)
    monkeypatch.setattr(live, "CHECKPOINTS_AHEAD", 18)
    monkeypatch.setattr(live, "LISTING_STASH", 2)
    vms = [("c", f"vm-{i:02d}") for i in range(60)]
    objects: dict[str, bytes] = {}
    for n, vm in enumerate(vms):
        objects.update(folder(*vm, checkpoints=checkpoints, salt=n))
    store.put(objects)
    peak = _peak_of_sends(monkeypatch)
    r = store.reader()
    chains = read_chains(r, r._bsl, vms, concurrency=8)
    assert_valid(chains, vms)
    assert peak[0] <= window + 2 + 1  # the window, plus the listed folders waiting, plus the one at hand
    if window > 3 + 2 + 1:
        assert peak[0] > 3 + 2 + 1  # the window grew past GETS_AHEAD_MIN once indexes came in


# --------------------------------------------------------------------------- properties

segment = st.text(alphabet="ab -+%&./é\ue000😀雪", min_size=1, max_size=4).filter(lambda s: "/" not in s)
folders = st.sets(st.tuples(segment, segment), min_size=1, max_size=40)


@given(folders, st.integers(min_value=1, max_value=10))
def test_partition_is_disjoint_and_covers(vms: set[tuple[str, str]], size: int) -> None:
    """Parts never share a key (no prefix is a prefix of another) and hold every folder once."""
    names = sorted(f"checkpoints/{ns}/{vm}/" for ns, vm in vms)
    parts = partition(names, size)
    assert [f for p in parts for f in p.folders] == names
    for p in parts:
        assert all(f.startswith(p.prefix) for f in p.folders)
        assert len(p.folders) <= size or len(p.folders) == 1
    prefixes = [p.prefix for p in parts]
    for i, a in enumerate(prefixes):
        for b in prefixes[i + 1 :]:
            assert not a.startswith(b) and not b.startswith(a)


@given(folders, st.randoms(use_true_random=False))
def test_grouping_a_sorted_listing_gives_each_folder_whole(vms: set[tuple[str, str]], rnd: random.Random) -> None:
    """In code point (= UTF-8) order every VM folder is one run; out of order is refused, never mis-grouped."""
    keys = {f"checkpoints/{ns}/{vm}/{leaf}": 1 for ns, vm in vms for leaf in ("a", "index.json", "z z")}
    keys.update({f"checkpoints/{ns}": 2 for ns, _ in vms})  # keys outside any VM folder
    listing = sorted(keys.items())
    groups = list(group_listing(listing))
    assert [vm for vm, _ in groups] == sorted(vms, key=lambda v: f"checkpoints/{v[0]}/{v[1]}/")
    for (ns, vm), items in groups:
        assert set(items) == {k for k in keys if k.startswith(f"checkpoints/{ns}/{vm}/")}
    shuffled = listing[:]
    rnd.shuffle(shuffled)
    if shuffled != listing:
        with pytest.raises(UnorderedListingError):
            list(group_listing(shuffled))
