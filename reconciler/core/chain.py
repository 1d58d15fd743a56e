"""Index (+ optional listing) -> Chain, mirroring how the controller validates a chain (design 2.3).

latest = the last entry of the list (not the newest timestamp); the chain is the parent walk
from it, stopping at an entry without a parent, on a cycle, or on a parent id not in the list.
Valid only if the root is a full and, when a listing is given, every objectPath of every member
exists. Existence only, as the controller checks it (one existence call per object, sizes never
compared): a listed size that differs from the index is kept as a `SizeMismatch`, a warning that
never changes the chain's state.

With a listing, the chain also carries what the VM folder holds (`Storage`, design 10). Only a chain
whose root is a full is measured: the live source lists no other folder, and an offline plan must
show the same figures, so a root that is not a full (like an unreadable or missing index) has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from reconciler.core.model import (
    ChainState,
    Checkpoint,
    FetchFailed,
    Index,
    IndexResult,
    NoIndex,
    Unreadable,
)
from reconciler.core.storage import Storage, measure

# Relative key -> size in bytes, or None where the source cannot tell (zero-length stand-ins).
Listing = Mapping[str, int | None]


@dataclass(frozen=True)
class Problem:
    """One object of a chain member that makes the chain unrestorable."""

    checkpoint: str
    object_path: str
    problem: str  # "missing", "empty objectPath"

    def __str__(self) -> str:
        return f"{self.checkpoint}: {self.object_path or '<empty>'}: {self.problem}"


@dataclass(frozen=True)
class SizeMismatch:
    """An object that exists with another size than the index records: worth a look, never a full."""

    checkpoint: str
    object_path: str
    bucket_size: int
    index_size: int

    def __str__(self) -> str:
        return (
            f"{self.checkpoint}: {self.object_path}: {self.bucket_size} bytes in the bucket, "
            f"{self.index_size} in the index"
        )


@dataclass(frozen=True, slots=True)  # slots: a __dict__ would add ~1/5 to a compact chain
class Chain:
    """A VM's chain: its state, and either every member (`compute_chain`) or only a summary (`compact`).

    The summary (length, bytes, full_bytes, root, latest) is stored, derived from `members` whenever they are
    given, so a full chain and its compact form answer every summary property alike. Only explain
    reads every member; a plan over thousands of VMs keeps the compact form instead (30 members of
    2 disks: about 1 KB retained instead of 36-47 KB).
    """

    state: ChainState
    members: tuple[Checkpoint, ...] = ()  # root first, latest last; () in the compact form
    detail: str = ""
    problems: tuple[Problem, ...] = ()
    mismatches: tuple[SizeMismatch, ...] = ()  # warnings only; kept in the compact form too
    unrestorable: tuple[str, ...] = ()  # Velero backups that can no longer be restored
    cycle: bool = False
    dangling_parent: str = ""  # the parent id the walk could not find
    error_code: str = ""  # UNKNOWN only: the decision's reason code ("" = index-fetch-failed)
    # What the VM folder holds (design 10); None where no listing was read: absence is not evidence.
    storage: Storage | None = None
    # Summary: derived from `members` when given (so `replace` keeps it consistent), else as passed.
    length: int = 0
    bytes: int = 0
    full_bytes: int = 0  # the root's files: the growth policy's yardstick (design 4.3)
    root: Checkpoint | None = None
    latest: Checkpoint | None = None

    def __post_init__(self) -> None:
        if self.members:
            object.__setattr__(self, "length", len(self.members))
            object.__setattr__(self, "bytes", sum(m.bytes for m in self.members))
            object.__setattr__(self, "full_bytes", self.members[0].bytes)
            object.__setattr__(self, "root", self.members[0])
            object.__setattr__(self, "latest", self.members[-1])

    @property
    def has_members(self) -> bool:
        """Every member is kept (always true of a chain with none)."""
        return len(self.members) == self.length

    @property
    def incrementals(self) -> int:
        return max(self.length - 1, 0)

    @property
    def incremental_bytes(self) -> int:
        """Bytes of the members after the root: what the growth policy weighs against `full_bytes`."""
        return self.bytes - self.full_bytes

    @property
    def last_full_at(self) -> datetime | None:
        root = self.root
        return root.timestamp if root is not None and root.is_full else None

    @property
    def valid(self) -> bool:
        return self.state is ChainState.VALID

    def compact(self) -> Chain:
        """This chain without its members: root and latest stay, without their data files.

        Nothing outside explain reads a member's files; the summary already holds their bytes.
        Compact chains compare equal when their summaries, states and findings do; a chain with
        members never equals its compact form, but `full.compact() == compact`.
        """
        root = _without_files(self.root)
        latest = root if self.latest is self.root else _without_files(self.latest)
        if not self.members and root is self.root and latest is self.latest:
            return self
        return replace(self, members=(), root=root, latest=latest)


def _without_files(checkpoint: Checkpoint | None) -> Checkpoint | None:
    if checkpoint is None or not checkpoint.files:
        return checkpoint
    return replace(checkpoint, files=())


def walk(checkpoints: tuple[Checkpoint, ...]) -> tuple[tuple[Checkpoint, ...], bool, str]:
    """Parent walk from the last entry: (members root-first, stopped on a cycle, dangling parent)."""
    if not checkpoints:
        return (), False, ""
    # Duplicate ids: a later entry wins the lookup, as a Go map filled in list order would.
    by_id = {c.id: c for c in checkpoints}
    current = checkpoints[-1]
    seen = {current.id}
    path = [current]
    while current.parent:
        parent = by_id.get(current.parent)
        if parent is None:
            return tuple(reversed(path)), False, current.parent
        if parent.id in seen:
            return tuple(reversed(path)), True, ""
        seen.add(parent.id)
        path.append(parent)
        current = parent
    return tuple(reversed(path)), False, ""


def verify(members: tuple[Checkpoint, ...], listing: Listing) -> tuple[Problem, ...]:
    """Every data file of every member against the listing (keys relative to the datamover prefix).

    Existence only: an object that is listed is present whatever its size (see `size_mismatches`).
    """
    problems: list[Problem] = []
    for member in members:
        for f in member.files:
            if not f.object_path:
                problems.append(Problem(member.id, "", "empty objectPath"))
            elif f.object_path not in listing:
                problems.append(Problem(member.id, f.object_path, "missing"))
    return tuple(problems)


def size_mismatches(members: tuple[Checkpoint, ...], listing: Listing) -> tuple[SizeMismatch, ...]:
    """Listed objects whose size differs from the index's; unknown sizes (None) are not compared."""
    out: list[SizeMismatch] = []
    for member in members:
        for f in member.files:
            size = listing.get(f.object_path) if f.object_path else None
            if size is not None and size != f.size:
                out.append(SizeMismatch(member.id, f.object_path, size, f.size))
    return tuple(out)


