"""What a decision reads and what it holds: the schedule views, the last full's facts, the Decision.

The types that `decide` (the why) works on, apart from it, so the rules can weigh the same typed
facts the decision keeps without importing the decision logic. Callers name them through decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reconciler.core.chain import Chain
from reconciler.core.controller import DEFAULT, Upstream
from reconciler.core.cron import VeleroCron
from reconciler.core.model import VM, Action, Bsl, Policy, Schedule
from reconciler.core.reason import PlanWarning, Reason
from reconciler.core.state import Desired, merge_patch


@dataclass(frozen=True)
class ScheduleView:
    """A policy Schedule as the decisions need it: its parsed cron, next run, policy and BSL."""

    schedule: Schedule
    cron: VeleroCron | None
    next_run: datetime | None  # None: paused (or unparsable: then errors say why)
    policy: Policy | None
    bsl: Bsl | None
    errors: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return self.schedule.ref

    @property
    def usable(self) -> bool:
        return self.policy is not None and self.cron is not None and self.bsl is not None


def nominal_time(at: datetime, views: Sequence[ScheduleView]) -> datetime | None:
    """The window a backup belongs to: the latest fire time at or before it among the schedules.

    A full is taken minutes after its window opens; measuring age between windows keeps a "7d"
    policy from drifting to day 8.
    """
    fires = []
    for view in views:
        if view.cron is None:
            continue
        anchor = view.schedule.last_backup or view.schedule.created
        fire = view.cron.prev_at_or_before(at, anchor=anchor)
        if fire is not None:
            fires.append(fire)
    return max(fires) if fires else None


@dataclass(frozen=True)
class LastFull:
    """The chain's last full as the age rule weighs it: when it ran, its window, and that window's age."""

    at: datetime
    window: datetime  # the schedule window it belongs to (`at` itself when no schedule fired before it)
    age: timedelta  # of the window at the next run, in whole seconds

    @classmethod
    def at_next_run(cls, at: datetime, window: datetime, next_run: datetime) -> LastFull:
        # Whole seconds, as the plan reports it: the rule, its text and the stagger projection then
        # weigh exactly the age the plan shows, never a fraction of a second more.
        return cls(at, window, timedelta(seconds=int((next_run - window).total_seconds())))


def last_full(chain: Chain, *, next_run: datetime, views: Sequence[ScheduleView]) -> LastFull | None:
    """The last full, its window and its age at the next run; None without a timed full."""
    at = chain.last_full_at
    if at is None:
        return None
    return LastFull.at_next_run(at, nominal_time(at, views) or at, next_run)


@dataclass(frozen=True)
class Decision:
    vm: VM
    action: Action
    reasons: tuple[Reason, ...]
    chain: Chain
    schedules: tuple[str, ...] = ()
    policy: Policy | None = None
    next_run: datetime | None = None
    bsl: Bsl | None = None
    desired: Desired | None = None  # None: the job does not touch this VM
    last_full: LastFull | None = None  # None: no timed full, or decided before the chain was read
    warnings: tuple[PlanWarning, ...] = ()  # worth a look; they change nothing
    views: tuple[ScheduleView, ...] = field(default=(), repr=False)  # to decide again after a conflict
    upstream: Upstream = field(default=DEFAULT, repr=False)  # likewise
    signal: bool = field(default=False, repr=False)  # set the signal annotation (design 6.4) when forcing

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    @property
    def message(self) -> str:
        return "; ".join(r.text for r in self.reasons)

    def patch(self) -> dict[str, Any] | None:
        """The merge patch that carries this decision out, None when nothing needs writing."""
        if self.desired is None:
            return None
        return merge_patch(
            annotations=self.vm.annotations,
            labels=self.vm.labels,
            desired=self.desired,
            resource_version=self.vm.resource_version,
        )
