"""The chain as the controller computes it (design 2.3)."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.chain import Chain, SizeMismatch, compute_chain, walk
from reconciler.core.model import NO_INDEX, ChainState, FetchFailed, Unreadable
from tests.builders import cp, files, index, linear, listing_for


def test_latest_is_the_last_entry_not_the_newest_timestamp() -> None:
    """Latest is the last element of the list, whatever the timestamps say."""
    a, b = cp("a"), cp("b", "a")
    late = dataclasses.replace(a, timestamp=b.timestamp.replace(year=2030))  # type: ignore[union-attr]
    chain = compute_chain(index(late, b))
    assert chain.latest is not None and chain.latest.id == "b"


def test_incrementals_are_length_minus_one() -> None:
    """A full and three incrementals make a valid chain of length 4 with 3 incrementals."""
    cps = linear(3)
    chain = compute_chain(index(*cps), listing_for(*cps))
    assert (chain.state, chain.length, chain.incrementals) == (ChainState.VALID, 4, 3)
    assert chain.root is not None and chain.root.id == "c0"


def test_only_the_walk_from_the_latest_counts() -> None:
    """Entries of older chains before the last full are not part of the current chain."""
    old = linear(5, prefix="old")
    new = linear(1, prefix="new")
    chain = compute_chain(index(*old, *new))
    assert [m.id for m in chain.members] == ["new0", "new1"]


def test_type_is_compared_case_insensitively() -> None:
    """A root typed "FULL" or "full" is a full."""
    for spelling in ("FULL", "full", "Full"):
        chain = compute_chain(index(cp("a", type=spelling), cp("b", "a")))
        assert chain.state is ChainState.VALID


def test_root_not_full_when_parent_missing() -> None:
    """A parent id that is not in the list ends the walk; an incremental root is not a full."""
    chain = compute_chain(index(cp("b", "gone"), cp("c", "b")))
    assert chain.state is ChainState.ROOT_NOT_FULL
    assert chain.dangling_parent == "gone"
    assert chain.unrestorable == ("backup-b", "backup-c")


def test_cycle_stops_the_walk() -> None:
    """A parent cycle stops the walk; the chain has no full root."""
    chain = compute_chain(index(cp("a", "c"), cp("b", "a"), cp("c", "b")))
    assert chain.state is ChainState.ROOT_NOT_FULL and chain.cycle
    assert chain.length == 3


def test_self_parent_is_a_cycle() -> None:
    """An entry that names itself as parent is a one-member cycle."""
    chain = compute_chain(index(cp("a", "a")))
    assert chain.cycle and chain.length == 1


def test_no_index_empty_and_unreadable() -> None:
    """No index, an empty list and an unreadable document are each reported by their own state."""
    assert compute_chain(NO_INDEX).state is ChainState.NO_INDEX
    assert compute_chain(index()).state is ChainState.EMPTY
    unreadable = compute_chain(Unreadable("checkpoints[0].files: expected array"))
    assert unreadable.state is ChainState.UNREADABLE and "files" in unreadable.detail
    assert compute_chain(FetchFailed("503")).state is ChainState.UNKNOWN


def test_missing_object_breaks_the_chain_and_names_the_blast_radius() -> None:
    """A missing data file of member k makes every backup referencing members k.. unrestorable."""
    cps = linear(4)
    listing = listing_for(*cps)
    del listing[cps[2].files[0].object_path]
    chain = compute_chain(index(*cps), listing)
    assert chain.state is ChainState.BROKEN
    assert [str(p) for p in chain.problems] == [f"c2: {cps[2].files[0].object_path}: missing"]
    assert chain.unrestorable == ("backup-c2", "backup-c3", "backup-c4")


def test_size_mismatch_keeps_the_chain_valid_and_is_recorded() -> None:
    """Existence alone decides, as the controller's existence calls do; a differing size is only recorded."""
    cps = linear(1)
    listing = listing_for(*cps)
    listing[cps[1].files[0].object_path] = 7
    chain = compute_chain(index(*cps), listing)
    assert chain.state is ChainState.VALID and chain.problems == ()
    assert chain.mismatches == (SizeMismatch("c1", cps[1].files[0].object_path, 7, 100),)
    assert str(chain.mismatches[0]) == f"c1: {cps[1].files[0].object_path}: 7 bytes in the bucket, 100 in the index"


def test_index_size_zero_for_an_existing_object_is_valid() -> None:
    """The controller's own unit test: an index saying size 0 for an object that exists is a valid chain."""
    a = cp("a", size=0)
    chain = compute_chain(index(a), {a.files[0].object_path: 4096})
    assert chain.state is ChainState.VALID and len(chain.mismatches) == 1


def test_a_broken_chain_still_reports_its_size_mismatches() -> None:
    """A missing object breaks the chain; a resized one beside it stays a warning, named in `mismatches`."""
    cps = linear(2)
    listing = listing_for(*cps)
    del listing[cps[2].files[0].object_path]
    listing[cps[0].files[0].object_path] = 1
    chain = compute_chain(index(*cps), listing)
    assert chain.state is ChainState.BROKEN
    assert [p.problem for p in chain.problems] == ["missing"]
    assert [m.checkpoint for m in chain.mismatches] == ["c0"]
    assert chain.compact().mismatches == chain.mismatches


@given(st.integers(min_value=0, max_value=8), st.lists(st.integers(min_value=0, max_value=10**12), max_size=9))
def test_sizes_never_change_the_state(n: int, sizes: list[int]) -> None:
    """Any sizes in the listing (real ones or zero-length stand-ins) give the state that existence gives."""
    cps = linear(n)
    listing: dict[str, int | None] = dict(listing_for(*cps))
    for key, size in zip(sorted(listing), sizes, strict=False):
        listing[key] = size
    stand_ins = dict.fromkeys(listing)
    assert compute_chain(index(*cps), listing).state is compute_chain(index(*cps), stand_ins).state is ChainState.VALID


