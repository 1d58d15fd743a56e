"""Run metrics for Prometheus, pushed to a Pushgateway (the Prometheus convention for batch jobs).

Per VM (labels `namespace`, `name`; only VMs whose chain was read): chain length, incrementals,
seconds since the last full, chain bytes, a broken flag and the objects whose size differs from
the index; what its folder holds (design 10: folder, outside-chain, past-TTL and leaked bytes,
leaked objects, unreferenced checkpoints, whether partial; only VMs whose folder was listed).
Per run: VMs by action, VMs by warning, the controller's global max-incremental limit (absent
when unknown), the run's duration, its timestamp and whether it failed. The registry is
built fresh for every run and pushed with PUT semantics, so a VM that left the plan leaves the
gateway's group too.

For the alerts in `manifests/monitoring/`: the time of the last run that did not fail (absent from
a failed run's push), each VM's effective count policy, and for a VM whose full the job is
forcing, since when and how many backup windows have opened since.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import structlog
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from reconciler.core.decide import ScheduleView
from reconciler.core.model import Action, ChainState
from reconciler.core.plan import Plan
from reconciler.core.reason import WARNING_CODES
from reconciler.core.retention import retention
from reconciler.core.timefmt import parse_time

PREFIX = "full_backup_reconciler_"
JOB = "full_backup_reconciler"
VM_LABELS = ("namespace", "name")
# A chain the controller will not build on and that cannot be restored from its latest backup.
BROKEN_STATES = (ChainState.BROKEN, ChainState.ROOT_NOT_FULL)
# Windows opened since a full was forced are counted up to here: the alert needs 2, and an old
# forced full under an hourly schedule must not cost a walk over every hour since.
WINDOWS_COUNTED = 10

GaugeFactory = Callable[[str, str, tuple[str, ...]], Gauge]

log = structlog.get_logger("reconciler.metrics")


def build_registry(plan: Plan, *, duration_s: float) -> CollectorRegistry:
    """Every metric of one run, in a registry of its own (nothing global)."""
    registry = CollectorRegistry()

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(PREFIX + name, doc, labels, registry=registry)

    length = gauge("chain_length", "Checkpoints in the VM's current chain, the full included.", VM_LABELS)
    incrementals = gauge("chain_incrementals", "Incrementals since the VM's last full.", VM_LABELS)
    since = gauge("seconds_since_last_full", "Seconds from the VM's last full to this run.", VM_LABELS)
    size = gauge(
        "chain_bytes", "Bytes of the VM's current chain: what a restore of its latest backup reads.", VM_LABELS
    )
    broken = gauge(
        "chain_broken",
        "1 when the VM's chain is broken (objects missing or damaged, or its "
        "root is not a full): backups in it can no longer be restored.",
        VM_LABELS,
    )
    mismatched = gauge(
        "size_mismatched_objects",
        "Objects of the VM's chain whose size in the bucket differs "
        "from the index's (a warning: the controller checks existence only).",
        VM_LABELS,
    )
    for d in plan.decisions:
        chain = d.chain
        if chain.state is ChainState.UNKNOWN:
            continue  # not read: skipped, or the index could not be fetched
        labels = (d.vm.namespace, d.vm.name)
        mismatched.labels(*labels).set(len(chain.mismatches))
        length.labels(*labels).set(chain.length)
        incrementals.labels(*labels).set(chain.incrementals)
        size.labels(*labels).set(chain.bytes)
        broken.labels(*labels).set(1 if chain.state in BROKEN_STATES else 0)
        if chain.last_full_at is not None:
            since.labels(*labels).set(max((plan.now - chain.last_full_at).total_seconds(), 0.0))

    decisions = gauge("decisions", "VMs per action decided by the run.", ("action",))
    counts = Counter(str(d.action) for d in plan.decisions)
    for action in Action:
        decisions.labels(str(action)).set(counts[str(action)])
    warnings = gauge("warnings", "VMs per warning code (size-mismatch, two-bsls, trackers-disagree).", ("code",))
    for code in WARNING_CODES:
        warnings.labels(code).set(plan.warnings.get(code, 0))
    if plan.upstream.limit.value is not None:
        gauge(
            "controller_max_incremental_backups",
            "The controller's global --max-incremental-backups the run "
            "decided with (0: unlimited); absent when it could not be learned.",
        ).set(plan.upstream.limit.value)
    gauge("run_duration_seconds", "Wall-clock seconds the run took.").set(duration_s)
    gauge("last_run_timestamp_seconds", "Unix time the run decided as of.").set(plan.now.timestamp())
    gauge("run_failed", "1 when the run left objects in error (exit status 1).").set(1 if plan.failed else 0)
    if not plan.failed:
        gauge(
            "last_success_timestamp_seconds",
            "Unix time the run decided as of; pushed only by a run that "
            "did not fail, so a failed run's push leaves it out.",
        ).set(plan.now.timestamp())
    _policy_gauges(plan, gauge)
    _storage_gauges(plan, gauge)
    return registry


def _storage_gauges(plan: Plan, gauge: GaugeFactory) -> None:
    """Per VM whose folder was listed (design 10); a VM without figures has no sample, never a 0."""
    folder = gauge(
        "folder_bytes",
        "Bytes of every object in the VM's folder of the datamover prefix (a lower bound where storage_partial is 1).",
        VM_LABELS,
    )
    outside = gauge(
        "outside_chain_bytes",
        "Bytes of the VM's folder outside its current chain: older chains kept for retention, or leaked.",
        VM_LABELS,
    )
    past = gauge(
        "past_ttl_bytes",
        "Bytes of the VM's current chain whose own backup is older than the "
        "Schedule's TTL but that a newer backup still needs (absent when the TTL is unknown).",
        VM_LABELS,
    )
    leaked = gauge("leaked_bytes", "Bytes of objects in the VM's folder that no index entry names.", VM_LABELS)
    leaked_objects = gauge("leaked_objects", "Objects in the VM's folder that no index entry names.", VM_LABELS)
    unreferenced = gauge("unreferenced_checkpoints", "Index entries of the VM that no backup references.", VM_LABELS)
    partial = gauge(
        "storage_partial",
        "1 when some object's size was unknown (offline stand-ins): the VM's storage figures are lower bounds.",
        VM_LABELS,
    )
    for d in plan.decisions:
        found = retention(d, now=plan.now)
        if found is None:
            continue
        labels, s = (d.vm.namespace, d.vm.name), found.storage
        folder.labels(*labels).set(s.folder_bytes)
        outside.labels(*labels).set(s.outside_bytes)
        leaked.labels(*labels).set(s.leaked_bytes)
        leaked_objects.labels(*labels).set(s.leaked_objects)
        unreferenced.labels(*labels).set(s.unreferenced)
        partial.labels(*labels).set(1 if s.partial else 0)
        if found.past_ttl_bytes is not None:
            past.labels(*labels).set(found.past_ttl_bytes)


def _policy_gauges(plan: Plan, gauge: GaugeFactory) -> None:
    """Per VM: the count policy its chain is held to, and how long a forced full has been pending."""
    interval = gauge(
        "policy_interval",
        "The VM's effective count policy: its next backup is due to be a "
        "full at this many incrementals (VMs whose chain was read and that have one).",
        VM_LABELS,
    )
    since = gauge(
        "forced_since_timestamp_seconds",
        "Unix time the job began forcing the VM's next backup to "
        "be a full (the state annotation's forcedAt); only VMs being forced.",
        VM_LABELS,
    )
    windows = gauge(
        "windows_since_forced",
        "Backup windows of the VM's schedules that opened since the job "
        f"began forcing its full, counted up to {WINDOWS_COUNTED}; only VMs being forced.",
        VM_LABELS,
    )
    for d in plan.decisions:
        labels = (d.vm.namespace, d.vm.name)
        if d.chain.state is not ChainState.UNKNOWN and d.policy is not None and d.policy.interval is not None:
            interval.labels(*labels).set(d.policy.interval)
        state = d.desired.state if d.desired is not None else None
        forced_at = parse_time(state.forced_at) if state is not None and state.forced_at else None
        if d.action is Action.FORCE_FULL and forced_at is not None:
            since.labels(*labels).set(forced_at.timestamp())
            windows.labels(*labels).set(windows_between(d.views, after=forced_at, until=plan.now))


def windows_between(views: Sequence[ScheduleView], *, after: datetime, until: datetime) -> int:
    """Backup windows of the unpaused schedules that opened in (after, until], up to WINDOWS_COUNTED.

    A window is a fire time of the schedule's cron (an `@every` schedule's grid is anchored at its
    last backup, as for the age policy); two schedules firing at the same instant are one window.
    """
    opened: set[datetime] = set()
    for view in views:
        if view.cron is None or view.next_run is None:
            continue  # unparsable, or paused: no backups
        anchor = view.schedule.last_backup or view.schedule.created
        at = view.cron.prev_at_or_before(until, anchor=anchor)
        for _ in range(WINDOWS_COUNTED):
            if at is None or at <= after:
                break
            opened.add(at)
            at = view.cron.prev_at_or_before(at - timedelta(seconds=1), anchor=anchor)
    return min(len(opened), WINDOWS_COUNTED)


def grouping_key(plan: Plan) -> dict[str, str]:
    """`velero_namespace`, so runs for two Velero installations do not replace each other's metrics."""
    namespaces = sorted({v.schedule.namespace for v in plan.schedules})
    return {"velero_namespace": ",".join(namespaces)} if namespaces else {}


def push(
    plan: Plan,
    url: str,
    *,
    duration_s: float,
    job: str = JOB,
    grouping: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> bool:
    """Push the run's metrics to the Pushgateway at `url` (replacing the group's previous push).

    A failed push is logged and reported as False: the backups are not worse for it, so it does
    not change what the run did or its exit status.
    """
    registry = build_registry(plan, duration_s=duration_s)
    key = dict(grouping) if grouping is not None else grouping_key(plan)
    try:
        push_to_gateway(url, job=job, registry=registry, grouping_key=key, timeout=timeout)
    except (OSError, ValueError) as exc:  # URLError, HTTPError, refused, timeouts; a malformed URL
        log.warning("metrics-push-failed", pushgateway=url, job=job, grouping=key, error=str(exc))
        return False
    log.info("metrics-pushed", pushgateway=url, job=job, grouping=key)
    return True
