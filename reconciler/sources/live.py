"""The live source: the cluster through `Kube`, each BSL's bucket through `BucketReader`.

Index GETs run concurrently in a bounded pool; chains are verified against one paginated
listing of the datamover's `checkpoints/` tree per bucket (about one request per thousand keys),
consumed as a stream grouped by VM folder, so memory holds one VM's keys at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby
from typing import Any, Protocol

from reconciler.core.chain import Chain, Listing, compute_chain, walk
from reconciler.core.index import parse_index
from reconciler.core.model import NO_INDEX, Bsl, ChainState, FetchFailed, Index, IndexResult, VMKey
from reconciler.errors import NotFoundError, SourceError
from reconciler.sources.base import World, world_from_raw
from reconciler.sources.kube import Kube
from reconciler.sources.s3 import BucketReader

DEFAULT_SECRET, DEFAULT_KEY = "cloud-credentials", "cloud"
# Below this many VMs in a bucket, one LIST per VM folder is cheaper than listing the whole tree.
PER_VM_LISTING_MAX = 8

ReaderFactory = Callable[[Bsl, str | None], BucketReader]


class Recorder(Protocol):
    """Receives what the live source read, so `snapshot` can write it to disk."""

    def objects(self, raw: list[dict[str, Any]]) -> None: ...
    def index(self, bsl: Bsl, vm: VMKey, data: bytes | None) -> None: ...
    def listing(self, bsl: Bsl, vm: VMKey, listing: Listing) -> None: ...


def _vm_of(key: str) -> VMKey | None:
    """`checkpoints/<ns>/<vm>/...` -> (ns, vm)."""
    parts = key.split("/", 3)
    return (parts[1], parts[2]) if len(parts) == 4 and parts[0] == "checkpoints" else None


def group_listing(objects: Iterable[tuple[str, int]]) -> Iterator[tuple[VMKey, Listing]]:
    """Consecutive keys of one VM folder become one listing (S3 lists keys in lexicographic order)."""
    for vm, items in groupby(objects, key=lambda kv: _vm_of(kv[0])):
        if vm is not None:
            yield vm, dict(items)


class LiveSource:
    def __init__(self, kube: Kube, *, velero_namespace: str, concurrency: int,
                 reader_factory: ReaderFactory, recorder: Recorder | None = None) -> None:
        self.kube = kube
        self.recorder = recorder
        self.velero_namespace = velero_namespace
        self.concurrency = max(1, concurrency)
        self.reader_factory = reader_factory
        self.readers: list[BucketReader] = []

    def load(self) -> World:
        ns = self.velero_namespace
        objects = [*self.kube.list_velero("schedules", ns), *self.kube.list_velero("backupstoragelocations", ns)]
        world = world_from_raw(objects, velero_namespace=ns)
        if self.recorder is None:
            vms = world_from_raw(self.kube.list_vms(), velero_namespace=ns)  # parsed page by page
        else:
            raw_vms = list(self.kube.list_vms())
            self.recorder.objects([*objects, *raw_vms])
            vms = world_from_raw(raw_vms, velero_namespace=ns)
        return World(world.schedules, world.bsls, vms.vms, (*world.errors, *vms.errors))

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
        return read_chains(reader, bsl, vms, concurrency=self.concurrency, recorder=self.recorder)

    def close(self) -> None:
        for reader in self.readers:  # kept, so their request counts can still be reported
            reader.close()

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
    return NO_INDEX if data is None else parse_index(data)


def _listings(reader: BucketReader, bsl: Bsl, vms: list[VMKey]) -> Iterator[tuple[VMKey, Listing]]:
    if len(vms) <= PER_VM_LISTING_MAX:
        for vm in vms:
            yield vm, dict(reader.iter_objects(bsl.vm_prefix(vm)))
        return
    yield from group_listing(reader.iter_objects("checkpoints/"))


def read_chains(reader: BucketReader, bsl: Bsl, vms: Sequence[VMKey], *, concurrency: int,
                recorder: Recorder | None = None) -> dict[VMKey, Chain]:
    """Each VM's chain: index GETs in a bounded pool, then verification from one streamed listing."""
    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        results = dict(zip(vms, pool.map(lambda vm: _index(reader, bsl, vm, recorder), vms), strict=True))
    out: dict[VMKey, Chain] = {}
    pending: dict[VMKey, IndexResult] = {}
    for vm, result in results.items():
        if _needs_listing(result):
            pending[vm] = result
        else:
            out[vm] = compute_chain(result)
    try:
        for vm, listing in _listings(reader, bsl, list(pending)):
            if vm in pending:
                if recorder is not None:
                    recorder.listing(bsl, vm, listing)
                out[vm] = compute_chain(pending.pop(vm), listing)
    except SourceError as exc:
        for vm in pending:
            out[vm] = Chain(ChainState.UNKNOWN, detail=f"listing the bucket failed: {exc}")
        pending.clear()
    for vm, result in pending.items():  # no object at all under the VM's folder
        out[vm] = compute_chain(result, {})
    return out
