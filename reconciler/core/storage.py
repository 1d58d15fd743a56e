"""What a VM's folder holds (design 10), from the index and the listing the chain check already read.

No request of its own: `measure` reads the same `Listing` (relative key -> size, None where a
stand-in hides it) and the same `Index` as `compute_chain`. Sizes come from the listing; where a
stand-in hides one, from the index's `files[].size` for the objects the index names (design 8); an
object whose size neither knows (a stand-in of a vmb.json, or of a leaked object) counts as 0
bytes and makes the figures `partial`: a lower bound.

The folder splits in three: the current chain's data files (`chain_bytes`, what a restore of the
latest backup reads), the chain's own metadata (the index and its members' vmb.json and vmbt.json,
small and counted in neither of the other two), and everything else (`outside_bytes`: older
chains kept for retention, or leaked). Hence chain + outside + metadata = folder.

Held past the TTL depends on the plan's instant and the Schedule's TTL, which a source does not
know, so the summary keeps the (finish time, bytes) of each chain member packed in 16 bytes each
(a 30-member chain: 480 bytes, against about 2 KB as a tuple of tuples) and `held_past_ttl`
answers for any cutoff.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from reconciler.core.model import Checkpoint, Index

_PAIR = struct.Struct("<qq")  # finish time (microseconds since the epoch), bytes
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INDEX_NAME = "index.json"


@dataclass(frozen=True, slots=True)
class Storage:
    """Bytes and findings of one VM folder; every figure from the listing and the index."""

    chain_bytes: int  # data files of the current chain present in the folder
    folder_bytes: int  # every object of the folder
    outside_bytes: int  # objects no member of the current chain names (the index aside)
    leaked_objects: int  # objects no index entry names
    leaked_bytes: int
    unreferenced: int  # index entries whose referencedBy is empty (or holds only "")
    partial: bool  # some object's size was known neither to the listing nor to the index
    ages: bytes = b""  # packed (finish time µs, bytes) of each chain member with a timestamp, root first

    def members(self) -> list[tuple[int, int]]:
        """(finish time in µs since the epoch, bytes) of each timed chain member, root first."""
        return list(_PAIR.iter_unpack(self.ages))


def _micros(at: datetime) -> int:
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def is_index_key(key: str) -> bool:
    """`checkpoints/<ns>/<vm>/index.json`: the VM's index itself, not an object of a checkpoint."""
    parts = key.split("/")
    return len(parts) == 4 and parts[3] == INDEX_NAME


def _metadata(checkpoints: tuple[Checkpoint, ...]) -> set[str]:
    return {p for c in checkpoints for p in (c.vmb_object_path, c.vmbt_object_path) if p}


def measure(index: Index, members: tuple[Checkpoint, ...], listing: Mapping[str, int | None]) -> Storage:
    """The folder's bytes split by the current chain (`members`, root first) and its findings."""
    index_sizes = {f.object_path: f.size for c in index.checkpoints for f in c.files}
    named = index_sizes.keys() | _metadata(index.checkpoints)
    member_files = {f.object_path for m in members for f in m.files}
    member_meta = _metadata(members)
    sizes: dict[str, int] = {}
    folder = outside = leaked_objects = leaked_bytes = 0
    partial = False
    for key, listed in listing.items():
        size = listed if listed is not None else index_sizes.get(key)
        if size is None:
            partial, size = True, 0
        sizes[key] = size
        folder += size
        if key in member_files:
            continue
        index_itself = is_index_key(key)
        if key not in member_meta and not index_itself:
            outside += size
        if key not in named and not index_itself:
            leaked_objects += 1
            leaked_bytes += size
    ages = bytearray()
    chain = 0
    counted: set[str] = set()  # an object two members name is counted once, for the older one
    for m in members:
        held = 0
        for f in m.files:
            if f.object_path not in counted:
                counted.add(f.object_path)
                held += sizes.get(f.object_path, 0)
        chain += held
        if m.timestamp is not None:
            ages += _PAIR.pack(_micros(m.timestamp), held)
    unreferenced = sum(1 for c in index.checkpoints if not any(c.referenced_by))
    return Storage(chain, folder, outside, leaked_objects, leaked_bytes, unreferenced, partial, bytes(ages))


def held_past_ttl(storage: Storage, *, now: datetime, ttl: timedelta) -> int:
    """Bytes of chain members finished before `cutoff` that a newer member finished since still needs.

    A backup older than its TTL expires, but the checkpoint it made cannot go while a newer backup
    of the same chain (one not yet expired) builds on it: those bytes are what an unbounded chain
    costs beyond the retention asked for. Members without a timestamp are counted in neither role.
    The cutoff (`now - ttl`) is taken in integer microseconds: it may lie before year 1.
    """
    limit = _micros(now) - (ttl // timedelta(microseconds=1))
    held = 0
    newer_alive = False
    for finished, size in reversed(storage.members()):
        if finished >= limit:
            newer_alive = True
        elif newer_alive:
            held += size
    return held
