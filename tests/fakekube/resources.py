"""The resource types the fake server serves and their per-type behaviour.

Built-in types (core/v1, events.k8s.io/v1) and custom resources (velero.io, kubevirt.io) differ
in ways clients can observe: accepted patch types, generation handling, what DELETE returns,
whether an update without ``resourceVersion`` is allowed, field selectors and decode messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

FieldGetter = Callable[[dict[str, Any], str], str]
Converter = Callable[[dict[str, Any]], dict[str, Any]]

_META_FIELD_MESSAGE = '"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'
_CORE_FIELD_MESSAGE = "field label not supported: {label}"


def _dig(obj: Mapping[str, Any], dotted: str) -> str:
    cur: Any = obj
    for part in dotted.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    return cur if isinstance(cur, str) else str(cur)


def _event_field(obj: dict[str, Any], label: str) -> str:
    if label == "source":
        return _dig(obj, "source.component") or _dig(obj, "reportingComponent")
    return _dig(obj, label)


@dataclass(frozen=True)
class ResourceType:
    """One REST resource: where it lives, how it is named and how the server treats it."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool = True
    custom: bool = False
    status_subresource: bool = False
    short_names: tuple[str, ...] = ()
    storage: str = ""
    name_rule: str = "subdomain"
    return_deleted_object: bool = False
    allow_unconditional_update: bool = True
    # Field selector labels accepted on list, mapped to the label the getter understands.
    field_labels: Mapping[str, str] = field(default_factory=dict)
    field_error: str = _META_FIELD_MESSAGE
    field_getter: FieldGetter = _dig
    # Typed time fields in the *request* representation: dotted path -> is MicroTime.
    time_fields: Mapping[str, bool] = field(default_factory=dict)
    # Conversion between the request representation and the stored one.
    to_storage: Converter | None = None
    from_storage: Converter | None = None
    strict_event_validation: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_key(self) -> str:
        return self.storage or (f"{self.plural}.{self.group}" if self.group else self.plural)

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def typed(self) -> bool:
        return not self.custom

    @property
    def patch_types(self) -> tuple[str, ...]:
        if self.custom:
            return (JSON_PATCH, MERGE_PATCH, APPLY_PATCH)
        return (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)

    @property
    def body_types(self) -> tuple[str, ...]:
        if self.custom:
            return ("application/json", "application/yaml")
        return ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")

    @property
    def verbs(self) -> list[str]:
        return ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    def all_field_labels(self) -> dict[str, str]:
        labels = {"metadata.name": "metadata.name"}
        if self.namespaced:
            labels["metadata.namespace"] = "metadata.namespace"
        labels.update(self.field_labels)
        return labels


def _meta_labels(*extra: str) -> dict[str, str]:
    return {name: name for name in extra}


# events.k8s.io/v1 <-> core/v1 Event field names (the same stored object).
_EVENT_RENAMES = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
)


def events_v1_to_core(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    for new, old in _EVENT_RENAMES:
        out.pop(new, None)
        if obj.get(new) is not None:
            out[old] = obj[new]
    out["apiVersion"] = "v1"
    return out


def core_to_events_v1(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    for new, old in _EVENT_RENAMES:
        out.pop(old, None)
        value = obj.get(old)
        if value is None or value in ({}, 0, ""):
            continue
        if old == "source" and not any(value.values()):
            continue
        out[new] = value
    out["apiVersion"] = "events.k8s.io/v1"
    return out


_CORE_EVENT_FIELDS = _meta_labels(
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)

_EVENTS_V1_FIELDS = {
    "reason": "reason",
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reportingController": "reportingComponent",
    "type": "type",
}


def default_resources() -> list[ResourceType]:
    return [
        ResourceType(
            "",
            "v1",
            "namespaces",
            "namespace",
            "Namespace",
            namespaced=False,
            short_names=("ns",),
            name_rule="label",
            return_deleted_object=True,
            field_labels=_meta_labels("status.phase"),
            field_error=_CORE_FIELD_MESSAGE,
        ),
        ResourceType(
            "",
            "v1",
            "secrets",
            "secret",
            "Secret",
            field_labels=_meta_labels("type"),
            field_error=_CORE_FIELD_MESSAGE,
        ),
        ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", short_names=("cm",)),
        ResourceType(
            "",
            "v1",
            "events",
            "event",
            "Event",
            short_names=("ev",),
            storage="events",
            name_rule="path",
            field_labels=_CORE_EVENT_FIELDS,
            field_error=_CORE_FIELD_MESSAGE,
            field_getter=_event_field,
            time_fields={
                "eventTime": True,
                "series.lastObservedTime": True,
                "firstTimestamp": False,
                "lastTimestamp": False,
            },
        ),
        ResourceType(
            "events.k8s.io",
            "v1",
            "events",
            "event",
            "Event",
            short_names=("ev",),
            storage="events",
            name_rule="subdomain",
            field_labels=_EVENTS_V1_FIELDS,
            field_error=_CORE_FIELD_MESSAGE,
            field_getter=_event_field,
            time_fields={
                "eventTime": True,
                "series.lastObservedTime": True,
                "deprecatedFirstTimestamp": False,
                "deprecatedLastTimestamp": False,
            },
            to_storage=events_v1_to_core,
            from_storage=core_to_events_v1,
            strict_event_validation=True,
        ),
        ResourceType(
            "apps",
            "v1",
            "deployments",
            "deployment",
            "Deployment",
            status_subresource=True,
            short_names=("deploy",),
        ),
        _custom("velero.io", "v1", "schedules", "schedule", "Schedule", status=True),
        _custom(
            "velero.io",
            "v1",
            "backupstoragelocations",
            "backupstoragelocation",
            "BackupStorageLocation",
            status=True,
            short_names=("bsl",),
        ),
        _custom("velero.io", "v1", "backups", "backup", "Backup", status=False),
        _custom(
            "kubevirt.io",
            "v1",
            "virtualmachines",
            "virtualmachine",
            "VirtualMachine",
            status=True,
            short_names=("vm", "vms"),
        ),
    ]


def _custom(
    group: str,
    version: str,
    plural: str,
    singular: str,
    kind: str,
    *,
    status: bool,
    short_names: tuple[str, ...] = (),
) -> ResourceType:
    return ResourceType(
        group,
        version,
        plural,
        singular,
        kind,
        custom=True,
        status_subresource=status,
        short_names=short_names,
        return_deleted_object=True,
        allow_unconditional_update=False,
    )


def backup_tracker_resource() -> ResourceType:
    """KubeVirt's VirtualMachineBackupTracker CRD (backup.kubevirt.io/v1alpha1), which a cluster may
    lack: not served by default, so a list of it is the real 404 until a test registers it."""
    return custom_resource(
        "backup.kubevirt.io",
        "v1alpha1",
        "virtualmachinebackuptrackers",
        "VirtualMachineBackupTracker",
        short_names=("vmbt",),
    )


def custom_resource(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    status_subresource: bool = True,
    short_names: tuple[str, ...] = (),
) -> ResourceType:
    """Describe another CRD-backed resource to register with ``FakeKubeServer.register``."""
    return ResourceType(
        group,
        version,
        plural,
        kind.lower(),
        kind,
        namespaced=namespaced,
        custom=True,
        status_subresource=status_subresource,
        short_names=short_names,
        return_deleted_object=True,
        allow_unconditional_update=False,
    )
