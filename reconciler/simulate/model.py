"""`simulate`: a what-if over W backup windows for V VMs on one schedule with a policy.

Each window runs the real planning flow (`view_schedules`, `targets`, `build_plan`: decide, then
stagger) over VMs and indexes held in memory, applies the annotations it wants to the VMs, and
then lets the model of the upstream controller take one backup per VM: full or incremental as
`UpstreamController.mode` says from the VM's annotations and its index, appended to the index with
`append_checkpoint`. A full writes the disk size; an incremental writes change rate, times the days since
the VM's previous backup, times the disk size. Nothing touches a cluster or a bucket, and nothing reads the
clock: the same arguments give the same figures.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TextIO

from reconciler import keys
from reconciler.core.chain import compute_chain
from reconciler.core.cron import CronError, VeleroCron, parse_cron
from reconciler.core.model import (
    NO_INDEX,
    VM,
    Action,
    BackupScope,
    Bsl,
    Checkpoint,
    FileRef,
    Index,
    IndexResult,
    Schedule,
)
from reconciler.core.plan import Plan, build_plan, targets, view_schedules
from reconciler.core.policy import format_duration, parse_duration
from reconciler.core.stagger import STAGGERED
from reconciler.core.timefmt import format_time, parse_time
from reconciler.errors import UsageError
from reconciler.report import format_duration_short
from reconciler.sim.upstream import UpstreamController, append_checkpoint

GIB = 1024**3
DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)
NAMESPACE = "sim"
DISK = "rootdisk"
BACKUP_DELAY = timedelta(minutes=12)  # a VM's upload finishes minutes after its window opens
RUN_LEAD = timedelta(minutes=30)  # the job runs shortly before each window


class HasStdout(Protocol):
    stdout: TextIO


@dataclass(frozen=True)
class Scenario:
    """What to simulate. `budget=None`: no max-per-run on the schedule."""

    vms: int = 300
    schedule: str = "0 1 * * *"
    interval: int | None = 7
    max_age: timedelta | None = None
    budget: int | None = None
    windows: int = 60
    change_rate: float = 0.02  # fraction of the disk written per day
    disk_bytes: int = 50 * GIB
    join: str = "once"  # "once": every VM exists before the first window; "spread": over `spread_windows`
    spread_windows: int | None = None  # default: one cycle of the policy
    fail_rate: float = 0.0  # fraction of backups that fail (nothing is written), chosen by a stable hash
    seed: int = 0
    start: datetime = DEFAULT_START
    global_max_incremental: int = 0  # the DPA's maxIncrementalBackups


@dataclass(frozen=True)
class WindowStats:
    """One backup window after its backups: what was written, and the worst chain left behind."""

    window: int
    at: datetime
    vms: int  # VMs that exist in this window
    fulls: int  # successful full backups
    staggered: int  # of those forced by this job, pulled forward by the budget
    forced: int  # VMs this job forced (due, pending or staggered)
    failed: int  # backups that failed
    bytes: int  # bytes written by this window's backups
    max_chain: int  # longest chain, members (the full included)
    mean_chain: float  # average chain length over the VMs that have one
    max_age_s: int  # oldest last full: seconds from its window to this one
    restore_bytes: int  # worst restore cost: bytes of the largest chain

    def doc(self) -> dict[str, Any]:
        return {**asdict(self), "at": format_time(self.at)}


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    windows: tuple[WindowStats, ...]
    warmup: int  # windows before the load is judged: two cycles of the policy

    @property
    def peak_fulls_after_warmup(self) -> int | None:
        """The most fulls in one window after the warm-up; None when the run is no longer than it."""
        return max((w.fulls for w in self.windows[self.warmup:]), default=None)

    @property
    def max_chain(self) -> int:
        return max((w.max_chain for w in self.windows), default=0)

    @property
    def max_age_s(self) -> int:
        return max((w.max_age_s for w in self.windows), default=0)

    @property
    def worst_restore_bytes(self) -> int:
        return max((w.restore_bytes for w in self.windows), default=0)

    @property
    def total_bytes(self) -> int:
        return sum(w.bytes for w in self.windows)

    def summary(self) -> dict[str, Any]:
        return {
            "peak_fulls_after_warmup": self.peak_fulls_after_warmup,
            "max_chain": self.max_chain,
            "max_age_s": self.max_age_s,
            "worst_restore_bytes": self.worst_restore_bytes,
            "total_bytes": self.total_bytes,
            "total_fulls": sum(w.fulls for w in self.windows),
        }


@dataclass
class _SimVM:
    name: str
    joined: int  # the first window it exists in
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    version: int = 1
    doc: dict[str, Any] | None = None
    chain: tuple[Checkpoint, ...] = ()  # the entries reachable from the latest one, root first
    last_backup: datetime | None = None
    last_full_window: datetime | None = None

    def index(self) -> IndexResult:
        """The VM's index as the decisions read it.

        Only the current chain: the parent walk from the latest entry never reaches an older
        chain, so the chain computed is the one the whole document gives, without walking a
        history that grows with every window.
        """
        if self.doc is None:
            return NO_INDEX
        return Index(self.name, NAMESPACE, None, self.chain)

    def domain(self) -> VM:
        return VM(NAMESPACE, self.name, f"uid-{self.name}", str(self.version), dict(self.labels),
                  dict(self.annotations), "Running", "Enabled")


def cycle_windows(scenario: Scenario, cron: VeleroCron, first: datetime) -> int:
    """Windows from one full to the next one due under the policy (interval + 1, or max-age's span)."""
    ends = []
    if scenario.interval is not None:
        ends.append(scenario.interval + 1)
    if scenario.max_age is not None:
        t, j = first, 0
        while t - first < scenario.max_age and j < 10_000:
            t, j = cron.next_after(t), j + 1
        ends.append(max(j, 1))
    return min(ends) if ends else 1


def _fails(scenario: Scenario, name: str, window: int) -> bool:
    if scenario.fail_rate <= 0:
        return False
    digest = hashlib.sha256(f"{scenario.seed}/{NAMESPACE}/{name}/{window}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < scenario.fail_rate


def _apply(vm: _SimVM, patch: dict[str, Any] | None) -> None:
    """A merge patch on the in-memory VM, as the API server applies it (None: remove the key)."""
    if patch is None:
        return
    meta = patch["metadata"]
    for target, changes in ((vm.annotations, meta.get("annotations", {})), (vm.labels, meta.get("labels", {}))):
        for key, value in changes.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    vm.version += 1


def _entry(doc: dict[str, Any], at: datetime) -> Checkpoint:
    """The entry just appended, as the index parser gives it (`at` is its timestamp, whole seconds)."""
    raw = doc["checkpoints"][-1]
    files = tuple(FileRef(f["filename"], f["diskName"], f["size"], f["objectPath"]) for f in raw["files"])
    return Checkpoint(raw["id"], raw["type"], raw.get("parent", ""), at, raw["vmBackup"], files,
                      tuple(raw["referencedBy"]))


class _RememberingCron(VeleroCron):
    """The schedule, remembering its past fire times: the fulls of hundreds of VMs share a few timestamps.

    `decide` asks for the window of every VM's last full on every run; answering from memory
    keeps a 300-VM, 60-window simulation to seconds. The answers are those of VeleroCron.
    """

    _memo: dict[tuple[datetime, datetime | None], datetime | None]

    @classmethod
    def of(cls, cron: VeleroCron) -> _RememberingCron:
        copy = cls(expr=cron.expr, location=cron.location, every=cron.every, minute=cron.minute,
                   hour=cron.hour, dom=cron.dom, month=cron.month, dow=cron.dow)
        object.__setattr__(copy, "_memo", {})
        return copy

    def prev_at_or_before(self, t: datetime, *, anchor: datetime | None = None) -> datetime | None:
        key = (t, anchor if self.every is not None else None)  # only @every depends on the anchor
        if key not in self._memo:
            self._memo[key] = super().prev_at_or_before(t, anchor=anchor)
        return self._memo[key]


class _World:
    """The VMs, their indexes, the schedule and the controller, moved one window at a time."""

    def __init__(self, scenario: Scenario, cron: VeleroCron, cycle: int) -> None:
        self.scenario = scenario
        self.cron = _RememberingCron.of(cron)
        spread = max(scenario.spread_windows or cycle, 1)
        self.fleet = [_SimVM(f"vm-{i:04d}", 0 if scenario.join == "once" else i * spread // scenario.vms)
                      for i in range(scenario.vms)]
        policy = {keys.INTERVAL: str(scenario.interval) if scenario.interval is not None else None,
                  keys.MAX_AGE: format_duration(scenario.max_age) if scenario.max_age is not None else None,
                  keys.MAX_PER_RUN: str(scenario.budget) if scenario.budget is not None else None}
        self.annotations = {k: v for k, v in policy.items() if v is not None}
        self.bsl = Bsl("velero", "default", "aws", "sim-bucket", "velero", True, {}, "cloud-credentials",
                       "cloud", "")
        self.controller = UpstreamController(global_max_incremental=scenario.global_max_incremental)

    def reconcile(self, present: Sequence[_SimVM], *, window: datetime, previous: datetime | None) -> Plan:
        """The job's run shortly before the window: the real plan, its patches applied to the VMs."""
        s = self.scenario
        schedule = Schedule("velero", "sim", "uid-sim", "1", self.annotations, s.schedule, False, s.start,
                            previous, BackupScope(snapshot_move_data=True))
        now = window - min(RUN_LEAD, (window - (previous or s.start)) / 2)
        views = tuple(replace(v, cron=self.cron) for v in view_schedules([schedule], [self.bsl], now=now))
        covered = targets(views, [vm.domain() for vm in present])
        chains = {(NAMESPACE, vm.name): compute_chain(vm.index(), None) for vm in present}
        plan = build_plan(now=now, views=views, covered=covered, chains=chains)
        by_name = {vm.name: vm for vm in present}
        for d in plan.decisions:
            _apply(by_name[d.vm.name], d.patch())
        return plan

    def back_up(self, vm: _SimVM, *, t: int, window: datetime) -> tuple[str, int] | None:
        """One backup of the VM in this window: (mode, bytes written), None if it failed."""
        s = self.scenario
        if _fails(s, vm.name, t):
            return None
        at = window + BACKUP_DELAY
        mode, _ = self.controller.mode(vm_annotations=vm.annotations, index=vm.index(), listing=None)
        if mode == "full":
            size = s.disk_bytes
        else:
            assert vm.last_backup is not None
            days = (at - vm.last_backup).total_seconds() / 86_400
            size = min(int(s.change_rate * days * s.disk_bytes), s.disk_bytes)
        vm.doc, _ = append_checkpoint(vm.doc, namespace=NAMESPACE, name=vm.name, mode=mode, at=at,
                                      backup=f"sim-{at.strftime('%Y%m%d%H%M%S')}", disk_sizes={DISK: size})
        entry = _entry(vm.doc, at)
        vm.chain = (entry,) if mode == "full" else (*vm.chain, entry)
        vm.last_backup = at
        if mode == "full":
            vm.last_full_window = window
        return mode, size

    def window(self, t: int, window: datetime, previous: datetime | None) -> WindowStats:
        present = [vm for vm in self.fleet if vm.joined <= t]
        plan = self.reconcile(present, window=window, previous=previous)
        forced = [d for d in plan.decisions if d.action is Action.FORCE_FULL]
        backups = [self.back_up(vm, t=t, window=window) for vm in present]
        done = [b for b in backups if b is not None]
        after = [vm.chain for vm in present]  # valid by construction: each starts at a full
        ages = [int((window - vm.last_full_window).total_seconds()) for vm in present
                if vm.last_full_window is not None]
        return WindowStats(
            window=t, at=window, vms=len(present), fulls=sum(mode == "full" for mode, _ in done),
            staggered=sum(STAGGERED in d.codes for d in forced), forced=len(forced),
            failed=len(backups) - len(done), bytes=sum(size for _, size in done),
            max_chain=max((len(c) for c in after), default=0),
            mean_chain=round(sum(len(c) for c in after) / max(sum(1 for c in after if c), 1), 3),
            max_age_s=max(ages, default=0),
            restore_bytes=max((sum(m.bytes for m in c) for c in after), default=0))


def run(scenario: Scenario) -> Result:
    """The simulation: window by window, the reconciler's plan and then one backup per VM."""
    try:
        cron = parse_cron(scenario.schedule)
    except CronError as exc:
        raise UsageError(f"--schedule: {exc}") from None
    times = [cron.next_after(scenario.start)]
    while len(times) < scenario.windows:
        times.append(cron.next_after(times[-1]))
    cycle = cycle_windows(scenario, cron, times[0])
    world = _World(scenario, cron, cycle)
    # Hundreds of thousands of short-lived frozen objects and no reference cycles worth collecting:
    # the cyclic collector would only rescan them (a quarter of the run time); reference counting frees them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        stats = [world.window(t, at, times[t - 1] if t else None) for t, at in enumerate(times)]
    finally:
        if collecting:
            gc.enable()
    return Result(scenario, tuple(stats), warmup=2 * cycle)


# --- output ----------------------------------------------------------------------------------


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _scenario_doc(s: Scenario) -> dict[str, Any]:
    return {
        "vms": s.vms, "schedule": s.schedule, "interval": s.interval,
        "maxAge": format_duration(s.max_age) if s.max_age is not None else None,
        "budget": s.budget, "windows": s.windows, "changeRate": s.change_rate, "diskBytes": s.disk_bytes,
        "join": s.join, "spreadWindows": s.spread_windows, "failRate": s.fail_rate, "seed": s.seed,
        "start": format_time(s.start),
    }


def result_doc(result: Result, baseline: Result | None = None) -> dict[str, Any]:
    """The `-o json` document; `without_budget` holds the same run without a budget, when one was set."""
    doc: dict[str, Any] = {
        "scenario": _scenario_doc(result.scenario),
        "warmup_windows": result.warmup,
        "windows": [w.doc() for w in result.windows],
        **result.summary(),
    }
    if baseline is not None:
        doc["without_budget"] = {**baseline.summary(), "fulls": [w.fulls for w in baseline.windows],
                                 "max_chain_per_window": [w.max_chain for w in baseline.windows]}
    return doc


def render_table(result: Result, baseline: Result | None = None) -> str:
    s = result.scenario
    policy = ", ".join(p for p in (
        f"interval {s.interval}" if s.interval is not None else "",
        f"max-age {format_duration(s.max_age)}" if s.max_age is not None else "",
        f"budget {s.budget}" if s.budget is not None else "no budget") if p)
    out = [f"{s.vms} VMs, schedule {s.schedule!r}, {policy}, {s.windows} windows, "
           f"change rate {s.change_rate:g}/day, disk {_size(s.disk_bytes)}", ""]
    head = ["WINDOW", "TIME", "VMS", "FULLS", "STAGGERED", "FAILED", "WRITTEN", "LONGEST CHAIN",
            "OLDEST FULL", "WORST RESTORE"]
    if baseline is not None:
        head.append("FULLS W/O BUDGET")
    rows = [head]
    for i, w in enumerate(result.windows):
        row = [str(w.window), format_time(w.at) or "-", str(w.vms), str(w.fulls), str(w.staggered), str(w.failed),
               _size(w.bytes), str(w.max_chain), format_duration_short(w.max_age_s), _size(w.restore_bytes)]
        if baseline is not None:
            row.append(str(baseline.windows[i].fulls))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out += ["  ".join(c.ljust(n) for c, n in zip(r, widths, strict=True)).rstrip() for r in rows]
    out += ["", _summary_line("with budget" if s.budget is not None else "result", result)]
    if baseline is not None:
        out.append(_summary_line("without budget", baseline))
    return "\n".join(out) + "\n"


def _summary_line(label: str, r: Result) -> str:
    peak = r.peak_fulls_after_warmup
    load = (f"peak {peak} fulls per window from window {r.warmup} on" if peak is not None
            else f"no window after the warm-up of {r.warmup} windows")
    return (f"{label}: {load}; "
            f"longest chain {r.max_chain}; oldest full {format_duration_short(r.max_age_s)}; "
            f"worst restore {_size(r.worst_restore_bytes)}; {_size(r.total_bytes)} written")


def plot(result: Result, baseline: Result | None, path: Path) -> None:
    """Fulls per window and the longest chain per window, with and without the budget, as a PNG."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - optional, heavy
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError as exc:
        raise UsageError(f"--plot needs matplotlib ({exc}); install it with: pip install matplotlib") from None
    s = result.scenario
    x = [w.window for w in result.windows]
    fig = Figure(figsize=(10, 6.5), layout="constrained")
    FigureCanvasAgg(fig)  # the Agg backend, without pyplot's global state
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    label = "no budget" if s.budget is None else f"budget {s.budget}"
    runs = [(baseline, "without budget", "tab:red", 1.2), (result, label, "tab:blue", 2.0)]
    for r, name, color, width in runs:
        if r is None:
            continue
        top.step(x, [w.fulls for w in r.windows], where="mid", color=color, linewidth=width, label=name)
        bottom.step(x, [w.max_chain for w in r.windows], where="mid", color=color, linewidth=width,
                    label=f"longest, {name}")
        bottom.plot(x, [w.mean_chain for w in r.windows], color=color, linewidth=1, linestyle="--",
                    label=f"average, {name}")
    if s.budget is not None:
        top.axhline(s.budget, color="tab:blue", linestyle=":", linewidth=1, label=f"max-per-run {s.budget}")
    if s.interval is not None:
        bottom.axhline(s.interval + 1, color="0.4", linestyle=":", linewidth=1,
                       label=f"policy limit ({s.interval} incrementals + the full)")
    top.axvspan(-0.5, result.warmup - 0.5, color="0.92", label=f"warm-up: two cycles ({result.warmup} windows)")
    policy = ", ".join(p for p in (
        f"interval {s.interval}" if s.interval is not None else "",
        f"max-age {format_duration(s.max_age)}" if s.max_age is not None else "") if p)
    joined = "created at once" if s.join == "once" else "joining over a cycle"
    title = f"{s.vms} VMs {joined}, schedule {s.schedule!r}, {policy}"
    if result.peak_fulls_after_warmup is not None:
        title += f": peak after warm-up {result.peak_fulls_after_warmup}"
        if baseline is not None:
            title += f" (without budget {baseline.peak_fulls_after_warmup})"
    top.set_title(title)
    top.set_ylabel("full backups per window")
    peak = max(w.fulls for r in (result, baseline) if r is not None for w in r.windows)
    top.set_ylim(0, max(peak, 1) * 1.3)  # room for the legend above the peaks
    top.legend(loc="upper center", ncols=4, fontsize="small", framealpha=0.95)
    top.grid(alpha=0.3)
    bottom.set_ylabel("chain length (members)")
    bottom.set_xlabel("backup window")
    bottom.set_ylim(0, max(result.max_chain, baseline.max_chain if baseline else 0) + 3)
    bottom.legend(loc="upper right", ncols=3 if baseline is not None else 2, fontsize="small", framealpha=0.95)
    bottom.grid(alpha=0.3)
    fig.savefig(path, dpi=100, metadata={"Software": None})


# --- command line ----------------------------------------------------------------------------


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


_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4,
          "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4}


def _bytes_arg(text: str) -> int:
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)\s*([kmgtKMGT]i?)?[bB]?", text.strip())
    if m is None or float(m.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: not a size (50Gi, 200G, 1Ti)")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


def _duration(text: str) -> timedelta:
    value = parse_duration(text)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r}: not a duration (36h, 7d, 2w, 168h30m)")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `simulate` on the CLI's subparsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "simulate", help="what-if: fulls, bytes and chain lengths over many windows, with the real decisions",
        description="Simulate W backup windows of V VMs on one schedule: the reconciler decides before each "
                    "window, a model of the kubevirt-datamover controller takes the backups.")
    p.add_argument("--vms", type=_positive, default=300, metavar="N", help="number of VMs (default 300)")
    p.add_argument("--schedule", default="0 1 * * *", metavar="CRON", help="Velero schedule (default '0 1 * * *')")
    p.add_argument("--interval", type=_positive, metavar="N", help="count policy: full after N incrementals")
    p.add_argument("--max-age", type=_duration, metavar="DURATION", help="age policy: 7d, 36h, 2w, ...")
    p.add_argument("--budget", type=_positive, metavar="N", help="max-per-run: fulls per run (staggering)")
    p.add_argument("--windows", type=_positive, default=60, metavar="W", help="windows to simulate (default 60)")
    p.add_argument("--change-rate", type=_fraction, default=0.02, metavar="RATE",
                   help="share of a disk written per day: 0.02 or 2%% (default 2%%)")
    p.add_argument("--disk-size", type=_bytes_arg, default=50 * GIB, metavar="SIZE",
                   help="disk size of every VM (default 50Gi)")
    p.add_argument("--join", choices=("once", "spread"), default="once",
                   help="VMs all exist before the first window, or join spread over --spread-windows")
    p.add_argument("--spread-windows", type=_positive, metavar="N",
                   help="windows over which VMs join with --join spread (default: one policy cycle)")
    p.add_argument("--fail-rate", type=_fraction, default=0.0, metavar="RATE",
                   help="share of backups that fail (chosen by a stable hash of VM, window and --seed)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the failure choice (default 0)")
    p.add_argument("--start", metavar="RFC3339", default=format_time(DEFAULT_START),
                   help="when the VMs are created (default %(default)s)")
    p.add_argument("-o", "--output", choices=("table", "json"), default="table")
    p.add_argument("--plot", metavar="FILE.png", help="draw fulls and longest chain per window, with and "
                   "without the budget, into this PNG (needs matplotlib)")
    p.set_defaults(func=cmd_simulate, log_format=None)  # main() reads it; simulate logs nothing
    return p


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    if args.interval is None and args.max_age is None:
        raise UsageError("simulate needs a policy: --interval N and/or --max-age DURATION")
    start = parse_time(args.start)
    if start is None:
        raise UsageError(f"--start {args.start!r}: not an RFC 3339 time (e.g. 2026-11-01T00:00:00Z)")
    return Scenario(vms=args.vms, schedule=args.schedule, interval=args.interval, max_age=args.max_age,
                    budget=args.budget, windows=args.windows, change_rate=args.change_rate,
                    disk_bytes=args.disk_size, join=args.join, spread_windows=args.spread_windows,
                    fail_rate=args.fail_rate, seed=args.seed, start=start)


def compare(scenario: Scenario) -> tuple[Result, Result | None]:
    """The scenario, and the same scenario without a budget when it has one."""
    result = run(scenario)
    baseline = run(replace(scenario, budget=None)) if scenario.budget is not None else None
    return result, baseline


def cmd_simulate(args: argparse.Namespace, ctx: HasStdout) -> int:
    result, baseline = compare(scenario_from_args(args))
    if args.plot:
        plot(result, baseline, Path(args.plot))
    if args.output == "json":
        ctx.stdout.write(json.dumps(result_doc(result, baseline), indent=2) + "\n")
    else:
        ctx.stdout.write(render_table(result, baseline))
    return 0

