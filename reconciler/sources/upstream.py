"""The controller's global limit and trackers, read from the cluster or found in a snapshot.

Both sources resolve them the same way (`read_limit`, `read_trackers`); only how an object is
fetched differs. Missing evidence stays missing: a Deployment that cannot be read, or trackers
that cannot be listed, are *unknown*, never "0" or "none".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.controller import (
    GlobalLimit,
    Trackers,
    default_deployments,
    limit_from_deployment,
    parse_tracker,
)
from reconciler.errors import NotFoundError, SourceError

Raw = Mapping[str, Any]
# (namespace, name) -> the Deployment, or None when it does not exist; raises SourceError otherwise.
DeploymentGetter = Callable[[str, str], Raw | None]


@dataclass(frozen=True)
class ControllerOptions:
    """How to learn the controller's global --max-incremental-backups (the CLI's two flags)."""

    deployment: tuple[str, str] | None = None  # --controller-deployment NS/NAME: only this one, and it must exist
    stated: int | None = None  # --controller-max-incremental N: no read at all

    def candidates(self, velero_namespace: str) -> tuple[tuple[str, str], ...]:
        return (self.deployment,) if self.deployment else default_deployments(velero_namespace)


def read_limit(
    get: DeploymentGetter, options: ControllerOptions, *, velero_namespace: str, prefix: str = ""
) -> tuple[GlobalLimit, Raw | None, list[str]]:
    """The global limit, the Deployment it came from (to record), and errors for the plan.

    The candidates are tried in order; the first that exists decides. None found is unknown but
    not an error, unless `--controller-deployment` named it. A read that fails (403, 5xx) is
    unknown and an error: the job's RBAC or the API server needs a look.
    """
    if options.stated is not None:
        return GlobalLimit(options.stated, "flag --controller-max-incremental", "stated, not read"), None, []
    tried = []
    for namespace, name in options.candidates(velero_namespace):
        try:
            obj = get(namespace, name)
        except SourceError as exc:
            return GlobalLimit(None, "unknown", str(exc)), None, [f"controller {exc}"]
        if obj is None:
            tried.append(f"{namespace}/{name}")
            continue
        return limit_from_deployment(obj, source=f"{prefix}deployment {namespace}/{name}"), obj, []
    note = (
        f"no controller Deployment {' or '.join(tried)}; point at it with --controller-deployment NS/NAME "
        "or state the value with --controller-max-incremental N"
    )
    return GlobalLimit(None, "unknown", note), None, [note] if options.deployment else []


def live_getter(get: Callable[[str, str], Raw]) -> DeploymentGetter:
    """A getter over an API call that raises NotFoundError for an absent Deployment."""

    def getter(namespace: str, name: str) -> Raw | None:
        try:
            return get(namespace, name)
        except NotFoundError:
            return None

    return getter


def read_trackers(
    list_all: Callable[[], Iterable[Raw]], *, source: str = "cluster"
) -> tuple[Trackers, list[dict[str, Any]], list[str]]:
    """Every tracker (and the raw objects, to record), or why they are unknown.

    A cluster without the CRD (404) has no trackers: normal. Any other failure leaves them unknown;
    the tracker check is then skipped, and the plan says so in its errors.
    """
    try:
        raws = [dict(obj) for obj in list_all()]
    except NotFoundError:
        return Trackers.of((), source="not served", note="no VirtualMachineBackupTracker CRD on the cluster"), [], []
    except SourceError as exc:
        return Trackers.unknown(str(exc)), [], [f"{exc}: tracker check skipped"]
    return Trackers.of((parse_tracker(obj) for obj in raws), source=source), raws, []


def recorded_deployment(obj: Raw) -> dict[str, Any]:
    """What a snapshot keeps of the controller's Deployment: its name and its containers' command and
    args, nothing else (environment values and the rest of the pod spec stay in the cluster)."""
    meta = obj.get("metadata") or {}
    pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = [
        {k: c[k] for k in ("name", "command", "args") if k in c}
        for c in pod.get("containers") or []
        if isinstance(c, Mapping)
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion") if k in meta},
        "spec": {"template": {"spec": {"containers": containers}}},
    }
