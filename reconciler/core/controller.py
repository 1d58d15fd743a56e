"""What the kubevirt-datamover controller decides by itself, beyond the chain (design 2.1 rules 3 and 4).

Two facts of the cluster decide fulls the job must predict rather than force:

- the controller's global `--max-incremental-backups`, read from its Deployment's `manager`
  container as Go's `flag` package reads it; a VM's own annotation overrides it;
- the controller's VirtualMachineBackupTracker of each VM, found by the label
  `kubevirt-datamover.io/vm-name-hash` (the first 16 hex characters of sha256(VM name)). When the
  tracker does not name the index's latest checkpoint, the controller takes a full (its step 3b,
  run only on a valid chain that no other rule made full).

Either may be unknown (Deployment absent or unreadable, trackers forbidden): then the rule that
needs it predicts nothing, and the job writes no value whose safety depends on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core import keys
from reconciler.core.chain import Chain
from reconciler.core.gotext import int64_base0
from reconciler.core.model import Bsl
from reconciler.core.reason import PlanWarning, Reason
from reconciler.core.state import controller_limit

Raw = Mapping[str, Any]

OADP_DEPLOYMENT = "oadp-kubevirt-datamover-controller-manager"  # in the DPA's (Velero's) namespace
UPSTREAM_DEPLOYMENT = ("kubevirt-datamover-system", "kubevirt-datamover-controller-manager")
MANAGER = "manager"  # the container that runs the controller
FLAG = "max-incremental-backups"
# The controller's boolean flags (cmd/main.go, and controller-runtime's zap options): a bool flag
# takes no separate value, so the argument after it is the next flag, not its value.
BOOL_FLAGS = frozenset({"leader-elect", "metrics-secure", "enable-http2", "zap-devel"})


def default_deployments(velero_namespace: str) -> tuple[tuple[str, str], ...]:
    """Where the controller runs, tried in order: OADP's beside Velero, then the upstream install."""
    return ((velero_namespace, OADP_DEPLOYMENT), UPSTREAM_DEPLOYMENT)


# ----------------------------------------------------------------------------- the global limit


@dataclass(frozen=True)
class GlobalLimit:
    """The controller's --max-incremental-backups (0: unlimited); `value` None when it is unknown."""

    value: int | None
    source: str  # "deployment velero/…", "flag --controller-max-incremental", "snapshot: deployment …", "unknown"
    note: str = ""  # why it is unknown, or how it was read

    @property
    def known(self) -> bool:
        return self.value is not None


def flag_value(argv: Sequence[str]) -> int | str | None:
    """The value Go's flag package gives --max-incremental-backups from `argv`.

    An int; None when the flag is absent (the controller's default 0 then applies); a str saying
    why the controller would refuse it (it exits on a bad or negative value, so nothing of it runs).
    Parsing stops where Go's does: at `--` or at the first argument that is not a flag. Both
    `--flag=N` and `--flag N` (and one dash) are read; the last occurrence wins.
    """
    found: int | str | None = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if len(arg) < 2 or arg[0] != "-":
            break
        if arg == "--":
            break
        name = arg[2:] if arg[1] == "-" else arg[1:]
        name, has_value, value = name.partition("=")
        if name in BOOL_FLAGS:
            continue
        if not has_value:
            if not args:
                return f"argument --{name} has no value" if name == FLAG else found
            value = args.pop(0)
        if name != FLAG:
            continue
        number = int64_base0(value)
        if number is None:
            found = f"--{FLAG}={value!r}: not an integer (Go's strconv.ParseInt base 0)"
        elif number < 0:
            found = f"--{FLAG}={value}: negative; the controller refuses it and does not start"
        else:
            found = number
    return found


def limit_from_deployment(obj: Raw, *, source: str) -> GlobalLimit:
    """The limit the Deployment's `manager` container runs with (`command[1:]` + `args`, as the kubelet joins them)."""
    spec = _map(_map(_map(obj, "spec"), "template"), "spec")
    containers = spec.get("containers")
    manager = (
        next((c for c in containers if isinstance(c, Mapping) and c.get("name") == MANAGER), None)
        if (isinstance(containers, list))
        else None
    )
    if manager is None:
        return GlobalLimit(None, "unknown", f"{source}: no container named {MANAGER!r}")
    command, args = manager.get("command"), manager.get("args")
    argv = [str(a) for a in (command if isinstance(command, list) else [])[1:]]
    argv += [str(a) for a in (args if isinstance(args, list) else [])]
    value = flag_value(argv)
    if isinstance(value, str):
        return GlobalLimit(None, "unknown", f"{source}: container {MANAGER}: {value}")
    if value is None:
        return GlobalLimit(0, source, f"no --{FLAG} argument: the controller's default 0 (unlimited)")
    return GlobalLimit(value, source, f"--{FLAG}={value}")


def _map(obj: Raw, key: str) -> Raw:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


# ----------------------------------------------------------------------------------- trackers


