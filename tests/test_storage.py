"""What a VM folder holds (design 10), measured from the chain check's own index and listing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.chain import compute_chain
from reconciler.core.model import NO_INDEX, ChainState, Checkpoint, Unreadable
from reconciler.core.storage import Storage, held_past_ttl, is_index_key
from tests.builders import T0, cp, index, linear, listing_for

INDEX_KEY = "checkpoints/ns/vm/index.json"


def with_meta(c: Checkpoint) -> Checkpoint:
    """The checkpoint as the uploader writes it: its vmb.json and vmbt.json named by the entry."""
    base = f"checkpoints/ns/vm/{c.id}"
    return replace(c, vmb_object_path=f"{base}/vmb.json", vmbt_object_path=f"{base}/vmbt.json")


def folder(*checkpoints: Checkpoint, meta: int = 10, index_size: int = 500) -> dict[str, int | None]:
    """Every object of the checkpoints (data files at their index size, metadata at `meta` bytes), and the index."""
    out: dict[str, int | None] = dict(listing_for(*checkpoints))
    for c in checkpoints:
        for path in (c.vmb_object_path, c.vmbt_object_path):
            if path:
                out[path] = meta
    out[INDEX_KEY] = index_size
    return out


def storage_of(*checkpoints: Checkpoint, listing: dict[str, int | None]) -> Storage:
    chain = compute_chain(index(*checkpoints), listing)
    assert chain.storage is not None
    return chain.storage


def test_one_chain_holds_the_folder_but_its_metadata() -> None:
    """A folder with one chain: its data files are the chain, nothing lies outside, nothing leaked."""
    cps = tuple(with_meta(c) for c in linear(2))
    s = storage_of(*cps, listing=folder(*cps))
    assert (s.chain_bytes, s.folder_bytes, s.outside_bytes) == (300, 300 + 6 * 10 + 500, 0)
    assert (s.leaked_objects, s.leaked_bytes, s.unreferenced, s.partial) == (0, 0, 0, False)


def test_an_older_chain_lies_outside_the_current_one() -> None:
    """A full and its incremental kept for retention, then a newer full: the old pair is outside."""
    old = tuple(with_meta(c) for c in linear(1, prefix="o"))
    new = with_meta(cp("n0", at=T0 + timedelta(days=5)))
    s = storage_of(*old, new, listing=folder(*old, new))
    assert s.chain_bytes == 100
    assert s.outside_bytes == 200 + 4 * 10  # the old chain's data files and its metadata
    assert s.leaked_objects == 0


def test_an_object_no_entry_names_is_leaked() -> None:
    """An object in the folder that no entry names is leaked, with its bytes, and lies outside the chain."""
    cps = linear(1)
    listing = folder(*cps) | {"checkpoints/ns/vm/gone/gone-d0.qcow2": 4096}
    s = storage_of(*cps, listing=listing)
    assert (s.leaked_objects, s.leaked_bytes, s.outside_bytes) == (1, 4096, 4096)


def test_entries_without_a_reference_are_counted() -> None:
    """An entry whose referencedBy is empty or holds only "" is unreferenced."""
    cps = (cp("c0", refs=()), cp("c1", "c0", refs=("",)), cp("c2", "c1"))
    assert storage_of(*cps, listing=folder(*cps)).unreferenced == 2


def test_a_stand_in_takes_the_index_size_and_an_unknown_size_makes_it_partial() -> None:
    """Stand-ins of data files count at the index's size; a stand-in the index does not size is partial."""
    cps = tuple(with_meta(c) for c in linear(1))
    listing: dict[str, int | None] = dict.fromkeys(folder(*cps))
    listing[INDEX_KEY] = 500  # the index is the real document
    s = storage_of(*cps, listing=listing)
    assert (s.chain_bytes, s.folder_bytes, s.partial) == (200, 700, True)
    exact = storage_of(*linear(1), listing=dict.fromkeys(listing_for(*linear(1))))
    assert (exact.chain_bytes, exact.partial) == (200, False)


def test_the_bucket_size_wins_over_the_index() -> None:
    """A listed size that differs from the index's is what the folder holds."""
    cps = linear(0)
    s = storage_of(*cps, listing={cps[0].files[0].object_path: 7})
    assert (s.chain_bytes, s.folder_bytes) == (7, 7)


def test_a_missing_member_object_holds_no_bytes() -> None:
    """A broken chain is measured too: its missing objects hold nothing."""
    cps = linear(2)
    listing = folder(*cps)
    del listing[cps[1].files[0].object_path]
    chain = compute_chain(index(*cps), listing)
    assert chain.state is ChainState.BROKEN and chain.storage is not None
    assert chain.storage.chain_bytes == 200


