"""Command line: `main(argv) -> int`. Exit codes are decided here and nowhere else.

0: everything decided (and applied); 1: some objects ended in error; 2: bad usage or
configuration, nothing written, or an unexpected error; 130: interrupted (Ctrl-C); 143: terminated (SIGTERM); 141: the
reader of the output went away (`plan | head`). Whatever happens, the console gets one `error:`
line, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TextIO

import argcomplete
import structlog

from reconciler import app, interrupts, logs, metrics, options
from reconciler.core.model import Bsl
from reconciler.core.plan import Plan
from reconciler.core.timefmt import parse_time
from reconciler.errors import ForbiddenError, ReconcilerError, UsageError
from reconciler.explain import render_explanation
from reconciler.progress import Bar, is_terminal
from reconciler.report import TableView, decision_doc, render
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
EXIT_TERMINATED = 143  # 128 + SIGTERM: the Job deleted, its deadline passed, or the node drained
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

    def __init__(
        self,
        *,
        environ: Mapping[str, str],
        stdout: Output,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None],
        stderr: TextIO = sys.stderr,
        console: TextIO | None = None,
        stdout_tty: bool = False,
    ) -> None:
        self.environ = environ
        self.stdout = stdout
        self.console = console  # stderr when a person reads it (console logs), else None
        self.stdout_tty = stdout_tty
        self.count_line = True  # the "N VMs decided, M errors" line on the console (-qq: not even that)
        self.stderr = stderr  # where a progress bar is drawn, if it is a terminal
        self.clock = clock
        self.sleep = sleep


EARLIEST_NOW, LATEST_NOW = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


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


def _live(
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
        controller=_controller(args),
    )


def _source(args: argparse.Namespace, ctx: Context, *, keep_members: bool = False) -> Source:
    if args.snapshot is not None:
        return SnapshotSource(Path(args.snapshot), velero_namespace=args.velero_namespace, controller=_controller(args))
    return _live(args, ctx, keep_members=keep_members)


def _count_line(plan: Plan) -> str:
    """The one line a person sees before the table: how many VMs were decided, how many errors."""
    errors = (
        len(plan.errors)
        + sum(len(v.errors) for v in plan.schedules)
        + sum(1 for d in plan.decisions if str(d.action) == "error")
    )
    vms = len(plan.decisions)
    return f"{vms} VM{'s' if vms != 1 else ''} decided, {errors} error{'s' if errors != 1 else ''}"


def _log_plan(plan: Plan, ctx: Context) -> None:
    """One record per decision (info) and per warning or error. On a console the output already
    shows each warning and error, so they are info there too: one count line says how many."""
    log = structlog.get_logger("reconciler")
    warning, error = (log.info, log.info) if ctx.console is not None else (log.warning, log.error)
    if ctx.console is not None and ctx.count_line:
        _say(ctx.console, _count_line(plan))
    limit, trackers = plan.upstream.limit, plan.upstream.trackers
    if not limit.known:  # said once per run; the plan's header and JSON say it too
        warning(
            "controller-limit-unknown",
            note=limit.note,
            consequence="no baseline written where it would depend on the global value; only due fulls forced",
        )
    if not trackers.known:
        warning("trackers-unknown", note=trackers.note, consequence="tracker check skipped")
    for view in plan.schedules:
        for problem in view.errors:
            error("invalid-schedule", schedule=view.ref, error=problem)
    for problem in plan.errors:
        error("unreadable-object", error=problem)
    for d in plan.decisions:
        for w in d.warnings:  # one line each: they change nothing, but someone should look
            warning(w.code, vm=d.vm.ref, warning=w.text)
        doc = decision_doc(d)
        log.info(
            "decision",
            vm=d.vm.ref,
            action=doc["action"],
            reasons=doc["reasons"],
            chain=doc["chain"],
            detail={k: v for k, v in doc["detail"].items() if k != "patch"},
        )


def _width(ctx: Context) -> int | None:
    """The columns the table may take: $COLUMNS, else the terminal's; None when stdout is no terminal."""
    columns = ctx.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return shutil.get_terminal_size().columns if ctx.stdout_tty else None


def _view(args: argparse.Namespace, ctx: Context) -> TableView:
    return TableView(
        width=_width(ctx),
        headers=not args.no_headers,
        namespaces=tuple(args.vm_namespace or ()),
        actions=tuple(args.action or ()),
    )


