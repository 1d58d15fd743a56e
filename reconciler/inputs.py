"""What a command reads, from its options: the instant it decides at, and where the objects come from.

`--now` or the clock; a live cluster with its buckets (`--kubeconfig`, `--context`,
`--velero-namespace`, `--concurrency`) or an offline `--snapshot`; and what is known of the
controller's global limit (`--controller-deployment`, `--controller-max-incremental`). Bad values
are a `UsageError`, raised before anything is read.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from reconciler.context import Context
from reconciler.core.model import Bsl
from reconciler.core.timefmt import parse_time
from reconciler.errors import UsageError
from reconciler.sources.base import Source
from reconciler.sources.kube import Kube, connect, default_velero_namespace
from reconciler.sources.live import LiveSource, Recorder, senders
from reconciler.sources.s3 import BucketReader
from reconciler.sources.snapshot import SnapshotSource
from reconciler.sources.upstream import ControllerOptions

MAX_LISTED_KEYS = 50_000_000  # a listing longer than this is a runaway, not a bucket

EARLIEST_NOW, LATEST_NOW = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def now(args: argparse.Namespace, ctx: Context) -> datetime:
    if args.now is None:
        return ctx.clock()
    parsed = parse_time(args.now)
    beyond = parsed is None and args.now[:5].isdigit()  # a year of five digits: no datetime holds it
    if beyond or (parsed is not None and not EARLIEST_NOW <= parsed <= LATEST_NOW):
        raise UsageError(f"--now {args.now!r}: out of range: from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z")
    if parsed is None:
        raise UsageError(f"--now {args.now!r}: not an RFC 3339 time (e.g. 2026-11-24T20:00:00Z)")
    return parsed


def controller(args: argparse.Namespace) -> ControllerOptions:
    """--controller-deployment NS/NAME and --controller-max-incremental N (at most one of them)."""
    ref, stated = args.controller_deployment, args.controller_max_incremental
    if ref is not None and stated is not None:
        raise UsageError("--controller-deployment and --controller-max-incremental exclude each other")
    if stated is not None and stated < 0:
        raise UsageError(f"--controller-max-incremental {stated}: must be 0 (unlimited) or more")
    if ref is None:
        return ControllerOptions(stated=stated)
    namespace, _, name = ref.partition("/")
    if not namespace or not name or "/" in name:
        raise UsageError(f"--controller-deployment {ref!r}: expected NAMESPACE/NAME")
    return ControllerOptions(deployment=(namespace, name))


def live(
    args: argparse.Namespace, ctx: Context, *, recorder: Recorder | None = None, keep_members: bool = False
) -> LiveSource:
    api = connect(kubeconfig=args.kubeconfig, context=args.context, environ=ctx.environ)
    kube = Kube(api, sleep=ctx.sleep)
    concurrency: int = getattr(args, "concurrency", 16)

    def reader(bsl: Bsl, credentials: str | None) -> BucketReader:
        return BucketReader(
            bsl,
            credentials=credentials,
            environ=ctx.environ,
            sleep=ctx.sleep,
            max_keys=MAX_LISTED_KEYS,
            max_connections=senders(concurrency),
        )

    namespace = args.velero_namespace or default_velero_namespace(ctx.environ)
    return LiveSource(
        kube,
        velero_namespace=namespace,
        concurrency=concurrency,
        reader_factory=reader,
        recorder=recorder,
        keep_members=keep_members,
        controller=controller(args),
    )


def source(args: argparse.Namespace, ctx: Context, *, keep_members: bool = False) -> Source:
    if args.snapshot is not None:
        return SnapshotSource(Path(args.snapshot), velero_namespace=args.velero_namespace, controller=controller(args))
    return live(args, ctx, keep_members=keep_members)