def test_no_listing_no_figures() -> None:
    """Without a listing, or without a chain whose root is a full, storage is absent, never zero."""
    cps = linear(1)
    assert compute_chain(index(*cps)).storage is None
    assert compute_chain(NO_INDEX, {}).storage is None
    assert compute_chain(Unreadable("x"), {}).storage is None
    assert compute_chain(index(cp("i", "gone")), folder(cp("i", "gone"))).storage is None
    assert compute_chain(index(), {}).storage is None


def test_compact_chains_keep_their_storage() -> None:
    """The summary a large plan keeps still holds the storage figures."""
    cps = linear(2)
    chain = compute_chain(index(*cps), folder(*cps))
    assert chain.compact().storage == chain.storage is not None


def test_only_members_a_newer_live_backup_needs_are_held_past_the_ttl() -> None:
    """Members older than the cutoff count while a newer member is within it; a wholly old chain expires."""
    cps = linear(4)  # finished T0+12m, +1d, +2d, +3d, +4d
    s = storage_of(*cps, listing=folder(*cps))
    ttl = timedelta(days=3)
    assert held_past_ttl(s, now=T0 + timedelta(days=5, hours=1), ttl=ttl) == 300  # c0-c2, needed by c3, c4
    assert held_past_ttl(s, now=T0 + ttl, ttl=ttl) == 0  # nothing is past the TTL
    assert held_past_ttl(s, now=T0 + timedelta(days=12), ttl=ttl) == 0  # all expire: nothing holds them
    assert held_past_ttl(s, now=datetime(1, 1, 2, tzinfo=UTC), ttl=ttl) == 0  # a cutoff before year 1


def test_the_index_key_is_recognised() -> None:
    assert is_index_key(INDEX_KEY)
    assert not is_index_key("checkpoints/ns/vm/c0/index.json")


# --- properties ------------------------------------------------------------------------------

sizes = st.integers(min_value=0, max_value=10**12)
Case = tuple[tuple[Checkpoint, ...], dict[str, int | None]]


@st.composite
def folders(draw: st.DrawFn) -> Case:
    """A chain of 1-6 members, an older chain, leaked objects, and a listing that drops some objects."""
    n = draw(st.integers(0, 5))
    cps = [
        with_meta(replace(c, files=tuple(replace(f, size=draw(sizes)) for f in c.files)))
        for c in (*linear(draw(st.integers(0, 3)), prefix="o"), *linear(n, start=T0 + timedelta(days=9)))
    ]
    listing = folder(*cps, meta=draw(sizes), index_size=draw(sizes))
    for key in draw(st.lists(st.sampled_from(sorted(listing)), max_size=3)):
        listing.pop(key, None)
    for i in range(draw(st.integers(0, 2))):
        listing[f"checkpoints/ns/vm/leak/{i}"] = draw(sizes)
    return tuple(cps), listing


@given(folders())
def test_chain_outside_and_metadata_add_up_to_the_folder(case: Case) -> None:
    """With every size known: chain + outside + the chain's metadata and index = folder."""
    cps, listing = case
    chain = compute_chain(index(*cps), listing)
    s = chain.storage
    assert s is not None and not s.partial
    metadata = {p for m in chain.members for p in (m.vmb_object_path, m.vmbt_object_path)} | {INDEX_KEY}
    meta_bytes = sum(v or 0 for k, v in listing.items() if k in metadata)
    assert s.chain_bytes + s.outside_bytes + meta_bytes == s.folder_bytes == sum(v or 0 for v in listing.values())
    assert 0 <= s.leaked_bytes <= s.outside_bytes


@given(folders(), st.integers(-20, 40), st.integers(0, 40))
def test_past_ttl_never_exceeds_the_chain(case: Case, days: int, ttl_days: int) -> None:
    """Bytes held past any TTL are bytes of the current chain."""
    cps, listing = case
    s = compute_chain(index(*cps), listing).storage
    assert s is not None
    held = held_past_ttl(s, now=T0 + timedelta(days=days), ttl=timedelta(days=ttl_days))
    assert 0 <= held <= s.chain_bytes


@given(folders())
def test_unknown_sizes_make_the_figures_partial_lower_bounds(case: Case) -> None:
    """Hiding every size (stand-ins) never raises a figure, and is partial once metadata is hidden."""
    cps, listing = case
    known = compute_chain(index(*cps), listing).storage
    hidden = compute_chain(index(*cps), dict.fromkeys(listing)).storage
    assert known is not None and hidden is not None
    assert hidden.folder_bytes <= known.folder_bytes and hidden.chain_bytes == known.chain_bytes
    assert hidden.partial == any(not k.endswith(".qcow2") for k in listing)
    assert hidden.leaked_objects == known.leaked_objects