def test_unknown_size_only_proves_existence() -> None:
    """A zero-length stand-in (size None) counts as present with any size."""
    cps = linear(1)
    listing = dict.fromkeys(listing_for(*cps))
    assert compute_chain(index(*cps), listing).state is ChainState.VALID


def test_empty_object_path_counts_as_missing() -> None:
    """An empty objectPath is a missing object."""
    a = cp("a")
    bad = dataclasses.replace(a, files=(dataclasses.replace(a.files[0], object_path=""),))
    chain = compute_chain(index(bad), {})
    assert chain.state is ChainState.BROKEN and "empty objectPath" in str(chain.problems[0])


def test_blast_radius_skips_empty_backup_names() -> None:
    """referencedBy may hold "": it names no backup."""
    cps = (cp("a", refs=("", "b1")), cp("b", "a", refs=("",)))
    chain = compute_chain(index(*cps), {})
    assert chain.unrestorable == ("b1",)


def test_bytes_sum_every_member() -> None:
    """Chain bytes are the sum of every member's file sizes."""
    cps = (cp("a", size=1000, disks=2), cp("b", "a", size=10, disks=2))
    assert compute_chain(index(*cps)).bytes == 2020


ids = st.text(alphabet="abcde", min_size=1, max_size=2)
index_entries = st.lists(
    st.tuples(ids, st.one_of(st.just(""), ids), st.sampled_from(["Full", "Incremental", "x"])), max_size=12
)


@given(index_entries)
def test_walk_terminates_and_visits_each_id_once(entries: list[tuple[str, str, str]]) -> None:
    """Any parent graph (cycles, duplicates, dangling parents) walks in finite steps, ids unique."""
    cps = tuple(cp(i, p, type=t) for i, p, t in entries)
    members, _, _ = walk(cps)
    assert len({m.id for m in members}) == len(members)
    chain = compute_chain(index(*cps), listing_for(*cps))
    if chain.state is ChainState.VALID:
        assert chain.incrementals == chain.length - 1
        assert chain.root is not None and chain.root.is_full


@given(st.integers(min_value=0, max_value=40))
def test_linear_chains_count_their_incrementals(n: int) -> None:
    """A full plus n incrementals, all present, is valid with n incrementals."""
    cps = linear(n)
    chain = compute_chain(index(*cps), listing_for(*cps))
    assert chain.state is ChainState.VALID and chain.incrementals == n


def summary(chain: Chain) -> tuple[Any, ...]:
    """Everything a plan reads from a chain (the members aside), root and latest by their fields."""

    def head(c: Any) -> Any:
        return None if c is None else (c.id, c.type, c.is_full, c.parent, c.timestamp, c.vm_backup, c.referenced_by)

    return (
        chain.state,
        chain.valid,
        chain.length,
        chain.incrementals,
        chain.bytes,
        chain.last_full_at,
        head(chain.root),
        head(chain.latest),
        chain.detail,
        chain.problems,
        chain.mismatches,
        chain.unrestorable,
        chain.cycle,
        chain.dangling_parent,
    )


def test_compact_keeps_the_summary_and_drops_the_members() -> None:
    """The compact form keeps root and latest without their files; full != compact, compact forms compare."""
    cps = tuple(dataclasses.replace(c, files=files(c.id, disks=2)) for c in linear(29))  # 30 x 2 disks
    full = compute_chain(index(*cps), listing_for(*cps))
    compact = full.compact()
    assert full.has_members and not compact.has_members
    assert compact.members == () and summary(compact) == summary(full)
    assert compact.root is not None and compact.root.files == () and compact.root.id == "c0"
    assert compact.latest is not None and compact.latest.files == () and compact.latest.id == "c29"
    assert (compact.length, compact.bytes) == (30, 6000)
    assert compact != full and compact == compute_chain(index(*cps), listing_for(*cps)).compact()
    assert compact.compact() is compact
    # A one-member chain's root is its latest: one object in either form.
    single = compute_chain(index(*linear(0))).compact()
    assert single.root is single.latest


def test_summary_follows_members_on_replace() -> None:
    """The stored summary is derived from members, so replacing them cannot leave it stale."""
    cps = linear(5)
    chain = dataclasses.replace(compute_chain(index(*cps)), members=cps[:2])
    assert (chain.length, chain.bytes, chain.latest) == (2, 200, cps[1])
    assert Chain(ChainState.NO_INDEX).compact() == Chain(ChainState.NO_INDEX)


@given(index_entries, st.integers(min_value=1, max_value=3), st.sampled_from(["none", "all", "drop"]), st.integers())
def test_compact_answers_every_summary_property_alike(
    entries: list[tuple[str, str, str]], disks: int, listed: str, drop: int
) -> None:
    """For any index and listing, the compact chain answers as the full one, and compacting twice is a no-op."""
    cps = tuple(cp(i, p, type=t, disks=disks, size=7 * len(i) + len(p)) for i, p, t in entries)
    listing = None if listed == "none" else listing_for(*cps)
    if listed == "drop" and listing:
        del listing[sorted(listing)[drop % len(listing)]]
    chain = compute_chain(index(*cps), listing)
    compact = chain.compact()
    assert summary(compact) == summary(chain)
    assert compact.members == () and compact.has_members == (chain.length == 0)
    assert compact.compact() == compact
    assert chain.has_members and chain.length == len(chain.members)
