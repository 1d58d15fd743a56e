"""The command line's shape: every subcommand, its options, its help and examples.

Kept apart from `commands` (what each command does) and `cli` (the exit codes) so each stays
readable. Every parser refuses abbreviations (`--snap` is not `--snapshot`) and reports an
unknown option with its own subcommand's usage.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler import __version__, logs, simulate
from reconciler.core.model import Action
from reconciler.report import OUTPUTS

MAX_CONCURRENCY = 256


def _concurrency(text: str) -> int:
    """argparse type: index reads in flight, 1 to 256 (more only queues on the S3 connection pool)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{value} is out of range: from 1 to {MAX_CONCURRENCY}")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    log_options(p)
    p.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context")
    p.add_argument(
        "--velero-namespace",
        help="namespace of Velero's Schedules and BSLs "
        "(default: the pod's namespace in-cluster, else velero; OADP: openshift-adp)",
    )
    p.add_argument("--now", metavar="RFC3339", help="decide as of this instant instead of the clock")
    p.add_argument(
        "--controller-deployment",
        metavar="NS/NAME",
        help="the kubevirt-datamover controller's Deployment, read for its --max-incremental-backups "
        "(default: oadp-kubevirt-datamover-controller-manager in the Velero namespace, then "
        "kubevirt-datamover-system/kubevirt-datamover-controller-manager)",
    )
    p.add_argument(
        "--controller-max-incremental",
        type=int,
        metavar="N",
        help="the controller's global --max-incremental-backups, stated instead of read (0: unlimited)",
    )


def _offline(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snapshot", metavar="DIR", help="decide from an offline snapshot instead of a cluster")


def log_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--log-format", choices=("json", "console"), help="default: json in-cluster, else console")
    p.add_argument(
        "--log-level", choices=tuple(logs.LEVELS), help="default: info for JSON logs and for run; warning on a console"
    )
    p.add_argument("-v", "--verbose", action="count", default=0, help="one log level more (-vv: debug)")
    p.add_argument("-q", "--quiet", action="count", default=0, help="one log level less (-qq: errors only)")


def _decide_options(p: argparse.ArgumentParser) -> None:
    _common(p)
    p.add_argument("--schedule", action="append", metavar="NAME", help="only VMs of this Schedule (repeatable)")
    p.add_argument("--concurrency", type=_concurrency, default=16, help="index reads in flight, 1-256 (default 16)")
    p.add_argument(
        "--release-all",
        action="store_true",
        help="when no Schedule carries a policy, give back every VM the job manages (else exit 2)",
    )


def _plan_options(p: argparse.ArgumentParser) -> None:
    _decide_options(p)
    _offline(p)
    p.add_argument(
        "-o",
        "--output",
        choices=OUTPUTS,
        default="table",
        help="table (default: DETAIL cut to the terminal), wide (DETAIL in full, times absolute), "
        "name (NAMESPACE/NAME a line), json or yaml (the whole plan, design 6)",
    )
    p.add_argument("--no-headers", action="store_true", help="table and wide: the VM rows alone, for scripts")
    p.add_argument(
        "--vm-namespace",
        action="append",
        metavar="NS",
        help="show only VMs in this namespace (repeatable; table, wide and name)",
    )
    p.add_argument(
        "--action",
        action="append",
        metavar="ACTION",
        choices=[str(a) for a in Action],
        help="show only VMs with this action (repeatable; table, wide and name); "
        "decisions and writes are the same with or without it",
    )


def _signal_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--signal",
        choices=("none", "annotation"),
        default="none",
        help="annotation: also set the VM annotation kubevirt-datamover.io/force-full-backup=true "
        "when forcing a full (and on blocked VMs), for a plugin that copies it (default: none)",
    )


