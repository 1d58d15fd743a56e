"""`simulate` on the command line: its options, their checks, and the command itself."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
from datetime import timedelta
from typing import Any, Protocol, TextIO

import structlog

from reconciler.core.calendar import DAYS_HELP, Days, parse_days
from reconciler.core.cron import CronError, parse_cron
from reconciler.core.model import DEFAULT_TTL
from reconciler.core.policy import DURATION_HELP, GROWTH_HELP, parse_duration, parse_growth
from reconciler.core.timefmt import format_time, parse_time
from reconciler.errors import UsageError
from reconciler.progress import Bar
from reconciler.simulate.model import compare
from reconciler.simulate.plot import plot_file
from reconciler.simulate.scenario import DEFAULT_START, GIB, Scenario, cycle_windows
from reconciler.simulate.table import render_table, result_doc


class Writes(Protocol):
    def write(self, text: str, /) -> int: ...


class HasStdout(Protocol):
    @property
    def stdout(self) -> Writes: ...
    @property
    def stderr(self) -> TextIO: ...


def _positive(text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: not an integer >= 1")
    return int(text)


def _fraction(text: str) -> float:
    value = text.strip()
    try:
        number = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a fraction (0.02) or a percentage (2%)") from None
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be between 0 and 1 (0%-100%)")
    return number


_UNITS = {
    "": 1,
    "k": 1000,
    "m": 1000**2,
    "g": 1000**3,
    "t": 1000**4,
    "ki": 1024,
    "mi": 1024**2,
    "gi": 1024**3,
    "ti": 1024**4,
}


def _bytes_arg(text: str) -> int:
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*([kmgtKMGT]i?)?[bB]?", text.strip())
    if m is None or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: not a size (50Gi, 200G, 1Ti)")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


def _duration(text: str) -> timedelta:
    value = parse_duration(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r}: {DURATION_HELP}")
    return value


# --days and --max-growth take what the Schedule annotations take, read by the same parsers, so a
# value tried here can be pasted onto a Schedule as it is.
def _days(text: str) -> Days:
    value = parse_days(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r}: {DAYS_HELP}")
    return value


def _growth(text: str) -> float:
    value = parse_growth(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r}: {GROWTH_HELP}")
    return value


def add_parser(
    subparsers: Any,
    *,
    formatter_class: type[argparse.HelpFormatter] = argparse.RawDescriptionHelpFormatter,
) -> argparse.ArgumentParser:
    """Register `simulate` on the CLI's subparsers (with the CLI's help formatter)."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="what-if: fulls, bytes and chain lengths over many windows, with the real decisions",
        description="Simulate W backup windows of V VMs on one schedule: the reconciler decides before each "
        "window, a model of the kubevirt-datamover controller takes the backups. Prints fulls, "
        "bytes, chain lengths and storage held per window, with and without --budget and without the "
        "policy, to choose a policy before "
        "annotating a Schedule.",
        allow_abbrev=False,
        formatter_class=formatter_class,
        epilog="examples:\n  full-backup-reconciler simulate --vms 300 --max-growth 50% --change-rate 3% --ttl 168h\n"
        "  full-backup-reconciler simulate --vms 3000 --max-age 7d --budget 450 --join spread "
        "--plot load.png\n",
    )
    p.add_argument("--vms", type=_positive, default=300, metavar="N", help="number of VMs (default 300)")
    p.add_argument("--schedule", default="0 1 * * *", metavar="CRON", help="Velero schedule (default '0 1 * * *')")
    p.add_argument("--interval", type=_positive, metavar="N", help="count policy: full after N incrementals")
    p.add_argument("--max-age", type=_duration, metavar="DURATION", help="age policy: 7d, 36h, 2w, ...")
    p.add_argument("--days", type=_days, metavar="DAYS", help="calendar policy: Sun, Mon-Fri, 1, 15, L, ...")
    p.add_argument(
        "--max-growth",
        type=_growth,
        metavar="SHARE",
        help="growth policy: a full once the incrementals weigh this share of the full (50%% or 0.5)",
    )
    p.add_argument("--budget", type=_positive, metavar="N", help="max-per-run: fulls per run (staggering)")
    p.add_argument("--windows", type=_positive, default=60, metavar="W", help="windows to simulate (default 60)")
    p.add_argument(
        "--change-rate",
        type=_fraction,
        default=0.02,
        metavar="RATE",
        help="share of a disk written per day: 0.02 or 2%% (default 2%%)",
    )
    p.add_argument(
        "--ttl",
        type=_duration,
        default=DEFAULT_TTL,
        metavar="DURATION",
        help="the Schedule's backup TTL, for the storage held (default 720h, as Velero)",
    )
    p.add_argument(
        "--disk-size", type=_bytes_arg, default=50 * GIB, metavar="SIZE", help="disk size of every VM (default 50Gi)"
    )
    p.add_argument(
        "--join",
        choices=("once", "spread"),
        default="once",
        help="VMs all exist before the first window, or join spread over --spread-windows",
    )
    p.add_argument(
        "--spread-windows",
        type=_positive,
        metavar="N",
        help="windows over which VMs join with --join spread (default: one policy cycle)",
    )
    p.add_argument(
        "--fail-rate",
        type=_fraction,
        default=0.0,
        metavar="RATE",
        help="share of backups that fail (chosen by a stable hash of VM, window and --seed)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the failure choice (default 0)")
    p.add_argument(
        "--start",
        metavar="RFC3339",
        default=format_time(DEFAULT_START),
        help="when the VMs are created (default %(default)s)",
    )
    p.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        default="table",
        help="table (default: a row per window) or json (the same figures, and the run without the budget)",
    )
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        help="draw fulls, longest chain and storage held per window, with and without the budget and the policy, "
        "into this PNG (needs matplotlib)",
    )
    p.set_defaults(func=cmd_simulate, log_format=None)  # main() reads it; simulate logs nothing
    return p


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    if args.interval is None and args.max_age is None and args.days is None and args.max_growth is None:
        raise UsageError(
            "simulate needs a policy: --interval N, --max-age DURATION, --days DAYS and/or --max-growth SHARE"
        )
    start = parse_time(args.start)
    if start is None:
        raise UsageError(f"--start {args.start!r}: not an RFC 3339 time (e.g. 2026-11-01T00:00:00Z)")
    return Scenario(
        vms=args.vms,
        schedule=args.schedule,
        interval=args.interval,
        max_age=args.max_age,
        days=args.days,
        max_growth=args.max_growth,
        budget=args.budget,
        windows=args.windows,
        change_rate=args.change_rate,
        disk_bytes=args.disk_size,
        join=args.join,
        spread_windows=args.spread_windows,
        fail_rate=args.fail_rate,
        seed=args.seed,
        start=start,
        ttl=args.ttl,
    )


