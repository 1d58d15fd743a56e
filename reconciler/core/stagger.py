"""Staggering (design 4.6): a schedule's spare budget pulls fulls forward from its busiest future windows.

When many VMs share one schedule and policy, their fulls all land in the same window. With a
budget `force-full-backup-max-per-run` B:

* fulls that land in this run anyway — due under the policy, still being forced from an earlier
  run, or taken by the controller by itself — are never postponed (the policy is a hard maximum);
  they count against B;
* every other VM's next due window is projected over one cycle of the schedule (count: the window
  at which its chain reaches the interval; age: the first window at which its last full's window
  is max-age old; calendar: the first window on a listed local day by which the chain has an
  incremental, not on the local day of its last full), giving a projected load per future window;
  a calendar policy's cycle spans a week of windows (weekdays only) or a month (days of the month);
* the growth policy is not projected: when the incrementals reach their share of the full depends
  on how fast the VM's disks change, which no index foretells. A growth full counts against B in
  the run it is due, like any due full, and never loads a future window;
* spare budget then pulls one full at a time from the future window with the highest projected
  load among those holding a VM that can be pulled (ties: the soonest window, then a stable hash of
  namespace/name), and moves it into this run. It stops at B fulls, or once one more full would
  bring this run up to the busiest projected window: from there a pull only moves the peak, and
  every pull costs a full earlier than the policy needs.

Taking from the busiest window is what levels the load: pulling the soonest-due VMs instead takes
them all from one cohort and re-creates the same cohort one cycle later (the peak rotates; it does
not shrink). A VM joins a cycle only through a full, so a full pulled forward starts a new cohort
of its own, in a quiet window, and after a couple of cycles every window carries about the average.

Only a VM with at least one incremental can be pulled: on a full head the controller's
max-incremental rule cannot force another full. VMs are grouped by the schedule that runs next
for them (the one whose backup takes the full); each VM spends at most its own budget, which is
the strictest among its schedules. Pure and deterministic: same decisions in, same decisions out.
"""

from __future__ import annotations

import hashlib
import heapq
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from reconciler.core import keys
from reconciler.core.calendar import Days
from reconciler.core.cron import CronError, VeleroCron
from reconciler.core.decide import Decision, ScheduleView
from reconciler.core.model import Action, Policy
from reconciler.core.reason import Reason
from reconciler.core.rules import calendar_due
from reconciler.core.state import Desired, OwnerState
from reconciler.core.timefmt import format_time

__all__ = ["MAX_HORIZON", "STAGGERED", "pull_forward", "stagger", "stagger_key"]

STAGGERED = "staggered"
# Windows projected at most. A longer cycle (an `@every 1m` schedule under a 30d max-age) is
# levelled within this many windows, which is still far more than a cycle of any nightly policy.
MAX_HORIZON = 1000


def stagger_key(namespace: str, name: str) -> str:
    """The stable tie-break among VMs due in the same window (not Python's salted hash())."""
    return hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()


class _Windows:
    """The fire times of one schedule from its next run on, computed as far as they are asked for."""

    def __init__(self, cron: VeleroCron, first: datetime) -> None:
        self.cron = cron
        self.times = [first]
        self.offsets = [0]  # seconds from the first window
        self._done = False
        self._listed: dict[Days, list[int]] = {}

    def _extend(self) -> bool:
        if self._done or len(self.times) > MAX_HORIZON:
            return False
        try:
            later = self.cron.next_after(self.times[-1])
        except CronError:  # never fires again within robfig's horizon
            self._done = True
            return False
        self.times.append(later)
        self.offsets.append(int((later - self.times[0]).total_seconds()))
        return True

    def at(self, j: int) -> datetime | None:
        while len(self.times) <= j:
            if not self._extend():
                return None
        return self.times[j]

    def listed(self, days: Days) -> list[int]:
        """The windows (up to MAX_HORIZON) whose local day is listed: computed once per list, not per VM."""
        if days not in self._listed:
            out = []
            j = 0
            while (at := self.at(j)) is not None:
                day = self.cron.local_date(at)
                if day is not None and days.falls_on(day):
                    out.append(j)
                j += 1
            self._listed[days] = out
        return self._listed[days]

    def first_at_least(self, seconds: int) -> int | None:
        """The first window j whose offset from the first window is >= `seconds` (None: beyond reach)."""
        if seconds <= 0:
            return 0
        while self.offsets[-1] < seconds:
            if not self._extend():
                return None
        return bisect_left(self.offsets, seconds)


