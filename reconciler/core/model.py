"""Domain objects shared by the core modules. Frozen; built only by the parsers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from reconciler.core.calendar import Days

VMKey = tuple[str, str]  # (namespace, name)
# Velero's --default-backup-ttl, used for a Schedule whose template sets no ttl (or ttl 0).
DEFAULT_TTL = timedelta(hours=720)


@dataclass(frozen=True)
class FileRef:
    """One data file of a checkpoint, as the index names it."""

    filename: str
    disk: str
    size: int
    object_path: str  # relative to the datamover prefix


@dataclass(frozen=True)
class Checkpoint:
    """One entry of a VM's checkpoint index."""

    id: str
    type: str
    parent: str  # "" on fulls (Go's zero value)
    timestamp: datetime | None  # None where the document had none (Go's zero time)
    vm_backup: str = ""
    files: tuple[FileRef, ...] = ()
    referenced_by: tuple[str, ...] = ()
    superseded: bool = False  # newer controllers mark entries they no longer chain from; reported only
    vmb_object_path: str = ""  # the archived VirtualMachineBackup (vmb.json), "" when not named
    vmbt_object_path: str = ""  # the archived tracker (vmbt.json), "" when not named

    @property
    def is_full(self) -> bool:
        # The controller compares the type case-insensitively.
        return self.type.lower() == "full"

    @property
    def bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class Index:
    """A VM's index.json as the controller's strict decoder sees it."""

    vm_name: str
    namespace: str
    last_updated: datetime | None
    checkpoints: tuple[Checkpoint, ...]


@dataclass(frozen=True)
class Unreadable:
    """A document the controller cannot decode; `reason` names the offending field."""

    reason: str


class NoIndex:
    """The index object does not exist."""

    def __repr__(self) -> str:
        return "NO_INDEX"


NO_INDEX = NoIndex()


@dataclass(frozen=True)
class FetchFailed:
    """The index could not be fetched (any failure but "not found"), or the job would not read it.

    Either way the job cannot say what the controller will decide: the VM is `error`, never a
    predicted full. `code` is the decision's reason ("" = index-fetch-failed).
    """

    reason: str
    code: str = ""


IndexResult = Index | Unreadable | NoIndex | FetchFailed


class Action(StrEnum):
    FORCE_FULL = "force-full"
    BLOCKED = "blocked"
    FULL_ANYWAY = "full-anyway"
    RELEASE = "release"
    KEEP = "keep"
    SKIP = "skip"
    ERROR = "error"


class ChainState(StrEnum):
    VALID = "valid"
    NO_INDEX = "no-index"
    EMPTY = "empty-index"
    UNREADABLE = "unreadable-index"
    ROOT_NOT_FULL = "root-not-full"
    BROKEN = "broken-chain"
    UNKNOWN = "unknown"  # not computed: the VM was skipped or its index could not be fetched


@dataclass(frozen=True)
class LabelRequirement:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    match_labels: Mapping[str, str] = field(default_factory=dict)
    requirements: tuple[LabelRequirement, ...] = ()


@dataclass(frozen=True)
class BackupScope:
    """What a Schedule's backups include (spec.template)."""

    included_namespaces: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = ()
    label_selector: LabelSelector | None = None
    or_label_selectors: tuple[LabelSelector, ...] = ()
    included_resources: tuple[str, ...] = ()
    excluded_resources: tuple[str, ...] = ()
    snapshot_move_data: bool | None = None  # None: the Velero server's default decides
    storage_location: str = ""


@dataclass(frozen=True)
class Schedule:
    namespace: str
    name: str
    uid: str
    resource_version: str
    annotations: Mapping[str, str]
    cron: str
    paused: bool
    created: datetime | None
    last_backup: datetime | None
    scope: BackupScope
    last_skipped: datetime | None = None  # status.lastSkipped (skipImmediately): a later one moves the next run
    # spec.template.ttl: how long Velero keeps each backup (720h when unset); None when unparsable.
    ttl: timedelta | None = DEFAULT_TTL
    # Why the object could not be parsed whole (then its scope is widened to what it may cover): the
    # Schedule stays in the plan, unusable, so its VMs are not taken for VMs no policy covers.
    problems: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Bsl:
    """A BackupStorageLocation, reduced to what locating the index needs."""

    namespace: str
    name: str
    provider: str
    bucket: str
    prefix: str
    default: bool
    config: Mapping[str, str]
    credential_name: str
    credential_key: str
    ca_cert: str  # PEM text, from spec.config.caCert or base64 spec.objectStorage.caCert
    problems: tuple[str, ...] = ()  # why it is rejected ("spec.objectStorage.bucket: missing"); () = usable

    @property
    def datamover_prefix(self) -> str:
        # A sibling of Velero's own folder, joined with a hyphen (design 2.2).
        return f"{self.prefix.rstrip('/')}-kubevirt-datamover" if self.prefix else "kubevirt-datamover"

    def index_key(self, vm: VMKey) -> str:
        return f"{self.datamover_prefix}/checkpoints/{vm[0]}/{vm[1]}/index.json"

    def vm_prefix(self, vm: VMKey) -> str:
        """Key prefix of a VM's checkpoint objects, relative to the datamover prefix."""
        return f"checkpoints/{vm[0]}/{vm[1]}/"


@dataclass(frozen=True)
class VM:
    namespace: str
    name: str
    uid: str
    resource_version: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    printable_status: str
    cbt_state: str

    @property
    def key(self) -> VMKey:
        return (self.namespace, self.name)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class Policy:
    """Effective full-backup policy; None means the policy is not set."""

    interval: int | None = None
    max_age: timedelta | None = None
    max_per_run: int | None = None
    days: Days | None = None  # calendar: a full in every window that falls on one of these days
    max_growth: float | None = None  # growth: incrementals' bytes over the full's bytes that make a full due

    @property
    def empty(self) -> bool:
        return self.interval is None and self.max_age is None and self.days is None and self.max_growth is None
