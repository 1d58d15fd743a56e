"""Chains verified from listings (`read_chains`), against moto and the benchmark's in-memory endpoint.

Every VM's index is written the way the uploader writes it (`append_checkpoint`); then objects
go missing or change size, folders straddle listing pages, and names hold characters that sort
in unexpected places. The verdict must name the damaged object, and no HEAD is ever sent.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.chain import Problem, SizeMismatch
from reconciler.core.model import ChainState
from reconciler.errors import SourceError
from reconciler.sources.chains import read_chains
from reconciler.sources.listing import (
    PER_VM_LISTING_MAX,
    UnorderedListingError,
    group_listing,
    partition,
)
from reconciler.sources.s3 import BucketReader, lean
from reconciler.sources.s3.answers import ListPage
from tests.listingdata import ODD, Store, assert_valid, checkpoint_of, data_keys, folder, only_gets_and_lists

pytest_plugins = ("tests.s3fixtures", "tests.listingdata")

pytestmark = pytest.mark.usefixtures("hermetic_aws_env")


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
    # One per VM folder; or one for the tree, then the broken chain's own folder (a listing of many
    # folders never decides alone that an object is missing).
    assert stats["ListObjectsV2"] == (3 if not fillers else 1 + 1)


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
    assert only_gets_and_lists(r)["ListObjectsV2"] == 2 + 1  # the tree, then the straddler's own folder


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
    own = sum(k.startswith(f"checkpoints/p/{vms[5][1]}/") for k in objects)  # its folder, listed again
    assert only_gets_and_lists(r)["ListObjectsV2"] == -(-len(objects) // 7) + -(-own // 7)


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
