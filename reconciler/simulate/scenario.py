"""What a simulation is asked (`Scenario`), what it answers (`WindowStats` per window, `Result`), and how
many windows one cycle of its policy spans (`cycle_windows`)."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.core.calendar import Days
from reconciler.core.cron import VeleroCron
from reconciler.core.model import DEFAULT_TTL
from reconciler.core.policy import format_duration, format_growth
from reconciler.core.timefmt import format_time

GIB = 1024**3
DEFAULT_START = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Scenario:
    """What to simulate. `budget=None`: no max-per-run on the schedule."""

    vms: int = 300
    schedule: str = "0 1 * * *"
    interval: int | None = 7
    max_age: timedelta | None = None
    days: Days | None = None  # calendar policy
    max_growth: float | None = None  # growth policy: incrementals' bytes over the full's
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
    ttl: timedelta = DEFAULT_TTL  # the Schedule's spec.template.ttl: how long Velero keeps each backup

    @property
    def has_policy(self) -> bool:
        return any(p is not None for p in (self.interval, self.max_age, self.days, self.max_growth))

    def without_policy(self) -> Scenario:
        """The same fleet and disks with no policy and no budget: chains grow for as long as the run."""
        return replace(self, interval=None, max_age=None, days=None, max_growth=None, budget=None)


def policy_text(s: Scenario) -> str:
    """The policy as the table and the plot name it: `interval 7, days Sun, max-growth 50%`."""
    parts = (
        f"interval {s.interval}" if s.interval is not None else "",
        f"max-age {format_duration(s.max_age)}" if s.max_age is not None else "",
        f"days {s.days}" if s.days is not None else "",
        f"max-growth {format_growth(s.max_growth)}" if s.max_growth is not None else "",
    )
    return ", ".join(p for p in parts if p)


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
    chain_bytes: int  # bytes of every VM's current chain: what restoring each VM's latest backup needs
    held_bytes: int  # bytes the bucket holds under the TTL: current chains and older ones still needed

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
        return max((w.fulls for w in self.windows[self.warmup :]), default=None)

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

    @property
    def total_fulls(self) -> int:
        return sum(w.fulls for w in self.windows)

    @property
    def peak_held_bytes(self) -> int:
        return max((w.held_bytes for w in self.windows), default=0)

    @property
    def end_held_bytes(self) -> int:
        return self.windows[-1].held_bytes if self.windows else 0

    def summary(self) -> dict[str, Any]:
        return {
            "peak_fulls_after_warmup": self.peak_fulls_after_warmup,
            "max_chain": self.max_chain,
            "max_age_s": self.max_age_s,
            "worst_restore_bytes": self.worst_restore_bytes,
            "total_bytes": self.total_bytes,
            "total_fulls": self.total_fulls,
            "peak_held_bytes": self.peak_held_bytes,
            "end_held_bytes": self.end_held_bytes,
        }


def cycle_windows(scenario: Scenario, cron: VeleroCron, first: datetime) -> int:
    """Windows from one full to the next one due under the policy: interval + 1, max-age's span, the
    longest gap between listed days, or the incrementals the change rate needs to reach max-growth."""
    ends = []
    if scenario.interval is not None:
        ends.append(scenario.interval + 1)
    if scenario.max_age is not None:
        t, j = first, 0
        while t - first < scenario.max_age and j < 10_000:
            t, j = cron.next_after(t), j + 1
        ends.append(max(j, 1))
    if scenario.days is not None:
        ends.append(_calendar_cycle(scenario, cron, first))
    if scenario.max_growth is not None and scenario.change_rate > 0:
        # Growth is not projected by the job (no index foretells it), but here the change rate is known.
        span_days = (cron.next_after(first) - first).total_seconds() / 86_400
        ends.append(int(-(-scenario.max_growth // (scenario.change_rate * span_days))) + 1)
    return max(min(ends), 1) if ends else 1


def _calendar_cycle(scenario: Scenario, cron: VeleroCron, first: datetime) -> int:
    """The longest run of windows between two listed local days (one full each) over two weeks, or
    two months when days of the month are listed; the whole span when fewer than two fall in it."""
    days = scenario.days
    assert days is not None
    span = timedelta(days=62 if days.monthdays or days.last else 14)
    hits: list[int] = []
    seen = None
    t, j = first, 0
    while t - first < span and j < 10_000:
        day = cron.local_date(t)
        if day is not None and day != seen and days.falls_on(day):
            hits.append(j)
            seen = day
        t, j = cron.next_after(t), j + 1
    return max((b - a for a, b in itertools.pairwise(hits)), default=j)
