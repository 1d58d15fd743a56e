"""Each VM's chain from its BSL's bucket: one index GET per VM, objects verified against listings.

The VMs' folders are cut into disjoint key prefixes (`listing_plan`), a few read at a time, each
as one batch: its prefix is listed page by page, in key order, and each VM, as the listing passes
its folder, goes to a shared pool that fetches its index, verifies the chain against the folder,
keeps the chain (compact) and drops the rest. A part has at most GETS_AHEAD VMs in the pool, so
memory holds the chains, a bounded number of listed folders and the documents being verified:
never the whole listing, never every document. A parsed index lives only as long as its own
verification, so the cyclic collector seldom sees it.

Presence in a listing proves that an object exists; absence from a listing of many folders does
not. A server that pages out of order skips keys (s3rver does), and on any server a first backup
can land after the listing went past its folder. So a listing shared by many folders can prove a
chain valid and nothing else: a chain it would call broken (objects missing, or the whole folder
absent although its index was just read from it) is verified again against a listing of the
VM's own folder, whose answer is final. That costs one LIST per broken chain, which is rare. If
that listing fails, the chain is UNKNOWN (the VM is in error), never broken.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.core.chain import Chain, Listing, compute_chain, walk
from reconciler.core.index import parse_index
from reconciler.core.model import NO_INDEX, Bsl, ChainState, FetchFailed, Index, IndexResult, VMKey
from reconciler.errors import BucketMissingError, SourceError
from reconciler.sources.listing import Part, UnorderedListingError, group_listing, listing_plan
from reconciler.sources.s3 import BucketReader

# VMs a part being read may have in the pool at once (at least the pool's size, so it never
# idles), each holding its listed folder: 32 folders of 30 checkpoints x 2 disks are about
# 0.6 MB, of 300 checkpoints about 6 MB; at most LISTING_STREAMS_MAX parts are read at once.
GETS_AHEAD = 32


class Recorder(Protocol):
    """Receives what the live source read, so `snapshot` can write it to disk."""

    def objects(self, raw: list[dict[str, Any]]) -> None: ...
    def index(self, bsl: Bsl, vm: VMKey, data: bytes | None) -> None: ...
    def listing(self, bsl: Bsl, vm: VMKey, listing: Listing) -> None: ...


def _needs_listing(result: IndexResult) -> bool:
    """Only a parsed index whose walk ends at a full has objects worth verifying."""
    if not isinstance(result, Index) or not result.checkpoints:
        return False
    members, _, _ = walk(result.checkpoints)
    return members[0].is_full


def _index(reader: BucketReader, bsl: Bsl, vm: VMKey, recorder: Recorder | None) -> IndexResult:
    try:
        data = reader.get_index(vm)
    except BucketMissingError as exc:
        # The same reason as a snapshot without the bucket's folder: one cause, named as such.
        return FetchFailed(str(exc), code="bucket-missing")
    except SourceError as exc:
        return FetchFailed(str(exc))
    if recorder is not None:
        recorder.index(bsl, vm, data)
    if data is None:
        return NO_INDEX
    return parse_index(data)


@dataclass(frozen=True)
class _Batches:
    """What the parts of one `read_chains` call share: the reader, the pool, the options."""

    reader: BucketReader
    bsl: Bsl
    pool: ThreadPoolExecutor
    ahead: int
    recorder: Recorder | None
    members: bool
    stopped: threading.Event = field(default_factory=threading.Event)  # one part failed: read no more

    def read(self, part: Part, vms: Sequence[VMKey]) -> dict[VMKey, Chain]:
        """The part's chains. `vms` are the VMs of `part.folders`, in the same (key) order.

        A merge of two sorted sequences, the VMs and the folders the listing yields: each VM is
        handed to the pool (`chain`) with its folder, or with none when the listing passed it
        without showing it. A listing that goes out of order stops; the VMs not handed over yet
        then get no folder either. One that fails leaves the VMs it did not reach UNKNOWN.
        """
        out: dict[VMKey, Chain] = {}
        pending: dict[Future[Chain], VMKey] = {}

        def collect(done: Iterable[Future[Chain]]) -> None:
            for future in done:
                out[pending.pop(future)] = future.result()

        def submit(vm: VMKey, listing: Listing | None, failure: str = "") -> None:
            if self.stopped.is_set():
                raise CancelledError
            if len(pending) >= self.ahead:
                collect(wait(pending, return_when=FIRST_COMPLETED).done)
            pending[self.pool.submit(self.chain, vm, listing, failure)] = vm

        i, failure = 0, ""
        if not part.own:  # a VM's own folder is listed by `chain`, and only if its index needs it
            try:
                for vm, listing in group_listing(self.reader.iter_objects(part.prefix)):
                    folder = self.bsl.vm_prefix(vm)
                    while i < len(vms) and part.folders[i] < folder:
                        submit(vms[i], None)  # passed without being listed
                        i += 1
                    if i < len(vms) and part.folders[i] == folder:
                        submit(vms[i], listing)
                        i += 1
                    if i == len(vms):
                        break  # no need to list the folders after the part's last VM
            except UnorderedListingError:
                pass  # folders may have come in pieces: the rest are listed one by one
            except SourceError as exc:
                failure = str(exc)
        for vm in vms[i:]:
            submit(vm, None, failure)
        collect(wait(pending).done)
        return out

    def chain(self, vm: VMKey, shared: Listing | None, failure: str) -> Chain:
        """The VM's chain: its index fetched and verified; `shared` is its folder as a listing of
        many folders showed it (None: not shown).

        Only a valid verdict is taken from a shared listing; anything else is decided by a listing
        of the VM's own folder. `failure`: the shared listing failed before reaching the folder.
        """
        if self.stopped.is_set():
            raise CancelledError
        result = _index(self.reader, self.bsl, vm, self.recorder)
        if not _needs_listing(result):
            return self.keep(vm, compute_chain(result), None)
        if shared is not None:
            chain = compute_chain(result, shared)
            if chain.valid:
                return self.keep(vm, chain, shared)
        if failure:
            return Chain(ChainState.UNKNOWN, detail=f"listing the bucket failed: {failure}")
        try:
            own = dict(self.reader.iter_objects(self.bsl.vm_prefix(vm)))
        except SourceError as exc:
            why = (
                ""
                if shared is None
                else (
                    " (the VM's own folder was being listed because a listing of many folders did not "
                    "show every object of its chain)"
                )
            )
            return Chain(ChainState.UNKNOWN, detail=f"listing the bucket failed: {exc}{why}")
        return self.keep(vm, compute_chain(result, own), own)

    def keep(self, vm: VMKey, chain: Chain, listing: Listing | None) -> Chain:
        if self.recorder is not None and listing is not None:
            self.recorder.listing(self.bsl, vm, listing)
        return chain if self.members else chain.compact()


def read_chains(
    reader: BucketReader,
    bsl: Bsl,
    vms: Sequence[VMKey],
    *,
    concurrency: int,
    recorder: Recorder | None = None,
    members: bool = True,
) -> dict[VMKey, Chain]:
    """Each VM's chain, its objects verified against listings of the bucket (never a HEAD per object).

    The parts of `listing_plan` are read by a few threads at once, each part as one batch
    (`_Batches.read`); index GETs run in one pool of `concurrency`. Without `members`, each chain
    is kept as its `Chain.compact()` summary as soon as it is verified.
    """
    wanted = list(dict.fromkeys(vms))
    if not wanted:
        return {}
    parts, streams = listing_plan(bsl, wanted, concurrency)
    by_folder = {bsl.vm_prefix(vm): vm for vm in wanted}
    out: dict[VMKey, Chain] = {}
    with (
        ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="index-get") as pool,
        ThreadPoolExecutor(streams, thread_name_prefix="bucket-listing") as lists,
    ):
        batches = _Batches(reader, bsl, pool, max(GETS_AHEAD, concurrency), recorder, members)
        reads = [lists.submit(batches.read, part, [by_folder[f] for f in part.folders]) for part in parts]
        try:
            for read in reads:
                out.update(read.result())
        except BaseException:
            # Drop the parts and GETs not started yet rather than wait for them. (Not by the pool's
            # `cancel_futures`: a future cancelled that way never wakes a `wait` on it.)
            batches.stopped.set()
            for read in reads:
                read.cancel()
            raise
    return {vm: out[vm] for vm in wanted}
