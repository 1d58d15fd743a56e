"""The simulation itself: V VMs on one schedule with a policy, moved one backup window at a time.

Each window runs the real planning flow (`view_schedules`, `targets`, `build_plan`: decide, then
stagger) over VMs and indexes held in memory, applies the annotations it wants to the VMs, and
then lets the model of the upstream controller take one backup per VM: full or incremental as
`UpstreamController.decide` says from the VM's annotations, its index and its tracker, appended to the index with
`append_checkpoint`. A full writes the disk size; an incremental writes change rate, times the days since
the VM's previous backup, times the disk size: the entry's `files[].size`, which the growth policy reads
back from the chain. Nothing touches a cluster or a bucket, and nothing reads the clock: the same
arguments give the same figures.

Storage held follows Velero's retention: a backup expires once older than the Schedule's TTL, but a
chain's checkpoints stay while its newest backup is kept, since that one builds on all of them. So a
chain is held whole until its newest member expires, then goes whole; each VM keeps its current
chain and, for the earlier chains not yet gone, one (newest member's time, bytes) pair each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from reconciler.core import keys
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
from reconciler.core.policy import format_duration
from reconciler.core.stagger import STAGGERED
from reconciler.errors import UsageError
from reconciler.simulate.scenario import Result, Scenario, WindowStats, cycle_windows
from reconciler.simulate.upstream import (
    IndexDocument,
    IndexEntry,
    IndexFile,
    Tracker,
    UpstreamController,
    append_checkpoint,
)

NAMESPACE = "sim"
DISK = "rootdisk"
BACKUP_DELAY = timedelta(minutes=12)  # a VM's upload finishes minutes after its window opens
RUN_LEAD = timedelta(minutes=30)  # the job runs shortly before each window


@dataclass
class _SimVM:
    name: str
    joined: int  # the first window it exists in
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    version: int = 1
    doc: dict[str, Any] | None = None  # the index document: its latest entry only
    chain: tuple[Checkpoint, ...] = ()  # the entries reachable from the latest one, root first
    # The same chain as the upstream model reads it, and its bytes: kept beside `chain` as it grows,
    # since rebuilding or summing it for every backup costs the square of its length (365 windows
    # without a policy: a chain of 365).
    upstream: tuple[IndexEntry, ...] = ()
    chain_bytes: int = 0
    tracker: Tracker | None = None  # its VirtualMachineBackupTracker, kept on the cluster between backups
    last_backup: datetime | None = None
    last_full_window: datetime | None = None
    # Earlier chains the bucket still holds: (their newest member's time, their bytes), oldest first.
    # Dropped as their newest member passes the TTL, so it never holds more than TTL / cycle pairs.
    retired: list[tuple[datetime, int]] = field(default_factory=list)

    def held(self, cutoff: datetime) -> tuple[int, int]:
        """(bytes of the current chain, bytes the bucket holds) once backups finished before `cutoff` expire."""
        while self.retired and self.retired[0][0] < cutoff:
            self.retired.pop(0)
        current = self.chain_bytes
        newest = self.chain[-1].timestamp if self.chain else None
        kept = current if newest is not None and newest >= cutoff else 0
        return current, kept + sum(size for _, size in self.retired)

    def index(self) -> IndexResult:
        """The VM's index as the decisions read it.

        Only the current chain: the parent walk from the latest entry never reaches an older
        chain, so the chain computed is the one the whole document gives, without walking a
        history that grows with every window.
        """
        if self.doc is None:
            return NO_INDEX
        return Index(self.name, NAMESPACE, None, self.chain)

    def upstream_index(self) -> IndexDocument | None:
        """The current chain as the upstream model reads it (no bucket: every file exists)."""
        return None if self.doc is None else IndexDocument(self.upstream)

    def domain(self) -> VM:
        return VM(
            NAMESPACE,
            self.name,
            f"uid-{self.name}",
            str(self.version),
            dict(self.labels),
            dict(self.annotations),
            "Running",
            "Enabled",
        )


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
    return Checkpoint(
        raw["id"], raw["type"], raw.get("parent", ""), at, raw["vmBackup"], files, tuple(raw["referencedBy"])
    )


class _RememberingCron(VeleroCron):
    """The schedule, remembering its past fire times: the fulls of hundreds of VMs share a few timestamps.

    `decide` asks for the window of every VM's last full on every run; answering from memory
    keeps a 300-VM, 60-window simulation to seconds. The answers are those of VeleroCron.
    """

    _memo: dict[tuple[datetime, datetime | None], datetime | None]

    @classmethod
    def of(cls, cron: VeleroCron) -> _RememberingCron:
        copy = cls(
            expr=cron.expr,
            location=cron.location,
            every=cron.every,
            minute=cron.minute,
            hour=cron.hour,
            dom=cron.dom,
            month=cron.month,
            dow=cron.dow,
        )
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
        self.fleet = [
            _SimVM(f"vm-{i:04d}", 0 if scenario.join == "once" else i * spread // scenario.vms)
            for i in range(scenario.vms)
        ]
        policy = {
            keys.INTERVAL: str(scenario.interval) if scenario.interval is not None else None,
            keys.MAX_AGE: format_duration(scenario.max_age) if scenario.max_age is not None else None,
            keys.MAX_PER_RUN: str(scenario.budget) if scenario.budget is not None else None,
            keys.DAYS: str(scenario.days) if scenario.days is not None else None,
            # Plain decimal digits: exact for any float, and the annotation takes no exponent.
            keys.MAX_GROWTH: format(Decimal(repr(scenario.max_growth)), "f") if scenario.max_growth else None,
        }
        self.annotations = {k: v for k, v in policy.items() if v is not None}
        self.bsl = Bsl("velero", "default", "aws", "sim-bucket", "velero", True, {}, "cloud-credentials", "cloud", "")
        self.controller = UpstreamController(global_max_incremental=scenario.global_max_incremental)

    def reconcile(self, present: Sequence[_SimVM], *, window: datetime, previous: datetime | None) -> Plan:
        """The job's run shortly before the window: the real plan, its patches applied to the VMs."""
        s = self.scenario
        schedule = Schedule(
            "velero",
            "sim",
            "uid-sim",
            "1",
            self.annotations,
            s.schedule,
            False,
            s.start,
            previous,
            BackupScope(snapshot_move_data=True),
            ttl=s.ttl,
        )
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
        decision = self.controller.decide(
            vm_name=vm.name,
            index=vm.upstream_index(),
            objects=None,
            vm_annotations=vm.annotations,
            trackers=[vm.tracker] if vm.tracker else [],
        )
        mode = decision.mode
        if mode == "full":
            size = s.disk_bytes
        else:
            assert vm.last_backup is not None
            days = (at - vm.last_backup).total_seconds() / 86_400
            size = min(int(s.change_rate * days * s.disk_bytes), s.disk_bytes)
        doc, _ = append_checkpoint(
            vm.doc,
            namespace=NAMESPACE,
            name=vm.name,
            mode=mode,
            at=at,
            backup=f"sim-{at.strftime('%Y%m%d%H%M%S')}",
            disk_sizes={DISK: size},
        )
        entry = _entry(doc, at)
        # Keep the latest entry only: the next one names it as its parent and nothing reads further
        # back (the decisions see `chain`). The whole history would grow the heap by four containers
        # per VM and window, which the cyclic collector walks again and again (a third of the CPU of
        # 3,000 VMs over 120 windows).
        vm.doc = {**doc, "checkpoints": doc["checkpoints"][-1:]}
        vm.tracker = decision.tracker.after_backup(entry.id)
        if mode == "full" and vm.chain and vm.last_backup is not None:
            # The previous backup is the old chain's newest member: the chain stays until it expires.
            vm.retired.append((vm.last_backup, vm.chain_bytes))
        mirrored = IndexEntry(
            entry.id, entry.type, entry.parent, tuple(IndexFile(f.object_path, f.disk, f.size) for f in entry.files)
        )
        if mode == "full":
            vm.chain, vm.upstream, vm.chain_bytes = (entry,), (mirrored,), entry.bytes
        else:
            vm.chain, vm.upstream = (*vm.chain, entry), (*vm.upstream, mirrored)
            vm.chain_bytes += entry.bytes
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
        # Measured as the window's uploads finish: a backup expires once more than the TTL older.
        held = [vm.held(window + BACKUP_DELAY - self.scenario.ttl) for vm in present]
        ages = [
            int((window - vm.last_full_window).total_seconds()) for vm in present if vm.last_full_window is not None
        ]
        return WindowStats(
            window=t,
            at=window,
            vms=len(present),
            fulls=sum(mode == "full" for mode, _ in done),
            staggered=sum(STAGGERED in d.codes for d in forced),
            forced=len(forced),
            failed=len(backups) - len(done),
            bytes=sum(size for _, size in done),
            max_chain=max((len(c) for c in after), default=0),
            mean_chain=round(sum(len(c) for c in after) / max(sum(1 for c in after if c), 1), 3),
            max_age_s=max(ages, default=0),
            restore_bytes=max((current for current, _ in held), default=0),
            chain_bytes=sum(current for current, _ in held),
            held_bytes=sum(kept for _, kept in held),
        )