def _calendar_window(policy: Policy, windows: _Windows, *, first: int, last_full_window: datetime | None) -> int | None:
    """The first window j >= `first` that the calendar rule finds due (None: none within MAX_HORIZON)."""
    assert policy.days is not None
    listed = windows.listed(policy.days)
    for j in listed[bisect_left(listed, first) :]:
        at = windows.at(j)
        assert at is not None
        if calendar_due(policy, window=at, cron=windows.cron, last_full_window=last_full_window):
            return j
    return None


def _cycle(policy: Policy, windows: _Windows) -> int | None:
    """Windows from a full taken in this run to the next one that is due under this policy."""
    ends = []
    if policy.interval is not None:
        ends.append(policy.interval + 1)  # the full, then `interval` incrementals, then due
    if policy.max_age is not None:
        j = windows.first_at_least(int(policy.max_age.total_seconds()))
        if j is not None:
            ends.append(max(j, 1))
    if policy.days is not None:
        j = _calendar_window(policy, windows, first=1, last_full_window=windows.at(0))
        if j is not None:
            ends.append(j)
    return min(ends) if ends else None


def _span(policy: Policy, windows: _Windows) -> int | None:
    """How many windows one cycle of this policy spans: the projection's horizon.

    Count and age: the cycle itself. Calendar: the windows within a week (weekdays only) or a
    month (any day of the month or `L`), however soon the next listed day comes.
    """
    cycle = _cycle(policy, windows)
    days = policy.days
    if days is None:
        return cycle
    week_only = not days.monthdays and not days.last
    j = windows.first_at_least((7 if week_only else 31) * 86400)
    spans = [n for n in (cycle, j) if n is not None]
    return max(spans) if spans else None


def _due_in(d: Decision, windows: _Windows) -> int | None:
    """Windows from this run until the VM's next full is due, if nothing is forced before it."""
    policy = d.policy
    if policy is None:
        return None
    ends = []
    if policy.interval is not None:
        ends.append(max(policy.interval - d.chain.incrementals, 0))
    last = d.last_full
    if policy.max_age is not None:
        if last is None:
            ends.append(0)  # no timed full: the age rule already fires
        else:
            # The window this VM's next run takes is already `last.age` old; due once max-age is.
            j = windows.first_at_least(int((policy.max_age - last.age).total_seconds()))
            if j is not None:
                ends.append(j)
    if policy.days is not None:
        last_window = None if last is None else last.window
        # Each window adds one incremental: a full head has one by the next window.
        j = _calendar_window(policy, windows, first=max(1 - d.chain.incrementals, 0), last_full_window=last_window)
        if j is not None:
            ends.append(j)
    return min(ends) if ends else None


def _full_now(d: Decision) -> bool:
    """This run's backup of the VM is a full whatever the budget says."""
    return d.action in (Action.FORCE_FULL, Action.FULL_ANYWAY)


def _projected(d: Decision) -> bool:
    """The VM's next backup happens under a policy schedule, so it loads that schedule's windows."""
    if d.action in (Action.FORCE_FULL, Action.FULL_ANYWAY, Action.KEEP, Action.BLOCKED):
        return True
    return d.action is Action.RELEASE and "landed" in d.codes


def _pullable(d: Decision) -> bool:
    return (
        d.action is Action.KEEP
        and d.chain.valid
        and d.chain.incrementals >= 1
        and d.policy is not None
        and d.policy.max_per_run is not None
        and d.desired is not None
        and d.desired.state is not None
    )


def _runs_next(d: Decision) -> ScheduleView | None:
    """The schedule whose next run backs the VM up (it takes the full), or None."""
    active = [v for v in d.views if v.next_run is not None and v.cron is not None]
    return min(active, key=lambda v: (v.next_run, v.ref)) if active else None


def pull_forward(
    d: Decision,
    *,
    now: datetime,
    numbers: dict[str, object] | None = None,
    text: str = "pulled forward by the schedule's budget to level its fulls",
) -> Decision:
    """A `keep` turned into a forced full with reason `staggered`, its Desired built like any forced full.

    The annotation is the current incremental count (the controller then takes a full), the label
    is set, and the state records the root being replaced, so the next run keeps forcing until
    the full lands (see decide) and a re-run writes nothing.
    """
    assert _pullable(d) and d.desired is not None and d.desired.state is not None
    root = d.chain.root
    assert root is not None
    state = OwnerState(d.desired.state.original, format_time(now), root.id, (STAGGERED,))
    forced = Desired(str(d.chain.incrementals), state, due_label=True)
    if d.signal:
        # The value found before: what the keep decision would have put back, else the VM's own.
        found = d.desired.signal if d.desired.signal_touch else d.vm.annotations.get(keys.FORCE_SIGNAL)
        forced = forced.signalled(owner=None, found=found, on=True)
    else:
        forced = replace(forced, signal=d.desired.signal, signal_touch=d.desired.signal_touch)
    return replace(d, action=Action.FORCE_FULL, reasons=(Reason(STAGGERED, text, dict(numbers or {})),), desired=forced)