def vm_name_hash(name: str) -> str:
    """The controller's HashForLabel: hex of the first 8 bytes of sha256(name)."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Tracker:
    namespace: str
    name: str
    vm_hash: str  # the vm-name-hash label
    checkpoint: str  # status.latestCheckpoint.name; "" when it names none

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def parse_tracker(obj: Raw) -> Tracker:
    meta = _map(obj, "metadata")
    labels = _map(meta, "labels")
    latest = _map(_map(obj, "status"), "latestCheckpoint").get("name")
    return Tracker(
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
        str(labels.get(keys.VM_NAME_HASH, "")),
        latest if isinstance(latest, str) else "",
    )


@dataclass(frozen=True)
class Trackers:
    """Every tracker that carries the hash label, by (namespace, hash); `known` False when they could not be read."""

    known: bool
    source: str  # "cluster", "not served" (no CRD), "snapshot", "unknown", "none"
    by_vm: Mapping[tuple[str, str], tuple[Tracker, ...]] = field(default_factory=dict)
    note: str = ""

    @classmethod
    def of(cls, trackers: Iterable[Tracker], *, source: str, note: str = "") -> Trackers:
        by_vm: dict[tuple[str, str], list[Tracker]] = {}
        for t in sorted(trackers, key=lambda t: (t.namespace, t.name)):
            if t.vm_hash:  # the controller finds trackers only by the label
                by_vm.setdefault((t.namespace, t.vm_hash), []).append(t)
        return cls(True, source, {k: tuple(v) for k, v in by_vm.items()}, note)

    @classmethod
    def unknown(cls, note: str) -> Trackers:
        return cls(False, "unknown", {}, note)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.by_vm.values())

    def for_vm(self, namespace: str, name: str) -> tuple[Tracker, ...]:
        return self.by_vm.get((namespace, vm_name_hash(name)), ())


@dataclass(frozen=True)
class Upstream:
    """What the job knows of the controller besides the VM and its chain."""

    limit: GlobalLimit
    trackers: Trackers


# For callers that model a controller left at its defaults (the simulator, unit tests).
DEFAULT = Upstream(GlobalLimit(0, "the controller's default", "assumed, not read"), Trackers.of((), source="none"))


# -------------------------------------------------------------------------------- the rules


def limit_without_job(original: str | None, limit: GlobalLimit) -> tuple[int, str] | None:
    """The limit the controller applies to the VM without this job, and where it comes from; None: unknown.

    The VM's own value (as found before the job took over) wins when it is a number the
    controller accepts; otherwise the global value.
    """
    own = controller_limit(original)
    if own is not None:
        return own, f"the VM's own {keys.MAX_INCREMENTAL}={original}"
    if limit.value is not None:
        return limit.value, f"the global --{FLAG}, {limit.source}"
    return None


def controller_limit_reason(chain: Chain, *, original: str | None, limit: GlobalLimit) -> Reason | None:
    """The controller's own max-incremental rule: a limit > 0 reached means a full without any action."""
    found = limit_without_job(original, limit)
    if found is None or found[0] <= 0 or chain.incrementals < found[0]:
        return None
    value, source = found
    return Reason(
        "controller-limit",
        f"{chain.incrementals} incrementals since the last full reach the controller's limit {value} ({source})",
        {"incrementals": chain.incrementals, "controllerLimit": value, "controllerLimitFrom": source},
    )


def tracker_findings(
    namespace: str, name: str, chain: Chain, trackers: Trackers
) -> tuple[Reason | None, PlanWarning | None]:
    """tracker-mismatch when every tracker of the VM names another checkpoint than the index's latest.

    No tracker is no mismatch (the controller recreates one from the archived vmbt.json). With
    several trackers the controller takes one of them in no defined order: a mismatch is predicted
    only when all of them disagree; when only some do, a warning says the outcome is open.
    """
    latest = chain.latest
    if not trackers.known or latest is None:
        return None, None
    found = trackers.for_vm(namespace, name)
    stale = [t for t in found if t.checkpoint != latest.id]
    if not stale:
        return None, None
    numbers = {
        "trackers": [{"name": t.ref, "checkpoint": t.checkpoint or None} for t in found],
        "indexLatest": latest.id,
    }
    names = "; ".join(f"{t.ref} names {t.checkpoint or 'no checkpoint'}" for t in stale)
    if len(stale) == len(found):
        return Reason(
            "tracker-mismatch",
            f"tracker {names}, the index's latest is {latest.id}: the controller takes a full",
            numbers,
        ), None
    return None, PlanWarning(
        "trackers-disagree",
        f"{len(found)} trackers for this VM and {names}, while the "
        f"index's latest is {latest.id}: the controller takes one of them, full or not",
        numbers,
    )


def storage_warning(bsls: Sequence[Bsl]) -> PlanWarning | None:
    """A VM whose Schedules write to two storage locations: one tracker serves both, so backups alternate fulls."""
    where = {(b.config.get("s3Url", ""), b.bucket, b.datamover_prefix): f"{b.namespace}/{b.name}" for b in bsls}
    if len(where) < 2:
        return None
    names = sorted(where.values())
    return PlanWarning(
        "two-bsls",
        f"the VM's Schedules write to {len(names)} BackupStorageLocations "
        f"({', '.join(names)}): its one tracker names the checkpoint of whichever was written last, "
        "so a backup to another one finds a mismatch and is full",
        {"bsls": names},
    )


def size_warnings(chain: Chain) -> tuple[PlanWarning, ...]:
    """One warning per object whose listed size differs from the index's (existence decides; sizes only warn)."""
    return tuple(
        PlanWarning(
            "size-mismatch",
            str(m),
            {
                "checkpoint": m.checkpoint,
                "objectPath": m.object_path,
                "bucketBytes": m.bucket_size,
                "indexBytes": m.index_size,
            },
        )
        for m in chain.mismatches
    )
