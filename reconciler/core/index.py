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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, NotRequired, TypedDict, TypeVar

from reconciler.core.gojson import Esc, GoSyntaxError, Num, Obj, decode_utf8, kind, parse, source
from reconciler.core.gotext import GO_SPACE, go_time, int64, is_quantity
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
        decoded = _decode_struct(_GoIndex(), document, _INDEX_FIELDS)
    except _FieldError as error:
        return Unreadable(str(error))
    return _to_index(decoded)


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


# ----------------------------------------------------------------------- decoding into Go
# Mutable mirrors of the Go structs. Decoding writes into them the way reflection does in
# encoding/json, so that duplicate keys and nulls have Go's effect.


@dataclass(slots=True)
class _Slice:
    """A Go slice: `backing` holds every element ever stored, the first `length` of them live."""

    backing: list[Any] = field(default_factory=list)
    length: int = 0


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
    files: _Slice | None = None
    pvcs: _Slice | None = None
    pvc_sizes: _Slice | None = None
    referenced_by: _Slice | None = None
    vmb_object_path: str = ""
    vmbt_object_path: str = ""
    superseded: bool = False


@dataclass(slots=True)
class _GoIndex:
    vm_name: str = ""
    namespace: str = ""
    checkpoints: _Slice | None = None
    last_updated: datetime | None = None


