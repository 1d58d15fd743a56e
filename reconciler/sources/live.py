"""The live source: the cluster through `Kube`, each BSL's bucket through `BucketReader`.

Chains are verified against listings of the bucket, never one HEAD per object: ListObjectsV2
returns a thousand keys with their sizes per request. Index GETs run in a bounded pool while the
VMs' part of the datamover's `checkpoints/` tree is listed, split into a few disjoint key
prefixes listed side by side; each VM is verified as soon as its folder has been listed and its
index parsed. Memory holds the parsed indexes (they become the chains), the documents in flight
and a bounded number of listed folders, never the whole listing.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, Protocol

from reconciler.core.chain import Chain, Listing, compute_chain, walk
from reconciler.core.controller import Upstream
from reconciler.core.index import parse_index
from reconciler.core.model import NO_INDEX, Bsl, ChainState, FetchFailed, Index, IndexResult, VMKey
from reconciler.errors import NotFoundError, SourceError
from reconciler.sources.base import World, world_from_raw
from reconciler.sources.kube import Kube
from reconciler.sources.s3 import BucketReader
from reconciler.sources.upstream import (
    ControllerOptions,
    live_getter,
    read_limit,
    read_trackers,
    recorded_deployment,
)

DEFAULT_SECRET, DEFAULT_KEY = "cloud-credentials", "cloud"
# Up to this many VMs, one LIST per VM folder is cheaper than listing their common folder.
PER_VM_LISTING_MAX = 8
# Listings in flight at once (each a sequential chain of pages): a quarter of the GET concurrency,
# at most this many. Real object stores take 100 ms and more per 1,000-key page.
LISTING_STREAMS_MAX = 4
# A listed part holds at least this many requested VMs (each part may end on a partial page).
PART_VMS_MIN = 100
# Listed VM folders waiting for the verification, and, of those, waiting for their index.
LISTING_AHEAD = 64
LISTING_STASH = 256
# Index GETs sent ahead of the listing (in listing order), beyond those of folders already listed.
# Each parsed index waits in memory until its folder is listed: this bounds them, by count and by
# the checkpoints they hold (about 1.3 KB each once parsed), so long chains get a shorter window:
# 512 indexes of 30 checkpoints, 100 of 300. Until the first indexes are in, GETS_AHEAD_MIN.
GETS_AHEAD = 512
GETS_AHEAD_MIN = 32
CHECKPOINTS_AHEAD = 30_000

ReaderFactory = Callable[[Bsl, str | None], BucketReader]


def senders(concurrency: int) -> int:
    """Threads that may send to one bucket at once: the index GETs and the listings."""
    return max(1, concurrency) + LISTING_STREAMS_MAX


class Recorder(Protocol):
    """Receives what the live source read, so `snapshot` can write it to disk."""

    def objects(self, raw: list[dict[str, Any]]) -> None: ...
    def index(self, bsl: Bsl, vm: VMKey, data: bytes | None) -> None: ...
    def listing(self, bsl: Bsl, vm: VMKey, listing: Listing) -> None: ...


def _vm_of(key: str) -> VMKey | None:
    """`checkpoints/<ns>/<vm>/...` -> (ns, vm)."""
    parts = key.split("/", 3)
    return (parts[1], parts[2]) if len(parts) == 4 and parts[0] == "checkpoints" else None


class UnorderedListingError(SourceError):
    """The endpoint listed a key that sorts before one it had already listed."""


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


class LiveSource:
    """`keep_members`: chains keep every member (explain prints them); a plan keeps `Chain.compact()`
    summaries, about 1 KB per VM instead of some 40 KB for a chain of 30 x 2 objects."""

    def __init__(self, kube: Kube, *, velero_namespace: str, concurrency: int,
                 reader_factory: ReaderFactory, recorder: Recorder | None = None, keep_members: bool = False,
                 controller: ControllerOptions | None = None) -> None:
        self.kube = kube
        self.controller = controller or ControllerOptions()
        self.keep_members = keep_members
        self.recorder = recorder
        self.velero_namespace = velero_namespace
        self.concurrency = max(1, concurrency)
        self.reader_factory = reader_factory
        self.readers: list[BucketReader] = []

    def load(self) -> World:
        ns = self.velero_namespace
        objects = [*self.kube.list_velero("schedules", ns), *self.kube.list_velero("backupstoragelocations", ns)]
        world = world_from_raw(objects, velero_namespace=ns)
        # The controller's global limit (one or two GETs) and its trackers (one paged list).
        limit, deployment, limit_errors = read_limit(live_getter(self.kube.get_deployment), self.controller,
                                                     velero_namespace=ns)
        trackers, tracker_objects, tracker_errors = read_trackers(self.kube.list_trackers)
        if self.recorder is None:
            vms = world_from_raw(self.kube.list_vms(), velero_namespace=ns)  # parsed page by page
        else:
            raw_vms = list(self.kube.list_vms())
            controller = [recorded_deployment(deployment)] if deployment is not None else []
            self.recorder.objects([*objects, *controller, *tracker_objects, *raw_vms])
            vms = world_from_raw(raw_vms, velero_namespace=ns)
        return World(world.schedules, world.bsls, vms.vms, (*world.errors, *vms.errors, *limit_errors, *tracker_errors),
                     Upstream(limit, trackers))

    def credentials(self, bsl: Bsl) -> str | None:
        """The BSL's credentials file; Velero's default Secret when the BSL names none."""
        name = bsl.credential_name or DEFAULT_SECRET
        key = bsl.credential_key or DEFAULT_KEY
        try:
            value = self.kube.secret_value(bsl.namespace, name, key)
        except NotFoundError:
            value = None
        if value is None and bsl.credential_name:
            raise SourceError(f"BSL {bsl.namespace}/{bsl.name}: key {key!r} of Secret {bsl.namespace}/{name} not found")
        return value

    def reader(self, bsl: Bsl) -> BucketReader:
        reader = self.reader_factory(bsl, self.credentials(bsl))
        self.readers.append(reader)
        return reader

    def chains(self, bsl: Bsl, vms: Sequence[VMKey]) -> Mapping[VMKey, Chain]:
        try:
            reader = self.reader(bsl)
        except SourceError as exc:
            return {vm: Chain(ChainState.UNKNOWN, detail=str(exc)) for vm in vms}
        return read_chains(reader, bsl, vms, concurrency=self.concurrency, recorder=self.recorder,
                           members=self.keep_members)

    def close(self) -> None:
        for reader in self.readers:  # kept, so their request counts can still be reported
            reader.close()

    def stats(self) -> dict[str, object]:
        return {"kubernetes": dict(self.kube.calls), "s3": self.s3_stats()}

    def s3_stats(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for reader in self.readers:
            for op, n in reader.stats().items():
                total[op] = total.get(op, 0) + n
        return total


def _needs_listing(result: IndexResult) -> bool:
    """Only a parsed index whose walk ends at a full has objects worth verifying."""
    if not isinstance(result, Index) or not result.checkpoints:
        return False
    members, _, _ = walk(result.checkpoints)
    return members[0].is_full


def _index(reader: BucketReader, bsl: Bsl, vm: VMKey, recorder: Recorder | None) -> IndexResult:
    try:
        data = reader.get_index(vm)
    except SourceError as exc:
        return FetchFailed(str(exc))
    if recorder is not None:
        recorder.index(bsl, vm, data)
    if data is None:
        return NO_INDEX
    return parse_index(data)


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
    """The parts `read_chains` lists for these VMs, and how many it lists at once."""
    folders = sorted({bsl.vm_prefix(vm) for vm in vms})
    streams = max(1, min(LISTING_STREAMS_MAX, concurrency // 4))
    size = max(PART_VMS_MIN, math.ceil(len(folders) / (4 * streams)))
    return partition(folders, size), streams


# ------------------------------------------------------------------------------- listing


@dataclass(frozen=True)
class _Folder:
    vm: VMKey
    listing: Listing


@dataclass(frozen=True)
class _PartEnd:
    part: Part
    error: Exception | None = None


class _Lister:
    """Lists parts in `streams` threads, each part's folders in order; one consumer iterates the events.

    Every part ends with a `_PartEnd` (carrying the error that stopped it, if any). A part stops
    after its last requested folder. Leaving the `with` block stops the threads after their
    current request.
    """

    def __init__(self, reader: BucketReader, bsl: Bsl, parts: list[Part], streams: int) -> None:
        self._reader, self._bsl = reader, bsl
        self._parts = iter(parts)
        self._left = len(parts)
        self._lock = threading.Lock()
        self._queue: queue.Queue[_Folder | _PartEnd] = queue.Queue(LISTING_AHEAD)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"bucket-listing-{i}", daemon=True)
                         for i in range(min(streams, len(parts)))]
        for t in self._threads:
            t.start()

    def _put(self, item: _Folder | _PartEnd) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                part = next(self._parts, None)
            if part is None:
                return
            last = part.folders[-1]
            try:
                for vm, listing in group_listing(self._reader.iter_objects(part.prefix)):
                    if not self._put(_Folder(vm, listing)):
                        return
                    if self._bsl.vm_prefix(vm) >= last:
                        break
            except Exception as exc:  # noqa: BLE001 - every error goes to the consumer, who decides
                self._put(_PartEnd(part, exc))
                continue
            self._put(_PartEnd(part))

    def __iter__(self) -> Iterator[_Folder | _PartEnd]:
        while self._left:
            item = self._queue.get()
            if isinstance(item, _PartEnd):
                self._left -= 1
            yield item

    def __enter__(self) -> _Lister:
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


# ------------------------------------------------------------------------------- chains


def _chain(result: IndexResult, listing: Listing | None, *, members: bool) -> Chain:
    chain = compute_chain(result, listing if _needs_listing(result) else None)
    return chain if members else chain.compact()


def _listing_failed(result: IndexResult, error: str, *, members: bool) -> Chain:
    if not _needs_listing(result):
        return _chain(result, None, members=members)
    return Chain(ChainState.UNKNOWN, detail=f"listing the bucket failed: {error}")


def _read_few(reader: BucketReader, bsl: Bsl, vms: list[VMKey], concurrency: int, *,
              recorder: Recorder | None, members: bool) -> dict[VMKey, Chain]:
    """Index GETs, then one LIST per VM folder that needs verifying."""
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        results = dict(zip(vms, pool.map(lambda vm: _index(reader, bsl, vm, recorder), vms), strict=True))
    out: dict[VMKey, Chain] = {}
    for vm, result in results.items():
        if not _needs_listing(result):
            out[vm] = _chain(result, None, members=members)
            continue
        try:
            listing = dict(reader.iter_objects(bsl.vm_prefix(vm)))
        except SourceError as exc:
            out[vm] = _listing_failed(result, str(exc), members=members)
            continue
        if recorder is not None:
            recorder.listing(bsl, vm, listing)
        out[vm] = _chain(result, listing, members=members)
    return out


@dataclass
class _Verifier:
    """Pairs listed folders with parsed indexes, whichever comes first, and verifies each VM.

    GETs are sent in listing order, at most `window()` ahead of the verification; a folder listed
    before its GET was sent gets it sent at once, so a listed folder never waits on a GET that is
    not in the pool. A GET's completion is announced on `ready` (a done-callback), so pairing costs
    O(1) per VM. Listed folders whose index is still in flight wait in `stash`; over
    LISTING_STASH of them, the consumer waits for indexes instead of taking more folders. A VM's
    future (and its parsed index) is dropped once the VM is verified: memory holds the chains,
    not every document.
    """

    bsl: Bsl
    order: list[VMKey]
    fetch: Callable[[VMKey], Future[IndexResult]]
    recorder: Recorder | None
    members: bool = False  # keep every member of each chain, not its compact summary
    wanted: frozenset[VMKey] = frozenset()
    futures: dict[VMKey, Future[IndexResult]] = field(default_factory=dict)  # sent, VM not verified yet
    out: dict[VMKey, Chain] = field(default_factory=dict)
    listed: set[VMKey] = field(default_factory=set)
    stash: dict[VMKey, Listing] = field(default_factory=dict)  # listed, index still in flight
    parsed: set[VMKey] = field(default_factory=set)  # index in, folder not listed yet
    ready: queue.SimpleQueue[VMKey] = field(default_factory=queue.SimpleQueue)
    _next: int = 0  # order[_next:] may not have been sent yet
    _seen: list[int] = field(default_factory=lambda: [0, 0])  # indexes parsed, their checkpoints
    _seen_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.wanted = frozenset(self.order)
        self.top_up()

    def send(self, vm: VMKey) -> None:
        if vm in self.futures or vm in self.out:
            return
        future = self.fetch(vm)
        self.futures[vm] = future
        future.add_done_callback(lambda done: self._arrived(vm, done))

    def _arrived(self, vm: VMKey, future: Future[IndexResult]) -> None:
        result = future.result() if future.exception() is None else None
        if isinstance(result, Index):
            with self._seen_lock:
                self._seen[0] += 1
                self._seen[1] += len(result.checkpoints)
        self.ready.put(vm)

    def window(self) -> int:
        """How many VMs may await their verification: GETS_AHEAD, fewer for long chains."""
        with self._seen_lock:
            indexes, checkpoints = self._seen
        if not indexes:
            return GETS_AHEAD_MIN
        return max(GETS_AHEAD_MIN, min(GETS_AHEAD, CHECKPOINTS_AHEAD * indexes // max(1, checkpoints)))

    def top_up(self) -> None:
        """Send GETs in listing order while fewer VMs than the window await their verification."""
        window = self.window()
        while self._next < len(self.order) and len(self.futures) < window:
            self.send(self.order[self._next])
            self._next += 1

    def folder(self, vm: VMKey, listing: Listing) -> None:
        if vm not in self.wanted or vm in self.listed:
            return  # a VM nobody asked for
        self.listed.add(vm)
        if vm in self.parsed:
            self.parsed.discard(vm)
            self.verify(vm, listing)
        else:
            self.send(vm)
            self.stash[vm] = listing
        self.pair(finish=False)

    def pair(self, *, finish: bool) -> None:
        """Take the indexes parsed meanwhile; wait for more while too many folders (or, to finish, any) wait."""
        while True:
            wait = len(self.stash) > (0 if finish else LISTING_STASH)
            try:
                vm = self.ready.get(block=wait)
            except queue.Empty:
                return
            if vm not in self.futures:
                continue  # verified already (its result was awaited directly)
            if vm in self.stash:
                self.verify(vm, self.stash.pop(vm))
            elif vm not in self.listed:
                if _needs_listing(self.futures[vm].result()):
                    self.parsed.add(vm)
                else:  # no index, unreadable, ...: nothing of its folder matters
                    self.listed.add(vm)
                    self.verify(vm, {})

    def result(self, vm: VMKey) -> IndexResult:
        self.send(vm)
        return self.futures.pop(vm).result()

    def verify(self, vm: VMKey, listing: Listing) -> None:
        result = self.result(vm)
        if self.recorder is not None and _needs_listing(result):
            self.recorder.listing(self.bsl, vm, listing)
        self.out[vm] = _chain(result, listing, members=self.members)
        self.top_up()

    def redo(self, vm: VMKey, listing: Listing) -> None:
        """Verify again, from a listing known to be whole."""
        self.stash.pop(vm, None)
        self.parsed.discard(vm)
        self.listed.add(vm)
        self.out.pop(vm, None)
        self.verify(vm, listing)

    def fail(self, vm: VMKey, error: str) -> None:
        self.stash.pop(vm, None)
        self.parsed.discard(vm)
        self.listed.add(vm)
        self.out[vm] = _listing_failed(self.result(vm), error, members=self.members)
        self.top_up()

    def finish(self) -> None:
        """Verify the VMs whose folder the listing never showed (nothing in it at all)."""
        self.pair(finish=True)
        rest = [vm for vm in self.order if vm not in self.out]
        for vm in rest:
            self.send(vm)  # all at once: the pool bounds how many are in flight
        for vm in rest:
            self.verify(vm, {})


class _Cancelling:
    """On an error, drop the GETs not started yet rather than wait for all of them."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _read_many(reader: BucketReader, bsl: Bsl, vms: list[VMKey], concurrency: int, *,
               recorder: Recorder | None, members: bool) -> dict[VMKey, Chain]:
    """Index GETs and the listing of the VMs' parts at the same time; each VM verified when both are in.

    GETs are issued in listing order (S3's: UTF-8 binary, Python's `str` order), so an index is
    usually parsed by the time its folder has been listed.
    """
    parts, streams = listing_plan(bsl, vms, concurrency)
    order = sorted(vms, key=bsl.vm_prefix)
    by_folder = {bsl.vm_prefix(vm): vm for vm in order}
    with ThreadPoolExecutor(max(1, concurrency)) as pool, _Cancelling(pool):
        v = _Verifier(bsl, order, lambda vm: pool.submit(_index, reader, bsl, vm, recorder), recorder, members)
        with _Lister(reader, bsl, parts, streams) as events:
            for event in events:
                if isinstance(event, _Folder):
                    v.folder(event.vm, event.listing)
                elif isinstance(event.error, UnorderedListingError):
                    # Keys out of order: any folder of the part may have come in pieces. A VM's
                    # own folder, listed on its own, is whole whatever the order.
                    for vm in (by_folder[f] for f in event.part.folders):
                        try:
                            v.redo(vm, dict(reader.iter_objects(bsl.vm_prefix(vm))))
                        except SourceError as exc:
                            v.fail(vm, str(exc))
                elif isinstance(event.error, SourceError):
                    for vm in (by_folder[f] for f in event.part.folders):
                        if vm not in v.listed:  # the folders listed before the error are whole
                            v.fail(vm, str(event.error))
                elif event.error is not None:
                    raise event.error
        v.finish()
    return v.out


def read_chains(reader: BucketReader, bsl: Bsl, vms: Sequence[VMKey], *, concurrency: int,
                recorder: Recorder | None = None, members: bool = True) -> dict[VMKey, Chain]:
    """Each VM's chain, its objects verified against listings of the bucket (never a HEAD per object).

    Up to PER_VM_LISTING_MAX VMs: index GETs in a bounded pool, then one LIST per VM folder that
    needs verifying. More: the GETs (bounded pool) and the listing of the VMs' folders (a few
    disjoint prefixes, `listing_plan`) at the same time, each VM verified once both are in. A
    listing that fails leaves its VMs UNKNOWN; one out of order falls back to per-VM listings.
    Without `members`, each chain is kept as its `Chain.compact()` summary as soon as it is verified.
    """
    wanted = list(dict.fromkeys(vms))
    if not wanted:
        return {}
    if len(wanted) <= PER_VM_LISTING_MAX:
        out = _read_few(reader, bsl, wanted, concurrency, recorder=recorder, members=members)
    else:
        out = _read_many(reader, bsl, wanted, concurrency, recorder=recorder, members=members)
    return {vm: out[vm] for vm in wanted}
