"""Which VirtualMachines a Velero Schedule backs up, and where its backups go (design 2.2, 2.4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase

from reconciler.core.model import VM, BackupScope, Bsl, LabelSelector, Schedule

# How an administrator may name VirtualMachines in includedResources / excludedResources;
# Velero resolves these through discovery (plural, singular, short names, with the group).
VM_RESOURCE_NAMES = frozenset(
    {"*", "virtualmachines", "virtualmachine", "vm", "vms"}
    | {f"{n}.kubevirt.io" for n in ("virtualmachines", "virtualmachine", "vm", "vms")}
)


def selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: every matchLabel and every expression must hold."""
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for req in selector.requirements:
        present = req.key in labels
        if req.operator == "In" and not (present and labels[req.key] in req.values):
            return False
        if req.operator == "NotIn" and present and labels[req.key] in req.values:
            return False
        if req.operator == "Exists" and not present:
            return False
        if req.operator == "DoesNotExist" and present:
            return False
    return True


def _names_match(patterns: Sequence[str], name: str) -> bool:
    return any(p == "*" or fnmatchcase(name, p) for p in patterns)


def vms_included(scope: BackupScope) -> bool:
    """False when the resource filters leave VirtualMachines out of the backup."""
    if any(r.lower() in VM_RESOURCE_NAMES - {"*"} for r in scope.excluded_resources):
        return False
    if not scope.included_resources:
        return True
    return any(r.lower() in VM_RESOURCE_NAMES for r in scope.included_resources)


def in_scope(scope: BackupScope, vm: VM) -> bool:
    """Would a backup made from this template include the VM? (namespace, labels, resources)"""
    if not vms_included(scope):
        return False
    if _names_match(scope.excluded_namespaces, vm.namespace):
        return False
    if scope.included_namespaces and not _names_match(scope.included_namespaces, vm.namespace):
        return False
    if scope.label_selector is not None:
        return selector_matches(scope.label_selector, vm.labels)
    if scope.or_label_selectors:
        return any(selector_matches(s, vm.labels) for s in scope.or_label_selectors)
    return True


def _usable(bsl: Bsl, where: str) -> Bsl | str:
    if not bsl.problems:
        return bsl
    return f"{where}BackupStorageLocation {bsl.namespace}/{bsl.name} is rejected: {'; '.join(bsl.problems)}"


# Providers whose buckets this job reads, through the S3 API only: Velero's AWS plugin, which also
# serves every S3-compatible store (MinIO, Ceph RGW, NooBaa/ODF, IBM COS, ...) configured as `aws`.
# Velero names that plugin `velero.io/aws` and accepts the bare `aws`; the controller compares the
# provider in lower case. Azure and GCP (`azure`, `gcp`, `velero.io/azure`, `velero.io/gcp`) have
# APIs of their own, and any other provider is one this job cannot vouch for.
S3_PROVIDERS = frozenset({"aws", "velero.io/aws"})


def unsupported_provider(bsl: Bsl) -> str | None:
    """Why the job cannot read this BSL's bucket, or None when it speaks S3."""
    if bsl.provider.lower() in S3_PROVIDERS:
        return None
    return (
        f"BackupStorageLocation {bsl.namespace}/{bsl.name}: spec.provider {bsl.provider!r} is not "
        "S3-compatible; this job reads checkpoint indexes through the S3 API only (provider aws or velero.io/aws)"
    )


def resolve_bsl(schedule: Schedule, bsls: Sequence[Bsl]) -> Bsl | str:
    """The Schedule's BackupStorageLocation, or an error saying whether it is missing or rejected."""
    here = [b for b in bsls if b.namespace == schedule.namespace]
    wanted = schedule.scope.storage_location
    if wanted:
        for bsl in here:
            if bsl.name == wanted:
                return _usable(bsl, "spec.template.storageLocation: ")
        return f"spec.template.storageLocation: BackupStorageLocation {schedule.namespace}/{wanted} not found"
    defaults = sorted((b for b in here if b.default), key=lambda b: b.name)
    if not defaults:
        return (
            "no spec.template.storageLocation and no BackupStorageLocation with "
            f"spec.default: true in namespace {schedule.namespace}"
        )
    if len(defaults) > 1:
        names = ", ".join(b.name for b in defaults)
        return f"several default BackupStorageLocations ({names}); set spec.template.storageLocation"
    return _usable(defaults[0], "the default ")