def cmd_plan(args: argparse.Namespace, ctx: Context) -> int:
    now = _now(args, ctx)
    source = _source(args, ctx)
    try:
        with Bar(ctx.stderr, label="VM chains read") as bar:
            plan = app.make_plan(
                source,
                now=now,
                only=args.schedule or (),
                release_all=args.release_all,
                signal=args.signal == "annotation",
                progress=bar,
            )
    finally:
        source.close()
    _log_plan(plan, ctx)
    structlog.get_logger("reconciler").info("plan-done", summary=plan.summary, requests=source.stats())
    ctx.stdout.write(render(plan, args.output, _view(args, ctx)))
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
        with interrupts.held_during_writes() as held, Bar(ctx.stderr, label="VM chains read") as bar:
            plan, tally = app.run(
                source,
                source.kube,
                now=now,
                only=args.schedule or (),
                release_all=args.release_all,
                signal=args.signal == "annotation",
                writing=held.writing,
                progress=bar,
            )
    finally:
        source.close()
    _log_plan(plan, ctx)
    structlog.get_logger("reconciler").info(
        "run-done",
        summary=plan.summary,
        patches=tally.patches,
        conflicts=tally.conflicts,
        events=tally.events,
        event_failures=tally.event_failures,
        requests=source.stats(),
    )
    if args.pushgateway:
        metrics.push(plan, args.pushgateway, duration_s=time.monotonic() - started)
    ctx.stdout.write(render(plan, args.output, _view(args, ctx)))
    # An Event that could not be created is a report lost: the run says so in its exit status.
    return EXIT_ERRORS if plan.failed or tally.event_failures else EXIT_OK


def cmd_snapshot(args: argparse.Namespace, ctx: Context) -> int:
    out = Path(args.out)
    # Plan live while recording every object and index read, so `plan --snapshot` decides the same.
    now = _now(args, ctx)
    recorder = DiskRecorder(out)
    source = _live(args, ctx, recorder=recorder)
    try:
        with Bar(ctx.stderr, label="VM chains recorded") as bar:
            plan = app.make_plan(source, now=now, only=args.schedule or (), release_all=args.release_all, progress=bar)
    finally:
        source.close()
    structlog.get_logger("reconciler").info(
        "snapshot-written", dir=str(out), files=recorder.files, requests=source.stats()
    )
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


def _say(err: TextIO, text: str) -> None:
    """A message on stderr, each of its own lines escaped (an incomplete snapshot lists one problem a line,
    and a name in them must not add lines of its own); quiet if stderr is gone too (`2>&1 | head`)."""
    with contextlib.suppress(OSError, ValueError):
        err.write("".join(terminal_safe(line) + "\n" for line in text.split("\n")))
        err.flush()


COMMANDS = {"plan": cmd_plan, "run": cmd_run, "snapshot": cmd_snapshot, "explain": cmd_explain}


def parser() -> argparse.ArgumentParser:
    return options.build(COMMANDS)


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
    root = parser()
    argcomplete.autocomplete(root)  # answers the shell's completion request and exits; else does nothing
    try:
        args = root.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage message
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    in_cluster = "KUBERNETES_SERVICE_HOST" in environ
    log_format = args.log_format or ("json" if in_cluster else "console")
    level = options.log_level(args, log_format)
    logs.configure(log_format, stream=err, level=level)
    stream = stdout or sys.stdout
    out = _Stdout(stream)
    ctx = Context(
        environ=environ,
        stdout=out,
        clock=clock or (lambda: datetime.now(UTC)),
        sleep=sleep or time.sleep,
        console=err if log_format == "console" else None,
        stdout_tty=is_terminal(stream),
        stderr=err,
    )
    ctx.count_line = level != "error"
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
        return EXIT_TERMINATED if isinstance(exc, interrupts.Terminated) else EXIT_INTERRUPTED
    except OutputClosed:
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the last resort: one line on the console, never a traceback
        if log_format == "json":  # the traceback goes where bug reports come from: the job's log
            with contextlib.suppress(OSError, ValueError):
                structlog.get_logger("reconciler").error("unexpected-error", exc_info=exc)
        _say(
            err,
            f"error: unexpected {type(exc).__name__}: {exc} (a bug; please report it"
            + (")" if log_format == "json" else "; --log-format json logs the traceback)"),
        )
        return EXIT_USAGE
    return code


def entry() -> None:
    sys.exit(main())