def _quiet(_done: int, _total: int) -> None:
    """No one watches the windows go by."""


def _cron(scenario: Scenario) -> VeleroCron:
    try:
        return parse_cron(scenario.schedule)
    except CronError as exc:
        raise UsageError(f"--schedule: {exc}") from None


def run(scenario: Scenario, *, progress: Callable[[int], None] = lambda _done: None) -> Result:
    """The simulation: window by window, the reconciler's plan and then one backup per VM;
    `progress` is told the windows done after each one."""
    cron = _cron(scenario)
    times = [cron.next_after(scenario.start)]
    while len(times) < scenario.windows:
        times.append(cron.next_after(times[-1]))
    cycle = cycle_windows(scenario, cron, times[0])
    world = _World(scenario, cron, cycle)
    stats = []
    for t, at in enumerate(times):
        stats.append(world.window(t, at, times[t - 1] if t else None))
        progress(t + 1)
    return Result(scenario, tuple(stats), warmup=2 * cycle)


def compare(
    scenario: Scenario, *, progress: Callable[[int, int], None] = _quiet
) -> tuple[Result, Result | None, Result | None]:
    """The scenario, the same without a budget when it has one, and the same without any policy when
    it has one (what the bucket would hold otherwise); `progress` is told (windows simulated,
    windows to simulate) as they go."""
    runs = [scenario]
    if scenario.budget is not None:
        runs.append(replace(scenario, budget=None))
    if scenario.has_policy:
        bare = scenario.without_policy()
        if scenario.join == "spread" and scenario.spread_windows is None:
            # The VMs join as in the scenario, over one cycle of its policy, which this run lacks.
            cron = _cron(scenario)
            bare = replace(bare, spread_windows=cycle_windows(scenario, cron, cron.next_after(scenario.start)))
        runs.append(bare)
    total = scenario.windows * len(runs)
    progress(0, total)
    results: list[Result] = []
    for s in runs:
        before = len(results) * scenario.windows

        def told(done: int, before: int = before) -> None:
            progress(before + done, total)

        results.append(run(s, progress=told))
    result = results[0]
    baseline = results[1] if scenario.budget is not None else None
    return result, baseline, results[-1] if scenario.has_policy else None
