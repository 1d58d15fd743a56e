"""Decode a VM's checkpoint index (``index.json``) exactly as the controller's Go decoder sees it.

The controller reads the index with ``encoding/json.Unmarshal`` into ``uploader.VMIndex`` and treats
any error as "unreadable index" (its next backup is then a full one). This module reproduces that
accept/reject decision and the decoded values, then maps them onto the domain objects of ``model``.
What it mirrors (Go 1.25 ``encoding/json`` v1, ``time``, apimachinery ``resource.Quantity``):

* Syntax is checked first, for the whole document, with Go's grammar (``gojson``), and the input
  is UTF-8 and nothing else; ``str`` input is taken as the UTF-8 bytes it encodes to.
* Keys match fields by Go's case folding: ASCII case-insensitively, plus the two non-ASCII runes
  that fold into ASCII (U+017F long s, U+212A Kelvin sign). Unknown keys are skipped, whatever
  their value.
* Every occurrence of a duplicate key is decoded, in document order, *into* the value the earlier
  ones left, as Go does: scalars are replaced, objects are merged field by field, and arrays are
  decoded into the slice's backing array, so elements a shorter array dropped can come back.
* ``null`` sets a slice to nil and leaves a string, integer, bool, time or struct as it was.
* A value of the wrong JSON type in a known field makes the whole document unreadable, as do an
  ``int64`` literal that is not an integer in range, a time ``time.Time.UnmarshalJSON`` rejects and
  a quantity ``resource.Quantity.UnmarshalJSON`` rejects. Both unmarshalers read the raw JSON text,
  so a string written with escapes is never a valid time or quantity.

Errors name the field with a path (``checkpoints[2].files[0].size``) and the first one in
document order is reported. Times come out as aware UTC datetimes, truncated to microseconds. Go's
zero time (the instant 0001-01-01T00:00:00Z, whatever offset it is written with) is ``None``.
Times Go accepts but ``datetime`` cannot hold (year 0000, or an offset pushing the instant past
year 9999) are clamped to ``datetime.min`` / ``datetime.max`` in UTC: they stay present, and stay
older / newer than any representable time.

Go's grammar lives in ``gojson`` and its reflection rules (field matching, duplicates, nulls,
slices, the scalar types) in ``godecode``; this module declares the controller's structs for
them, enforces this job's own size bounds and maps the result onto ``model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final, NotRequired, TypedDict

from reconciler.core.godecode import (
    Field,
    FieldError,
    Slice,
    bool_value,
    decode_struct,
    fields,
    int64_value,
    live,
    quantity_value,
    slice_of,
    string_value,
    struct_of,
    time_value,
)
from reconciler.core.gojson import GoSyntaxError, decode_utf8, parse
from reconciler.core.index_fast import parse_common
from reconciler.core.model import Checkpoint, FetchFailed, FileRef, Index, Unreadable

__all__ = ["MAX_INDEX_BYTES", "MAX_INDEX_VALUES", "RawCheckpoint", "RawFile", "RawIndex", "parse_index"]

MAX_INDEX_BYTES: Final = 16 * 1024 * 1024
# Parsing costs memory per value, not per byte: 16 MiB of `{},{},...` is 5.6 million objects and
# took 1.3-2.1 GB; at this bound the worst measured was 170 MiB. Both bounds are this job's own,
# not the controller's: Go decodes such a document. The uploader adds every backup's name to every
# ancestor's referencedBy, so a chain of over a thousand backups can pass them (11.5 bytes a value
# with names like b-12). Past a bound the job therefore decides nothing for that VM (`error`,
# reason index-too-large) rather than predict the full an unreadable index would mean.
MAX_INDEX_VALUES: Final = 1_000_000
TOO_LARGE: Final = "index-too-large"


# --------------------------------------------------------------------------------- wire shape
# The document as the controller writes it (json.Marshal of uploader.VMIndex). Documentation of
# the wire format; the decoder below accepts every variation Go's decoder accepts.


class RawFile(TypedDict):
    """uploader.CheckpointFile."""

    filename: str
    diskName: NotRequired[str]  # omitempty
    size: int  # int64
    objectPath: str


class RawCheckpoint(TypedDict):
    """uploader.CheckpointEntry."""

    id: str
    type: str  # "Full" / "Incremental" in practice, compared case-insensitively downstream
    parent: NotRequired[str]  # omitempty; absent on fulls
    timestamp: str  # RFC 3339; Go's zero time is written "0001-01-01T00:00:00Z"
    vmBackup: str
    files: list[RawFile] | None  # a nil slice is written as null
    pvcs: list[str] | None
    pvcSizes: NotRequired[list[str | int | float | None]]  # resource.Quantity: string or number
    referencedBy: list[str] | None
    vmbObjectPath: NotRequired[str]
    vmbtObjectPath: NotRequired[str]
    superseded: NotRequired[bool]  # newer controllers; omitempty, so only `true` is ever written


class RawIndex(TypedDict):
    """uploader.VMIndex. Checkpoints are ordered newest last."""

    vmName: str
    namespace: str
    checkpoints: list[RawCheckpoint] | None
    lastUpdated: NotRequired[str]  # RFC 3339


# ------------------------------------------------------------------------------------ entry


def parse_index(data: bytes | str, *, max_bytes: int = MAX_INDEX_BYTES) -> Index | Unreadable | FetchFailed:
    """Decode ``index.json`` as the controller does; ``Unreadable`` wherever Go returns an error, and
    ``FetchFailed`` (index-too-large) past this job's own memory bounds, where Go would still decode it."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if len(raw) > max_bytes:
        return FetchFailed(
            f"index is {len(raw)} bytes, over this job's {_size(max_bytes)} limit; the "
            "controller may still read it, so nothing is decided for this VM",
            TOO_LARGE,
        )
    # Counting costs 20 us for a 25 KB index; a document of fewer bytes cannot hold more values.
    values = raw.count(b",") + raw.count(b"{") if len(raw) > MAX_INDEX_VALUES else 0  # an upper bound
    if values > MAX_INDEX_VALUES:
        return FetchFailed(
            f"index holds up to {values:,} values in {len(raw):,} bytes, over this job's "
            f"{MAX_INDEX_VALUES:,} limit; the controller may still read it, so nothing is decided "
            "for this VM",
            TOO_LARGE,
        )
    text = decode_utf8(raw)
    index = parse_common(text)
    return index if index is not None else _decode_exact(text)


