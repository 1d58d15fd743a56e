"""Command line: `main(argv) -> int`. Exit codes are decided here and nowhere else.

0: everything decided (and applied); 1: some objects ended in error; 2: bad usage or
configuration, nothing written, or an unexpected error; 130: interrupted (Ctrl-C); 141: the
reader of the output went away (`plan | head`). Whatever happens, the console gets one `error:`
line, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

import structlog

from reconciler import __version__, app, interrupts, logs, metrics, simulate
from reconciler.core.model import Bsl
from reconciler.core.plan import Plan
from reconciler.core.timefmt import parse_time
from reconciler.errors import ForbiddenError, ReconcilerError, UsageError
from reconciler.explain import render_explanation
from reconciler.report import RENDERERS, decision_doc
from reconciler.sources.base import Source
from reconciler.sources.kube import Kube, connect, default_velero_namespace
from reconciler.sources.live import LiveSource, Recorder, senders
from reconciler.sources.s3 import BucketReader
from reconciler.sources.snapshot import DiskRecorder, SnapshotSource
from reconciler.sources.upstream import ControllerOptions
from reconciler.textsafe import terminal_safe

MAX_LISTED_KEYS = 50_000_000  # a listing longer than this is a runaway, not a bucket

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head`
Command = Callable[[argparse.Namespace, "Context"], int]


class Output(Protocol):
    def write(self, text: str, /) -> int: ...
    def flush(self) -> None: ...


class OutputClosed(Exception):
    """The reader of stdout went away (`plan | head`)."""


class _Stdout:
    """stdout whose reader may go away (`plan | head`): that ends the program quietly, not with a
    traceback; any other failure to write it (a full disk) is one `error:` line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str, /) -> int:
        with self._failures():
            return self.stream.write(text)

    def flush(self) -> None:
        with self._failures():
            self.stream.flush()

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            raise OutputClosed from None
        except OSError as exc:
            raise UsageError(f"cannot write the output: {exc.strerror or exc}") from None


class Context:
    """The world outside the program, injected so tests call `main` like a function."""

    def __init__(self, *, environ: Mapping[str, str], stdout: Output, clock: Callable[[], datetime],
                 sleep: Callable[[float], None]) -> None:
        self.environ = environ
        self.stdout = stdout
        self.clock = clock
        self.sleep = sleep


EARLIEST_NOW, LATEST_NOW = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
MAX_CONCURRENCY = 256


def _now(args: argparse.Namespace, ctx: Context) -> datetime:
    if args.now is None:
        return ctx.clock()
    parsed = parse_time(args.now)
    beyond = parsed is None and args.now[:5].isdigit()  # a year of five digits: no datetime holds it
    if beyond or (parsed is not None and not EARLIEST_NOW <= parsed <= LATEST_NOW):
        raise UsageError(f"--now {args.now!r}: out of range: from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z")
    if parsed is None:
        raise UsageError(f"--now {args.now!r}: not an RFC 3339 time (e.g. 2026-11-24T20:00:00Z)")
    return parsed