@dataclass(frozen=True)
class _Candidate:
    key: str
    position: int  # in the decisions given to stagger
    decision: Decision


def _level(view: ScheduleView, members: Sequence[tuple[int, Decision]], *, now: datetime) -> dict[int, Decision]:
    """The pulls for one schedule's VMs: position in the plan -> the staggered decision."""
    assert view.cron is not None and view.next_run is not None
    windows = _Windows(view.cron, view.next_run)
    cycles: dict[Policy, int | None] = {}
    spans: dict[Policy, int | None] = {}

    def cycle(policy: Policy) -> int | None:
        if policy not in cycles:
            cycles[policy] = _cycle(policy, windows)
        return cycles[policy]

    def span(policy: Policy) -> int | None:
        if policy not in spans:
            spans[policy] = _span(policy, windows)
        return spans[policy]

    horizon = max((n for _, d in members if d.policy is not None and (n := span(d.policy)) is not None), default=0)
    horizon = min(horizon, MAX_HORIZON)
    load: Counter[int] = Counter()
    candidates: dict[int, list[_Candidate]] = defaultdict(list)
    fulls = 0
    for position, d in members:
        if _full_now(d):
            fulls += 1
            due = cycle(d.policy) if d.policy is not None else None
        else:
            due = _due_in(d, windows)
            if due is not None and d.action is Action.BLOCKED:
                due = max(due, 1)  # the head is a full: the earliest full is after one incremental
        # This run is window 0; the window one cycle ahead is this run's own slot again.
        if due is None or not 1 <= due < horizon:
            continue
        load[due] += 1
        if _pullable(d):
            candidates[due].append(_Candidate(stagger_key(d.vm.namespace, d.vm.name), position, d))
    for queue in candidates.values():
        queue.sort(key=lambda c: (c.key, c.position), reverse=True)  # pop() takes the smallest
    heap = [(-load[j], j) for j in candidates]
    heapq.heapify(heap)
    most = max(
        (c.decision.policy.max_per_run or 0 for q in candidates.values() for c in q if c.decision.policy is not None),
        default=0,
    )
    pulled: dict[int, Decision] = {}
    while heap and fulls < most:
        _, j = heapq.heappop(heap)
        if load[j] <= fulls or max(load.values()) <= fulls + 1:
            break  # one more full here would make this run the peak (or as high as it): nothing levels
        c = candidates[j].pop()
        policy = c.decision.policy
        assert policy is not None and policy.max_per_run is not None
        budget = policy.max_per_run
        if fulls < budget:
            fulls += 1
            due_at = windows.at(j)
            pulled[c.position] = pull_forward(
                c.decision,
                now=now,
                text=(
                    f"pulled forward by the budget of {budget} full(s) per run: due in {j} window(s) "
                    f"({format_time(due_at)}), the busiest ahead with {load[j]} full(s); "
                    f"full {fulls} of this run"
                ),
                numbers={
                    "budget": budget,
                    "dueInWindows": j,
                    "dueWindow": format_time(due_at),
                    "windowLoad": load[j],
                    "fullsThisRun": fulls,
                },
            )
            load[j] -= 1
        if candidates[j]:
            heapq.heappush(heap, (-load[j], j))
    return pulled


def stagger(decisions: Sequence[Decision], *, now: datetime) -> tuple[Decision, ...]:
    """The decisions with spare budget spent on pulling fulls forward (reason `staggered`).

    Only `keep` decisions change, and only into `force-full`; everything else is returned as is,
    in the same order. Schedules without a budget change nothing.
    """
    groups: dict[str, list[tuple[int, Decision]]] = defaultdict(list)
    views: dict[str, ScheduleView] = {}
    for position, d in enumerate(decisions):
        if not _projected(d):
            continue
        view = _runs_next(d)
        if view is None:
            continue
        groups[view.ref].append((position, d))
        views[view.ref] = view
    out = list(decisions)
    for ref in sorted(groups):
        members = groups[ref]
        if not any(_pullable(d) for _, d in members):
            continue
        for position, d in _level(views[ref], members, now=now).items():
            out[position] = d
    return tuple(out)
