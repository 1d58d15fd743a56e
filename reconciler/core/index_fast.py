"""The common case of ``parse_index``: an index the controller wrote itself, in one C scan and one walk.

Such a document has each field once, under its exact name, with a value of the right JSON type and
no escapes. For it, Go's decoder and a plain ``json`` scan see the same values, so the walk below
builds the ``Index`` directly, about five times faster than the exact decoder's general machinery
(case folding, duplicate merging, raw literals). Anything else — an unknown or differently cased
key, a duplicate key, a float, a backslash anywhere, a null list element, an integer out of int64
range, a time or quantity Go refuses — gives ``None``, and the exact decoder in ``index`` decides
and words the error. A property test holds the two to the same result on every document.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from json import JSONDecoder
from typing import Any, Final

from reconciler.core.gotext import GO_SPACE, go_time, is_quantity
from reconciler.core.model import Checkpoint, FileRef, Index

__all__ = ["parse_common"]

_INDEX_KEYS: Final = frozenset({"vmName", "namespace", "checkpoints", "lastUpdated"})
_CHECKPOINT_KEYS: Final = frozenset(
    {
        "id",
        "type",
        "parent",
        "timestamp",
        "vmBackup",
        "files",
        "pvcs",
        "pvcSizes",
        "referencedBy",
        "vmbObjectPath",
        "vmbtObjectPath",
        "superseded",
    }
)
_FILE_KEYS: Final = frozenset({"filename", "diskName", "size", "objectPath"})
_INT64: Final = range(-(1 << 63), 1 << 63)
_NO_LIST: Final[tuple[()]] = ()


class _Unusual(Exception):
    """Something the exact decoder must judge."""


def _members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _Unusual  # a duplicate key: Go decodes every occurrence into the earlier value
    return members


def _refuse(_: str) -> Any:
    raise _Unusual  # floats (never a valid int64) and NaN/Infinity (never valid JSON)


_SCANNER: Final = JSONDecoder(object_pairs_hook=_members, parse_float=_refuse, parse_constant=_refuse)


def parse_common(text: str) -> Index | None:
    """The Index Go decodes from `text`, if `text` is the common case; otherwise None."""
    if "\\" in text:
        return None  # escapes: Go's unmarshalers read times and quantities raw, the C scanner does not
    try:
        return _index(_SCANNER.decode(text))
    except (_Unusual, ValueError, RecursionError):  # ValueError: bad syntax, time, or a huge int
        return None


# Null leaves a string, time, bool or integer at its zero value and makes a list nil, as in Go,
# because in a document without duplicates the value before the null is the zero value.


def _index(doc: Any) -> Index:
    if type(doc) is not dict or not doc.keys() <= _INDEX_KEYS:
        raise _Unusual
    return Index(
        vm_name=_string(doc.get("vmName")),
        namespace=_string(doc.get("namespace")),
        last_updated=_time(doc.get("lastUpdated")),
        checkpoints=tuple(_checkpoint(c) for c in _list(doc.get("checkpoints"))),
    )


def _checkpoint(c: Any) -> Checkpoint:
    if type(c) is not dict or not c.keys() <= _CHECKPOINT_KEYS:
        raise _Unusual
    for pvc in _list(c.get("pvcs")):
        _string(pvc, element=True)
    for quantity in _list(c.get("pvcSizes")):
        _quantity(quantity)
    superseded = c.get("superseded")
    if superseded is not None and type(superseded) is not bool:
        raise _Unusual
    return Checkpoint(
        id=_string(c.get("id")),
        type=_string(c.get("type")),
        parent=_string(c.get("parent")),
        timestamp=_time(c.get("timestamp")),
        vm_backup=_string(c.get("vmBackup")),
        files=tuple(_file(f) for f in _list(c.get("files"))),
        referenced_by=tuple(_string(r, element=True) for r in _list(c.get("referencedBy"))),
        superseded=bool(superseded),
        vmb_object_path=_string(c.get("vmbObjectPath")),
        vmbt_object_path=_string(c.get("vmbtObjectPath")),
    )


def _file(f: Any) -> FileRef:
    if type(f) is not dict or not f.keys() <= _FILE_KEYS:
        raise _Unusual
    size = f.get("size")
    if size is None:
        size = 0
    elif type(size) is not int or size not in _INT64:
        raise _Unusual
    return FileRef(
        filename=_string(f.get("filename")),
        disk=_string(f.get("diskName")),
        size=size,
        object_path=_string(f.get("objectPath")),
    )


def _list(value: Any) -> Sequence[Any]:
    if type(value) is list:
        return value
    if value is None:
        return _NO_LIST
    raise _Unusual


def _string(value: Any, *, element: bool = False) -> str:
    if type(value) is str:
        return value
    if value is None and not element:
        return ""
    raise _Unusual


def _time(value: Any) -> datetime | None:
    if type(value) is str:
        return go_time(value)  # ValueError where Go refuses it
    if value is None:
        return None
    raise _Unusual


def _quantity(value: Any) -> None:
    # Quantity.UnmarshalJSON reads the raw literal; without escapes or floats, str() gives it back
    # (only "-0" reads back as "0", and both are quantities).
    if type(value) is str:
        text = value.strip(GO_SPACE)
    elif type(value) is int:
        text = str(value)
    else:
        raise _Unusual
    if not is_quantity(text):
        raise _Unusual