class _FieldError(Exception):
    """A value Go refuses. `path` collects the location innermost first, as the error unwinds."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []  # field names and "[i]" indices, innermost first

    def __str__(self) -> str:
        where = ""
        for segment in reversed(self.path):
            where += segment if segment.startswith("[") or not where else "." + segment
        return f"{where or 'document'}: {self.message}"


_Decoder = Callable[[Any, object], Any]  # (current Go value, JSON value) -> new Go value
_S = TypeVar("_S")


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # the json tag
    attr: str  # the mirror's attribute
    decode: _Decoder


def _fields(*fields: _Field) -> dict[str, _Field]:
    """Look-up table by exact name (Go tries it first) and by folded name."""
    return {name: f for f in fields for name in (f.name, _fold(f.name))}


# U+017F (long s) and U+212A (Kelvin sign) are the only non-ASCII runes whose simple case folding
# reaches ASCII; Go's foldName maps them to 'S' and 'K'. Any other non-ASCII rune cannot match an
# ASCII field name, so it is left as it is.
_NON_ASCII_FOLDS: Final = str.maketrans({"\u017f": "S", "\u212a": "K"})


def _fold(key: str) -> str:
    if key.isascii():
        return key.upper()
    return "".join(c.upper() if c.isascii() else c for c in key.translate(_NON_ASCII_FOLDS))


def _type_error(expected: str, value: object) -> _FieldError:
    return _FieldError(f"expected {expected}, got {kind(value)}")


def _decode_struct(target: _S, value: object, fields: Mapping[str, _Field]) -> _S:
    if value is None:
        return target  # null leaves a struct as it is
    if not isinstance(value, Obj):
        raise _type_error("object", value)
    for key, item in value:
        f = fields.get(key) or fields.get(_fold(key))
        if f is None:
            continue  # unknown key: skipped, whatever its value
        try:
            setattr(target, f.attr, f.decode(getattr(target, f.attr), item))
        except _FieldError as error:
            error.path.append(f.name)
            raise
    return target


def _struct_of(fields: Callable[[], Mapping[str, _Field]]) -> _Decoder:
    def decode(current: Any, value: object) -> Any:
        return _decode_struct(current, value, fields())

    return decode


def _slice_of(element: _Decoder, zero: Callable[[], object]) -> _Decoder:
    def decode(current: _Slice | None, value: object) -> _Slice | None:
        if value is None:
            return None  # null makes the slice nil
        if type(value) is not list:
            raise _type_error("array", value)
        if not value:
            return _Slice()  # [] makes a new empty slice
        # Go decodes into the existing backing array, growing it as needed, then truncates.
        target = current if current is not None else _Slice()
        backing = target.backing
        for i, item in enumerate(value):
            if i == len(backing):
                backing.append(zero())
            try:
                backing[i] = element(backing[i], item)
            except _FieldError as error:
                error.path.append(f"[{i}]")
                raise
        target.length = len(value)
        return target

    return decode


def _string_value(current: str, value: object) -> str:
    if value is None:
        return current
    if isinstance(value, str):
        return value
    if isinstance(value, Esc):
        return value.text
    raise _type_error("string", value)


def _bool_value(current: bool, value: object) -> bool:
    if value is None:
        return current
    if isinstance(value, bool):
        return value
    raise _type_error("boolean", value)


def _int64_value(current: int, value: object) -> int:
    if value is None:
        return current
    if not isinstance(value, Num):
        raise _type_error("integer (int64)", value)
    n = int64(value.text)  # JSON number syntax has no '+' and no leading zeros
    if n is None:
        text = value.text if len(value.text) <= 64 else value.text[:64] + "..."
        raise _FieldError(f"expected integer (int64), got {text}")
    return n


def _time_value(current: datetime | None, value: object) -> datetime | None:
    if value is None:
        return current  # Time.UnmarshalJSON ignores null
    if not isinstance(value, str | Esc):
        raise _FieldError(f"expected RFC 3339 string, got {kind(value)}")
    try:
        if isinstance(value, Esc):  # Go parses the raw text: a backslash is never valid
            raise ValueError
        return go_time(value)
    except ValueError:
        raise _FieldError(f"not RFC 3339: {source(value)}") from None


def _quantity_value(current: None, value: object) -> None:
    """Validate one resource.Quantity; its value is not kept (null or not, it stays None)."""
    if isinstance(value, Num):
        text, shown = value.text, value.text[:64]
    elif isinstance(value, str | Esc):
        text, shown = (value.raw if isinstance(value, Esc) else value), source(value)
    elif value is not None:
        raise _FieldError(f"expected quantity (string or number), got {kind(value)}")
    else:
        return
    if not is_quantity(text.strip(GO_SPACE)):
        raise _FieldError(f"not a Kubernetes quantity: {shown}")


def _file_fields() -> Mapping[str, _Field]:
    return _FILE_FIELDS


def _checkpoint_fields() -> Mapping[str, _Field]:
    return _CHECKPOINT_FIELDS


_STRINGS: Final = _slice_of(_string_value, str)
_FILE_FIELDS: Final = _fields(
    _Field("filename", "filename", _string_value),
    _Field("diskName", "disk_name", _string_value),
    _Field("size", "size", _int64_value),
    _Field("objectPath", "object_path", _string_value),
)
_CHECKPOINT_FIELDS: Final = _fields(
    _Field("id", "id", _string_value),
    _Field("type", "type", _string_value),
    _Field("parent", "parent", _string_value),
    _Field("timestamp", "timestamp", _time_value),
    _Field("vmBackup", "vm_backup", _string_value),
    _Field("files", "files", _slice_of(_struct_of(_file_fields), _GoFile)),
    _Field("pvcs", "pvcs", _STRINGS),
    _Field("pvcSizes", "pvc_sizes", _slice_of(_quantity_value, lambda: None)),
    _Field("referencedBy", "referenced_by", _STRINGS),
    _Field("vmbObjectPath", "vmb_object_path", _string_value),
    _Field("vmbtObjectPath", "vmbt_object_path", _string_value),
    _Field("superseded", "superseded", _bool_value),
)
_INDEX_FIELDS: Final = _fields(
    _Field("vmName", "vm_name", _string_value),
    _Field("namespace", "namespace", _string_value),
    _Field("checkpoints", "checkpoints", _slice_of(_struct_of(_checkpoint_fields), _GoCheckpoint)),
    _Field("lastUpdated", "last_updated", _time_value),
)


def _live(s: _Slice | None) -> list[Any]:
    return [] if s is None else s.backing[: s.length]


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
                    for f in _live(c.files)
                ),
                referenced_by=tuple(_live(c.referenced_by)),
                superseded=c.superseded,
                vmb_object_path=c.vmb_object_path,
                vmbt_object_path=c.vmbt_object_path,
            )
            for c in _live(go.checkpoints)
        ),
    )
