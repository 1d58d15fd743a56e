"""A nightly world for the alert tests: the real planning flow, run after run, with its pushes.

One Velero Schedule fires at 01:00 UTC; the job runs at 00:45 (15 minutes before, as the
README's CronJob does) and applies the patches it plans to the VMs; then each VM is backed up at
01:12 by the model of the kubevirt-datamover controller (`reconciler.simulate.upstream`), or by one
that ignores the job (every backup incremental), or not at all. Day 0 starts at promtool's time
0 (1970-01-01T00:00:00Z), so the metrics' timestamps are promtool's times; days before it build
the chains the test starts from.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.core import keys
from reconciler.core.chain import Chain, compute_chain
from reconciler.core.index import parse_index
from reconciler.core.model import NO_INDEX, VM, VMKey
from reconciler.core.plan import Plan, build_plan, targets, view_schedules
from reconciler.simulate.upstream import Tracker, UpstreamController, append_checkpoint
from tests.builders import bsl, schedule
from tests.promtest import Push, push_of

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # promtool's time 0
DAY = timedelta(days=1)
RUN_AT = timedelta(minutes=45)
WINDOW_AT = timedelta(hours=1)
UPLOAD = timedelta(minutes=12)
FIRST_DAY = -9  # the first backup of every VM: a full, nine nights before day 0
GIB = 1024**3


def at(day: int, hours: int = 0, minutes: int = 0) -> float:
    """Promtool's time (seconds) of a day's clock time."""
    return (day * DAY + timedelta(hours=hours, minutes=minutes)).total_seconds()


def run_time(day: int) -> float:
    return at(day) + RUN_AT.total_seconds()


@dataclass
class Machine:
    """A running VM with changed-block tracking, its index document and its bucket objects."""

    name: str
    namespace: str = "prod"
    backups: str = "honoured"  # "honoured" | "ignored" (every backup incremental) | "failing"
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    version: int = 1
    doc: dict[str, Any] | None = None
    objects: dict[str, int] = field(default_factory=dict)  # key below the datamover prefix -> size
    tracker: Tracker | None = None  # the controller's VirtualMachineBackupTracker, kept between windows

    @property
    def key(self) -> VMKey:
        return (self.namespace, self.name)

    def domain(self) -> VM:
        return VM(
            self.namespace,
            self.name,
            f"uid-{self.name}",
            str(self.version),
            dict(self.labels),
            dict(self.annotations),
            "Running",
            "Enabled",
        )

    def chain(self) -> Chain:
        index = NO_INDEX if self.doc is None else parse_index(json.dumps(self.doc))
        return compute_chain(index, self.objects)

    def lose_object_of(self, position: int) -> None:
        """A data file of the checkpoint at `position` in the index disappears from the bucket."""
        assert self.doc is not None
        del self.objects[self.doc["checkpoints"][position]["files"][0]["objectPath"]]

    def apply(self, patch: Mapping[str, Any] | None) -> None:
        """A merge patch as the API server applies it (None removes a key)."""
        if patch is None:
            return
        meta = patch["metadata"]
        for target, changes in ((self.annotations, meta.get("annotations", {})), (self.labels, meta.get("labels", {}))):
            for k, v in changes.items():
                if v is None:
                    target.pop(k, None)
                else:
                    target[k] = v
        self.version += 1


class World:
    def __init__(self, *machines: Machine, policy: Mapping[str, str] | None = None) -> None:
        self.machines = {m.name: m for m in machines}
        self.policy = dict(policy or {keys.INTERVAL: "7"})
        self.last_window: datetime | None = None
        self.controller = UpstreamController()

    def plan(self, day: int) -> Plan:
        """The job's run at 00:45, its patches applied to the VMs."""
        now = EPOCH + day * DAY + RUN_AT
        nightly = schedule(annotations=self.policy, last_backup=self.last_window, created=EPOCH + (FIRST_DAY - 1) * DAY)
        views = view_schedules([nightly], [bsl()], now=now)
        machines = list(self.machines.values())
        covered = targets(views, [m.domain() for m in machines])
        plan = build_plan(now=now, views=views, covered=covered, chains={m.key: m.chain() for m in machines})
        for d in plan.decisions:
            self.machines[d.vm.name].apply(d.patch())
        return plan

    def back_up(self, day: int) -> None:
        """The window at 01:00: one backup per VM, landing at 01:12."""
        window = EPOCH + day * DAY + WINDOW_AT
        for m in self.machines.values():
            if m.backups == "failing":
                continue
            decision = self.controller.decide(
                vm_name=m.name,
                index=None if m.doc is None else json.dumps(m.doc).encode(),
                objects=m.objects,
                vm_annotations=m.annotations,
                trackers=[m.tracker] if m.tracker else [],
            )
            mode = "incremental" if m.backups == "ignored" and m.doc is not None else decision.mode
            landed = window + UPLOAD
            m.doc, written = append_checkpoint(
                m.doc,
                namespace=m.namespace,
                name=m.name,
                mode=mode,
                at=landed,
                backup=f"nightly-{landed:%Y%m%d%H%M%S}",
                disk_sizes={"rootdisk": 10 * GIB if mode == "full" else GIB},
            )
            m.objects.update(written)
            m.tracker = decision.tracker.after_backup(m.doc["checkpoints"][-1]["id"])
        self.last_window = window


def drive(
    world: World,
    *,
    last_day: int,
    runs: Callable[[int], bool] = lambda day: True,
    before: Mapping[int, Callable[[World], None]] | None = None,
) -> list[Push]:
    """Night after night from FIRST_DAY to last_day: changes, the job's run, the window. The pushes."""
    pushes = []
    for day in range(FIRST_DAY, last_day + 1):
        if before and day in before:
            before[day](world)
        if runs(day):
            pushes.append(push_of(world.plan(day)))
        world.back_up(day)
    return pushes
