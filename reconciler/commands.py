"""The four commands that read a cluster or a snapshot: plan, run, snapshot and explain.

Each takes the parsed options and the `Context` and returns its exit status for a finished
command (0, or 1 when some object ended in error); anything that stops a command early is an
exception, which `cli` turns into its exit status and its one `error:` line.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import structlog

from reconciler import app, inputs, interrupts, metrics
from reconciler.context import Context, say
from reconciler.core.plan import Plan
from reconciler.errors import UsageError
from reconciler.explain import render_explanation
from reconciler.progress import Bar
from reconciler.report import TableView, decision_doc, render
from reconciler.sources.snapshot import DiskRecorder

EXIT_OK, EXIT_ERRORS = 0, 1


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
        say(ctx.console, _count_line(plan))
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
    now = inputs.now(args, ctx)
    source = inputs.source(args, ctx)
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
    now = inputs.now(args, ctx)
    source = inputs.live(args, ctx)
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
    now = inputs.now(args, ctx)
    recorder = DiskRecorder(out)
    source = inputs.live(args, ctx, recorder=recorder)
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
    now = inputs.now(args, ctx)
    source = inputs.source(args, ctx, keep_members=True)  # explain prints the chain member by member
    try:
        explanation = app.explain(source, (namespace, name), now=now)
    finally:
        source.close()
    text, ok = render_explanation(explanation, output=args.output)
    ctx.stdout.write(text)
    return EXIT_OK if ok else EXIT_ERRORS


COMMANDS = {"plan": cmd_plan, "run": cmd_run, "snapshot": cmd_snapshot, "explain": cmd_explain}
