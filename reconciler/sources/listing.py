"""Which key prefixes to list for a set of VMs, and a listing cut back into VM folders.

S3 lists keys in UTF-8 binary order (for `str`, code point order), a thousand per request. For a
handful of VMs, one LIST per VM folder is cheapest; for more, their folders are cut into a few
disjoint prefixes (`partition`), each listed once and read as one batch (`sources.chains`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby

from reconciler.core.chain import Listing
from reconciler.core.model import Bsl, VMKey
from reconciler.errors import SourceError

# Up to this many VMs, one LIST per VM folder is cheaper than listing their common folder.
PER_VM_LISTING_MAX = 8
# Parts read at once (each a sequential chain of pages): a quarter of the GET concurrency, at most
# this many. Real object stores take 100 ms and more per 1,000-key page.
LISTING_STREAMS_MAX = 4
# A listed part holds at least this many requested VMs (each part may end on a partial page).
PART_VMS_MIN = 100


class UnorderedListingError(SourceError):
    """The endpoint listed a key that sorts before one it had already listed."""


def _vm_of(key: str) -> VMKey | None:
    """`checkpoints/<ns>/<vm>/...` -> (ns, vm)."""
    parts = key.split("/", 3)
    return (parts[1], parts[2]) if len(parts) == 4 and parts[0] == "checkpoints" else None


def group_listing(objects: Iterable[tuple[str, int]]) -> Iterator[tuple[VMKey, Listing]]:
    """Consecutive keys of one VM folder become one listing.

    S3 lists keys in UTF-8 binary order (for `str`, code point order). Keys that share a prefix
    are contiguous in any such order, so each VM folder `checkpoints/<ns>/<vm>/` is one run of the
    listing whatever its names hold: `a b/`, `a+b/`, `a-b/`, `a/`, `ab/`, `é/` each come whole,
    one after the other. A folder is yielded once the first key after it arrives (or the listing
    ends), so it is complete. An endpoint that does not list in order (S3 directory buckets
    don't) would split folders: a key sorting before its predecessor raises
    `UnorderedListingError` instead.
    """
    previous = ""
    current: VMKey | None = None
    folder = "\0"  # the current VM's folder; no key starts with it before the first VM
    items: dict[str, int | None] = {}
    for key, size in objects:
        if key < previous:
            raise UnorderedListingError(f"the listing is not in order: {key!r} came after {previous!r}")
        previous = key
        if key.startswith(folder):
            items[key] = size
            continue
        vm = _vm_of(key)
        if current is not None:
            yield current, items
        current, items = vm, {}
        if vm is not None:
            folder = f"checkpoints/{vm[0]}/{vm[1]}/"
            items[key] = size
        else:
            folder = "\0"
    if current is not None:
        yield current, items


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


@dataclass(frozen=True)
class Part:
    """A key prefix to list, and the requested VM folders under it (sorted)."""

    prefix: str
    folders: tuple[str, ...]

    @property
    def own(self) -> bool:
        """The prefix is one VM's own folder: its listing is that VM's whole folder, nothing else."""
        return self.folders == (self.prefix,)


def partition(folders: Sequence[str], size: int) -> list[Part]:
    """Disjoint key prefixes covering `folders` (sorted, distinct), in order, at most `size` each.

    A group of folders is listed under its longest common prefix; a group over `size` is split
    by the character that follows that prefix, so sibling prefixes never overlap and no key is
    listed twice. Folders of VMs nobody asked for are listed only where they share a prefix
    with requested ones.
    """
    out: list[Part] = []
    todo: list[Sequence[str]] = [folders] if folders else []
    while todo:
        group = todo.pop()
        common = _common_prefix(group[0], group[-1])
        if len(group) <= size or len(group) == 1:
            out.append(Part(common, tuple(group)))
            continue
        # Folders are distinct and none is a prefix of another (each ends its one "/" deeper),
        # so every one of them is longer than `common`. Pushed in reverse: popped in order.
        todo.extend(reversed([list(g) for _, g in groupby(group, key=lambda f: f[len(common)])]))
    return out


def listing_plan(bsl: Bsl, vms: Iterable[VMKey], concurrency: int) -> tuple[list[Part], int]:
    """The parts `read_chains` lists for these VMs, and how many it reads at once.

    Up to PER_VM_LISTING_MAX VMs, each VM's own folder is a part of its own (listed only if its
    index needs it); more, about four parts per stream, each of at least PART_VMS_MIN VMs.
    """
    folders = sorted({bsl.vm_prefix(vm) for vm in vms})
    streams = max(1, min(LISTING_STREAMS_MAX, concurrency // 4))
    if len(folders) <= PER_VM_LISTING_MAX:
        return [Part(f, (f,)) for f in folders], streams
    size = max(PART_VMS_MIN, math.ceil(len(folders) / (4 * streams)))
    return partition(folders, size), streams