def blast_radius(members: tuple[Checkpoint, ...], first_bad: int) -> tuple[str, ...]:
    """Velero backups referencing a member at or after the break: restoring any needs the break."""
    names = {ref for m in members[first_bad:] for ref in m.referenced_by if ref}
    return tuple(sorted(names))


def compute_chain(result: IndexResult, listing: Listing | None = None) -> Chain:
    """The chain state the controller would see; `listing=None` skips object verification."""
    if isinstance(result, NoIndex):
        return Chain(ChainState.NO_INDEX, detail="no index.json for this VM")
    if isinstance(result, Unreadable):
        return Chain(ChainState.UNREADABLE, detail=result.reason)
    if isinstance(result, FetchFailed):
        return Chain(ChainState.UNKNOWN, detail=result.reason, error_code=result.code)
    assert isinstance(result, Index)
    if not result.checkpoints:
        return Chain(ChainState.EMPTY, detail="index.json lists no checkpoints")
    members, cycle, dangling = walk(result.checkpoints)
    root = members[0]
    if not root.is_full:
        why = (
            f"parent walk stopped on a cycle at {root.id}"
            if cycle
            else f"parent {dangling!r} of {root.id} is not in the index"
            if dangling
            else f"root {root.id} is of type {root.type!r}, not a full"
        )
        return Chain(
            ChainState.ROOT_NOT_FULL,
            members,
            detail=why,
            unrestorable=blast_radius(members, 0),
            cycle=cycle,
            dangling_parent=dangling,
        )
    if listing is None:
        return Chain(ChainState.VALID, members)
    problems = verify(members, listing)
    mismatches = size_mismatches(members, listing)
    storage = measure(result, members, listing)
    if problems:
        bad_ids = {p.checkpoint for p in problems}
        first_bad = next(i for i, m in enumerate(members) if m.id in bad_ids)
        return Chain(
            ChainState.BROKEN,
            members,
            detail=f"{len(problems)} object(s) of the chain missing, first at {members[first_bad].id}",
            problems=problems,
            mismatches=mismatches,
            unrestorable=blast_radius(members, first_bad),
            storage=storage,
        )
    return Chain(ChainState.VALID, members, mismatches=mismatches, storage=storage)
