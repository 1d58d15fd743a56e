"""The live source: the cluster through `Kube`, each BSL's bucket through `BucketReader`.

Reading a bucket's chains is `sources.chains.read_chains` (one index GET per VM, objects verified
against listings planned by `sources.listing`); this module connects it to the cluster: the
Velero objects and VMs, each BSL's credentials, the readers it opened and what they sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from reconciler.core.chain import Chain
from reconciler.core.controller import Upstream
from reconciler.core.model import Bsl, ChainState, VMKey
from reconciler.errors import NotFoundError, SourceError
from reconciler.sources.base import World, world_from_raw
from reconciler.sources.chains import Recorder, read_chains
from reconciler.sources.kube import Kube
from reconciler.sources.listing import LISTING_STREAMS_MAX, group_listing, listing_plan
from reconciler.sources.s3 import BucketReader
from reconciler.sources.upstream import (
    ControllerOptions,
    live_getter,
    read_limit,
    read_trackers,
    recorded_deployment,
)

# Callers import these from here: the live source's whole surface in one place.
__all__ = ["LiveSource", "ReaderFactory", "Recorder", "group_listing", "listing_plan", "read_chains", "senders"]

DEFAULT_SECRET, DEFAULT_KEY = "cloud-credentials", "cloud"

ReaderFactory = Callable[[Bsl, str | None], BucketReader]


def senders(concurrency: int) -> int:
    """Threads that may send to one bucket at once: the index GETs and the listings."""
    return max(1, concurrency) + LISTING_STREAMS_MAX


class LiveSource:
    """`keep_members`: chains keep every member (explain prints them); a plan keeps `Chain.compact()`
    summaries, about 1 KB per VM instead of some 40 KB for a chain of 30 x 2 objects."""

    def __init__(
        self,
        kube: Kube,
        *,
        velero_namespace: str,
        concurrency: int,
        reader_factory: ReaderFactory,
        recorder: Recorder | None = None,
        keep_members: bool = False,
        controller: ControllerOptions | None = None,
    ) -> None:
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
        limit, deployment, limit_errors = read_limit(
            live_getter(self.kube.get_deployment), self.controller, velero_namespace=ns
        )
        trackers, tracker_objects, tracker_errors = read_trackers(self.kube.list_trackers)
        if self.recorder is None:
            vms = world_from_raw(self.kube.list_vms(), velero_namespace=ns)  # parsed page by page
        else:
            raw_vms = list(self.kube.list_vms())
            controller = [recorded_deployment(deployment)] if deployment is not None else []
            self.recorder.objects([*objects, *controller, *tracker_objects, *raw_vms])
            vms = world_from_raw(raw_vms, velero_namespace=ns)
        return World(
            world.schedules,
            world.bsls,
            vms.vms,
            (*world.errors, *vms.errors, *limit_errors, *tracker_errors),
            Upstream(limit, trackers),
        )

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
        return read_chains(
            reader, bsl, vms, concurrency=self.concurrency, recorder=self.recorder, members=self.keep_members
        )

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