def scenario_warnings(scenario: Scenario) -> list[tuple[str, dict[str, Any]]]:
    """What makes a scenario not mean what its options seem to say: a budget too small to level
    the load, a spread that applies to no join."""
    out: list[tuple[str, dict[str, Any]]] = []
    if scenario.spread_windows is not None and scenario.join != "spread":
        out.append(("spread-windows-ignored", {"note": "--spread-windows applies only with --join spread"}))
    if scenario.budget is not None:
        try:
            cron = parse_cron(scenario.schedule)
        except CronError:
            return out  # the run reports the schedule itself
        cycle = cycle_windows(scenario, cron, cron.next_after(scenario.start))
        needed = -(-scenario.vms // cycle)
        if scenario.budget < needed:
            out.append(
                (
                    "budget-below-load",
                    {
                        "budget": scenario.budget,
                        "needed": needed,
                        "windows_per_cycle": cycle,
                        "note": f"{scenario.vms} VMs / {cycle} windows per cycle need {needed} fulls a window: "
                        "the budget cannot level the load, fulls fall behind",
                    },
                )
            )
    return out


def cmd_simulate(args: argparse.Namespace, ctx: HasStdout) -> int:
    scenario = scenario_from_args(args)
    log = structlog.get_logger("reconciler")
    for code, fields in scenario_warnings(scenario):
        log.warning(code, **fields)
    # The plot's target is checked before the run; the figures are printed before it is drawn,
    # so neither a bad name nor a failed drawing throws the run away.
    with plot_file(args.plot) if args.plot else contextlib.nullcontext() as target:
        with Bar(ctx.stderr, label="windows simulated") as bar:
            result, baseline, unbounded = compare(scenario, progress=bar)
        if args.output == "json":
            ctx.stdout.write(json.dumps(result_doc(result, baseline, unbounded), indent=2) + "\n")
        else:
            ctx.stdout.write(render_table(result, baseline, unbounded))
        if target is not None:
            target.draw(result, baseline, unbounded)
    return 0