class _Formatter(argparse.HelpFormatter):
    """The description wrapped to the terminal like the options; the examples kept line by line."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class _Subcommand(argparse.ArgumentParser):
    """A subcommand's parser: an option it does not know is reported with its own usage, not the
    top-level one (argparse would hand the leftovers up to the root parser)."""

    def parse_known_args(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


_HELP = {
    "plan": (
        "decide and print; write nothing (the dry run)",
        "Read the Velero Schedules that carry a full-backup policy, their VMs and each VM's backup chain, "
        "decide which VMs must take a full backup in the next window, and print the plan. Nothing is "
        "written: this is what `run` would do. Exit status 1 when some object ended in error.",
        [
            "full-backup-reconciler plan",
            "full-backup-reconciler plan --snapshot ./snap --now 2026-11-24T20:00:00Z --action force-full",
        ],
    ),
    "run": (
        "decide and apply (what the CronJob runs)",
        "Decide like `plan`, then write the decisions: the kubevirt-datamover annotations that force a "
        "full backup or give a VM back, each VM guarded by its resourceVersion, and an Event per change. "
        "Logs are info by default: this is the job's record.",
        [
            "full-backup-reconciler run --dry-run",
            "full-backup-reconciler run --pushgateway http://pushgateway:9091 --log-format json",
        ],
    ),
    "snapshot": (
        "save what a plan needs from the cluster and buckets, for offline use",
        "Read a live cluster as `plan` does and record every object and index read into a directory, "
        "so that `plan --snapshot DIR` decides the same anywhere, without a cluster or credentials.",
        [
            "full-backup-reconciler snapshot --out ./snap",
            "full-backup-reconciler snapshot --context prod --velero-namespace openshift-adp --out ./snap",
        ],
    ),
    "explain": (
        "one VM's chain, member by member, and its decision",
        "Print one VM's backup chain member by member, every rule that fired with its numbers, and the "
        "decision the whole plan makes for it (a budget on other VMs included).",
        [
            "full-backup-reconciler explain prod/db-1",
            "full-backup-reconciler explain --snapshot ./snap --now 2026-11-24T20:00:00Z prod/db-1 -o json",
        ],
    ),
}


def _subparser(sub: Any, name: str) -> argparse.ArgumentParser:
    short, description, examples = _HELP[name]
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=short,
        description=description,
        allow_abbrev=False,
        formatter_class=_Formatter,
        epilog="examples:\n" + "".join(f"  {e}\n" for e in examples),
    )
    return p


def build(commands: Mapping[str, Callable[..., int]]) -> argparse.ArgumentParser:
    """The whole command line; `commands` maps plan, run, snapshot and explain to their functions."""
    root = argparse.ArgumentParser(
        prog="full-backup-reconciler",
        allow_abbrev=False,
        description="Force periodic full backups of KubeVirt VMs backed up by Velero and the kubevirt-datamover.",
        formatter_class=_Formatter,
        epilog="examples:\n  full-backup-reconciler plan\n  full-backup-reconciler COMMAND --help\n",
    )
    root.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Subcommand)
    p = _subparser(sub, "plan")
    _plan_options(p)
    _signal_option(p)
    p.set_defaults(func=commands["plan"])
    p = _subparser(sub, "run")
    _plan_options(p)
    _signal_option(p)
    p.add_argument("--dry-run", action="store_true", help="decide and print only, like plan")
    p.add_argument("--pushgateway", metavar="URL", help="push run metrics to this Prometheus Pushgateway")
    p.set_defaults(func=commands["run"])
    p = _subparser(sub, "snapshot")
    _decide_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write (created; must be empty)")
    p.set_defaults(func=commands["snapshot"])
    p = _subparser(sub, "explain")
    _common(p)
    _offline(p)
    p.add_argument(
        "-o",
        "--output",
        choices=("text", "json", "yaml"),
        default="text",
        help="text (default), or the plan's vms[] element for this VM with its chain members",
    )
    p.add_argument("vm", metavar="NAMESPACE/VM")
    p.set_defaults(func=commands["explain"])
    log_options(simulate.add_parser(sub, formatter_class=_Formatter))
    return root


def log_level(args: argparse.Namespace, log_format: str) -> str:
    """--log-level, else info for JSON logs (a collector keeps them) and for `run` (the CronJob's
    record), else warning: a person at a terminal reads the output, not every decision twice;
    then each -v one level more, each -q one less."""
    if args.log_level is not None:
        return str(args.log_level)
    names = list(logs.LEVELS)
    start = names.index("info" if log_format == "json" or args.command == "run" else "warning")
    return names[max(0, min(len(names) - 1, start - int(args.verbose) + int(args.quiet)))]