def _concurrency(text: str) -> int:
    """argparse type: index reads in flight, 1 to 256 (more only queues on the S3 connection pool)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{value} is out of range: from 1 to {MAX_CONCURRENCY}")
    return value


def _controller(args: argparse.Namespace) -> ControllerOptions:
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


def _live(args: argparse.Namespace, ctx: Context, *, recorder: Recorder | None = None,
          keep_members: bool = False) -> LiveSource:
    api = connect(kubeconfig=args.kubeconfig, context=args.context, environ=ctx.environ)
    kube = Kube(api, sleep=ctx.sleep)
    concurrency: int = getattr(args, "concurrency", 16)

    def reader(bsl: Bsl, credentials: str | None) -> BucketReader:
        return BucketReader(bsl, credentials=credentials, environ=ctx.environ, sleep=ctx.sleep,
                            max_keys=MAX_LISTED_KEYS, max_connections=senders(concurrency))

    namespace = args.velero_namespace or default_velero_namespace(ctx.environ)
    return LiveSource(kube, velero_namespace=namespace, concurrency=concurrency, reader_factory=reader,
                      recorder=recorder, keep_members=keep_members, controller=_controller(args))


def _source(args: argparse.Namespace, ctx: Context, *, keep_members: bool = False) -> Source:
    if args.snapshot is not None:
        return SnapshotSource(Path(args.snapshot), velero_namespace=args.velero_namespace,
                              controller=_controller(args))
    return _live(args, ctx, keep_members=keep_members)


def _log_plan(plan: Plan) -> None:
    log = structlog.get_logger("reconciler")
    limit, trackers = plan.upstream.limit, plan.upstream.trackers
    if not limit.known:  # said once per run; the plan's header and JSON say it too
        log.warning("controller-limit-unknown", note=limit.note,
                    consequence="no baseline written where it would depend on the global value; only due fulls "
                    "forced")
    if not trackers.known:
        log.warning("trackers-unknown", note=trackers.note, consequence="tracker check skipped")
    for view in plan.schedules:
        for error in view.errors:
            log.error("invalid-schedule", schedule=view.ref, error=error)
    for error in plan.errors:
        log.error("unreadable-object", error=error)
    for d in plan.decisions:
        for warning in d.warnings:  # one line each: they change nothing, but someone should look
            log.warning(warning.code, vm=d.vm.ref, warning=warning.text)
        doc = decision_doc(d)
        log.info("decision", vm=d.vm.ref, action=doc["action"], reasons=doc["reasons"],
                 chain=doc["chain"], detail={k: v for k, v in doc["detail"].items() if k != "patch"})


def cmd_plan(args: argparse.Namespace, ctx: Context) -> int:
    now = _now(args, ctx)
    source = _source(args, ctx)
    try:
        plan = app.make_plan(source, now=now, only=args.schedule or (), release_all=args.release_all)
    finally:
        source.close()
    _log_plan(plan)
    structlog.get_logger("reconciler").info("plan-done", summary=plan.summary, requests=source.stats())
    ctx.stdout.write(RENDERERS[args.output](plan))
    return EXIT_ERRORS if plan.failed else EXIT_OK


def cmd_run(args: argparse.Namespace, ctx: Context) -> int:
    if args.dry_run:
        return cmd_plan(args, ctx)
    if args.snapshot is not None:
        raise UsageError("run --snapshot cannot write to a snapshot; use plan --snapshot (or run --dry-run)")
    started = time.monotonic()
    now = _now(args, ctx)
    source = _live(args, ctx)
    try:
        # Ctrl-C is held while a VM is being written: each VM is written with its Events, or not at all.
        with interrupts.held_during_writes() as held:
            plan, tally = app.run(source, source.kube, now=now, only=args.schedule or (),
                                  release_all=args.release_all, writing=held.writing)
    finally:
        source.close()
    _log_plan(plan)
    structlog.get_logger("reconciler").info(
        "run-done", summary=plan.summary, patches=tally.patches, conflicts=tally.conflicts,
        events=tally.events, event_failures=tally.event_failures, requests=source.stats())
    if args.pushgateway:
        metrics.push(plan, args.pushgateway, duration_s=time.monotonic() - started)
    ctx.stdout.write(RENDERERS[args.output](plan))
    # An Event that could not be created is a report lost: the run says so in its exit status.
    return EXIT_ERRORS if plan.failed or tally.event_failures else EXIT_OK


def cmd_snapshot(args: argparse.Namespace, ctx: Context) -> int:
    if args.snapshot is not None:
        raise UsageError("snapshot reads a live cluster; --snapshot is not allowed here")
    out = Path(args.out)
    # Plan live while recording every object and index read, so `plan --snapshot` decides the same.
    now = _now(args, ctx)
    recorder = DiskRecorder(out)
    source = _live(args, ctx, recorder=recorder)
    try:
        plan = app.make_plan(source, now=now, only=args.schedule or (), release_all=args.release_all)
    finally:
        source.close()
    structlog.get_logger("reconciler").info("snapshot-written", dir=str(out), files=recorder.files,
                                            requests=source.stats())
    ctx.stdout.write(f"wrote {recorder.files} files to {out}; try: full-backup-reconciler plan --snapshot {out}\n")
    return EXIT_ERRORS if plan.failed else EXIT_OK


def cmd_explain(args: argparse.Namespace, ctx: Context) -> int:
    namespace, _, name = args.vm.partition("/")
    if not namespace or not name:
        raise UsageError(f"explain {args.vm!r}: expected NAMESPACE/VM")
    now = _now(args, ctx)
    source = _source(args, ctx, keep_members=True)  # explain prints the chain member by member
    try:
        explanation = app.explain(source, (namespace, name), now=now)
    finally:
        source.close()
    text, ok = render_explanation(explanation, output=args.output)
    ctx.stdout.write(text)
    return EXIT_OK if ok else EXIT_ERRORS


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument("--velero-namespace", help="namespace of Velero's Schedules and BSLs "
                   "(default: the pod's namespace in-cluster, else velero; OADP: openshift-adp)")
    p.add_argument("--snapshot", metavar="DIR", help="decide from an offline snapshot instead of a cluster")
    p.add_argument("--now", metavar="RFC3339", help="decide as of this instant instead of the clock")
    p.add_argument("--log-format", choices=("json", "console"), help="default: json in-cluster, else console")
    p.add_argument("--controller-deployment", metavar="NS/NAME",
                   help="the kubevirt-datamover controller's Deployment, read for its --max-incremental-backups "
                   "(default: oadp-kubevirt-datamover-controller-manager in the Velero namespace, then "
                   "kubevirt-datamover-system/kubevirt-datamover-controller-manager)")
    p.add_argument("--controller-max-incremental", type=int, metavar="N",
                   help="the controller's global --max-incremental-backups, stated instead of read (0: unlimited)")


def _plan_options(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--schedule", action="append", metavar="NAME", help="only VMs of this Schedule (repeatable)")
    p.add_argument("-o", "--output", choices=sorted(RENDERERS), default="table")
    p.add_argument("--concurrency", type=_concurrency, default=16, help="index reads in flight, 1-256 (default 16)")
    p.add_argument("--release-all", action="store_true",
                   help="when no Schedule carries a policy, give back every VM the job manages (else exit 2)")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="full-backup-reconciler",
        description="Force periodic full backups of KubeVirt VMs backed up by Velero and the kubevirt-datamover.",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("plan", help="decide and print; write nothing (the dry run)")
    _plan_options(p)
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("run", help="decide and apply (what the CronJob runs)")
    _plan_options(p)
    p.add_argument("--dry-run", action="store_true", help="decide and print only, like plan")
    p.add_argument("--pushgateway", metavar="URL", help="push run metrics to this Prometheus Pushgateway")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("snapshot", help="save what a plan needs from the cluster and buckets, for offline use")
    _plan_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write (created; must be empty)")
    p.set_defaults(func=cmd_snapshot)
    p = sub.add_parser("explain", help="one VM's chain, member by member, and its decision")
    _common(p)
    p.add_argument("-o", "--output", choices=("text", "json", "yaml"), default="text",
                   help="text (default), or the plan's vms[] element for this VM with its chain members")
    p.add_argument("vm", metavar="NAMESPACE/VM")
    p.set_defaults(func=cmd_explain)
    simulate.add_parser(sub)
    return root


def _say(err: TextIO, text: str) -> None:
    """A message on stderr, each of its own lines escaped (an incomplete snapshot lists one problem a line,
    and a name in them must not add lines of its own); quiet if stderr is gone too (`2>&1 | head`)."""
    with contextlib.suppress(OSError, ValueError):
        err.write("".join(terminal_safe(line) + "\n" for line in text.split("\n")))
        err.flush()


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    environ = os.environ if environ is None else environ
    err = stderr or sys.stderr
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage message
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    in_cluster = "KUBERNETES_SERVICE_HOST" in environ
    log_format = args.log_format or ("json" if in_cluster else "console")
    logs.configure(log_format, stream=err)
    out = _Stdout(stdout or sys.stdout)
    ctx = Context(environ=environ, stdout=out, clock=clock or (lambda: datetime.now(UTC)),
                  sleep=sleep or time.sleep)
    func: Command = args.func
    try:
        code = func(args, ctx)
        out.flush()
    except UsageError as exc:
        _say(err, f"error: {exc}")
        return EXIT_USAGE
    except ForbiddenError as exc:  # nothing could be read, so nothing was written: configuration
        _say(err, f"error: {exc}")
        _say(err, "hint: the job's RBAC rules are in manifests/base (Role, ClusterRole)")
        return EXIT_USAGE
    except ReconcilerError as exc:
        _say(err, f"error: {exc}")
        return EXIT_ERRORS
    except KeyboardInterrupt as exc:
        _say(err, f"error: {str(exc) or 'interrupted'}")
        return EXIT_INTERRUPTED
    except OutputClosed:
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the last resort: one line on the console, never a traceback
        if log_format == "json":  # the traceback goes where bug reports come from: the job's log
            with contextlib.suppress(OSError, ValueError):
                structlog.get_logger("reconciler").error("unexpected-error", exc_info=exc)
        _say(err, f"error: unexpected {type(exc).__name__}: {exc} (a bug; please report it"
                  + (")" if log_format == "json" else "; --log-format json logs the traceback)"))
        return EXIT_USAGE
    return code


def entry() -> None:
    sys.exit(main())
