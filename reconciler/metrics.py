"""Run metrics for Prometheus, pushed to a Pushgateway (the Prometheus convention for batch jobs).

Per VM (labels `namespace`, `name`; only VMs whose chain was read): chain length, incrementals,
seconds since the last full, chain bytes, a broken flag and the objects whose size differs from
the index. Per run: VMs by action, VMs by warning, the controller's global max-incremental limit
(absent when unknown), the run's duration, its timestamp and whether it failed. The registry is
built fresh for every run and pushed with PUT semantics, so a VM that left the plan leaves the
gateway's group too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import structlog
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from reconciler.core.model import Action, ChainState
from reconciler.core.plan import Plan
from reconciler.core.reason import WARNING_CODES

PREFIX = "full_backup_reconciler_"
JOB = "full_backup_reconciler"
VM_LABELS = ("namespace", "name")
# A chain the controller will not build on and that cannot be restored from its latest backup.
BROKEN_STATES = (ChainState.BROKEN, ChainState.ROOT_NOT_FULL)

log = structlog.get_logger("reconciler.metrics")


def build_registry(plan: Plan, *, duration_s: float) -> CollectorRegistry:
    """Every metric of one run, in a registry of its own (nothing global)."""
    registry = CollectorRegistry()

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(PREFIX + name, doc, labels, registry=registry)

    length = gauge("chain_length", "Checkpoints in the VM's current chain, the full included.", VM_LABELS)
    incrementals = gauge("chain_incrementals", "Incrementals since the VM's last full.", VM_LABELS)
    since = gauge("seconds_since_last_full", "Seconds from the VM's last full to this run.", VM_LABELS)
    size = gauge("chain_bytes", "Bytes of the VM's current chain: what a restore of its latest backup reads.",
                 VM_LABELS)
    broken = gauge("chain_broken", "1 when the VM's chain is broken (objects missing or damaged, or its "
                   "root is not a full): backups in it can no longer be restored.", VM_LABELS)
    mismatched = gauge("size_mismatched_objects", "Objects of the VM's chain whose size in the bucket differs "
                       "from the index's (a warning: the controller checks existence only).", VM_LABELS)
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
        gauge("controller_max_incremental_backups", "The controller's global --max-incremental-backups the run "
              "decided with (0: unlimited); absent when it could not be learned.").set(plan.upstream.limit.value)
    gauge("run_duration_seconds", "Wall-clock seconds the run took.").set(duration_s)
    gauge("last_run_timestamp_seconds", "Unix time the run decided as of.").set(plan.now.timestamp())
    gauge("run_failed", "1 when the run left objects in error (exit status 1).").set(1 if plan.failed else 0)
    return registry


def grouping_key(plan: Plan) -> dict[str, str]:
    """`velero_namespace`, so runs for two Velero installations do not replace each other's metrics."""
    namespaces = sorted({v.schedule.namespace for v in plan.schedules})
    return {"velero_namespace": ",".join(namespaces)} if namespaces else {}


def push(plan: Plan, url: str, *, duration_s: float, job: str = JOB,
         grouping: Mapping[str, str] | None = None, timeout: float = 10.0) -> bool:
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