def _decode_exact(text: str) -> Index | Unreadable:
    """Go's decoder, every rule of it: what decides whenever ``parse_common`` declines."""
    try:
        document = parse(text)
    except GoSyntaxError as error:
        return Unreadable(error.describe(text))
    try:
        decoded = decode_struct(_GoIndex(), document, _INDEX_FIELDS)
    except FieldError as error:
        return Unreadable(str(error))
    return _to_index(decoded)


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


# ----------------------------------------------------------------------- decoding into Go
# Mutable mirrors of the Go structs and their json tags. `godecode` writes into them the way
# reflection does in encoding/json, so that duplicate keys and nulls have Go's effect.


@dataclass(slots=True)
class _GoFile:
    filename: str = ""
    disk_name: str = ""
    size: int = 0
    object_path: str = ""


@dataclass(slots=True)
class _GoCheckpoint:
    id: str = ""
    type: str = ""
    parent: str = ""
    timestamp: datetime | None = None
    vm_backup: str = ""
    files: Slice | None = None
    pvcs: Slice | None = None
    pvc_sizes: Slice | None = None
    referenced_by: Slice | None = None
    vmb_object_path: str = ""
    vmbt_object_path: str = ""
    superseded: bool = False


@dataclass(slots=True)
class _GoIndex:
    vm_name: str = ""
    namespace: str = ""
    checkpoints: Slice | None = None
    last_updated: datetime | None = None


def _file_fields() -> Mapping[str, Field]:
    return _FILE_FIELDS


def _checkpoint_fields() -> Mapping[str, Field]:
    return _CHECKPOINT_FIELDS


_STRINGS: Final = slice_of(string_value, str)
_FILE_FIELDS: Final = fields(
    Field("filename", "filename", string_value),
    Field("diskName", "disk_name", string_value),
    Field("size", "size", int64_value),
    Field("objectPath", "object_path", string_value),
)
_CHECKPOINT_FIELDS: Final = fields(
    Field("id", "id", string_value),
    Field("type", "type", string_value),
    Field("parent", "parent", string_value),
    Field("timestamp", "timestamp", time_value),
    Field("vmBackup", "vm_backup", string_value),
    Field("files", "files", slice_of(struct_of(_file_fields), _GoFile)),
    Field("pvcs", "pvcs", _STRINGS),
    Field("pvcSizes", "pvc_sizes", slice_of(quantity_value, lambda: None)),
    Field("referencedBy", "referenced_by", _STRINGS),
    Field("vmbObjectPath", "vmb_object_path", string_value),
    Field("vmbtObjectPath", "vmbt_object_path", string_value),
    Field("superseded", "superseded", bool_value),
)
_INDEX_FIELDS: Final = fields(
    Field("vmName", "vm_name", string_value),
    Field("namespace", "namespace", string_value),
    Field("checkpoints", "checkpoints", slice_of(struct_of(_checkpoint_fields), _GoCheckpoint)),
    Field("lastUpdated", "last_updated", time_value),
)


def _to_index(go: _GoIndex) -> Index:
    return Index(
        vm_name=go.vm_name,
        namespace=go.namespace,
        last_updated=go.last_updated,
        checkpoints=tuple(
            Checkpoint(
                id=c.id,
                type=c.type,
                parent=c.parent,
                timestamp=c.timestamp,
                vm_backup=c.vm_backup,
                files=tuple(
                    FileRef(filename=f.filename, disk=f.disk_name, size=f.size, object_path=f.object_path)
                    for f in live(c.files)
                ),
                referenced_by=tuple(live(c.referenced_by)),
                superseded=c.superseded,
                vmb_object_path=c.vmb_object_path,
                vmbt_object_path=c.vmbt_object_path,
            )
            for c in live(go.checkpoints)
        ),
    )
