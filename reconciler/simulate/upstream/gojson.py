"""The model's own reading of ``index.json``: Go's ``json.Unmarshal`` into ``uploader.VMIndex``.

Written for the model from Go's documented decoding rules, apart from the job's decoder, so the
oracle does not inherit that decoder's mistakes. It keeps only what the controller's decision
reads (ids, types, parents, file object paths, the archived tracker's path) and decides, as Go
does, whether the document decodes at all:

* JSON syntax as Go's scanner has it (Python's grammar is the same once NaN and Infinity are
  refused); a document nested deeper than Python's recursion limit is called unreadable here,
  where Go allows 10 000 levels (the golden data shows the difference);
* invalid UTF-8 and lone surrogate escapes inside strings become U+FFFD;
* keys match the struct's json tags exactly or case-insensitively (with the Kelvin sign and the
  long s folding to ``k`` and ``s``); unknown keys are skipped whatever they hold;
* a later duplicate key is decoded into what the earlier one left, arrays element by element;
* ``null`` leaves a field as it was (a slice becomes nil);
* a value of the wrong JSON type for its field, an ``int64`` that is not an integer literal in
  range, a ``time.Time`` that ``time.Parse(time.RFC3339, raw text)`` refuses (Go 1.20+ range
  checks on the zone offset), or a ``resource.Quantity`` that is not a quantity, fails the whole
  document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from json.scanner import py_make_scanner  # type: ignore[attr-defined]
from typing import Any, Final

__all__ = ["IndexDocument", "IndexEntry", "IndexFile", "UnreadableIndex", "decode_index"]


@dataclass(frozen=True)
class IndexFile:
    """uploader.CheckpointFile, as far as the decision reads it."""

    object_path: str
    disk_name: str = ""
    size: int = 0


@dataclass(frozen=True)
class IndexEntry:
    """uploader.CheckpointEntry, as far as the decision reads it."""

    id: str
    type: str = ""
    parent: str = ""
    files: tuple[IndexFile, ...] = ()
    vmbt_object_path: str = ""


@dataclass(frozen=True)
class IndexDocument:
    """A decoded index: its checkpoints in list order, newest last."""

    entries: tuple[IndexEntry, ...] = ()


class UnreadableIndex(Exception):
    """json.Unmarshal returned an error; the message says where."""


# ------------------------------------------------------------------------------ parsing


class _Escaped(str):
    """A JSON string written with escapes; `raw` is its text between the quotes, as written."""

    raw: str


class _Number(str):
    """A JSON number, kept as its literal."""


class _Members(list[tuple[str, Any]]):
    """A JSON object's members in document order, duplicates kept."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _scan_string(s: str, end: int, strict: bool = True) -> tuple[str, int]:
    text, after = json.decoder.scanstring(s, end, strict)  # type: ignore[attr-defined]
    raw = s[end : after - 1]
    if "\\" not in raw:
        return text, after
    escaped = _Escaped(text)
    escaped.raw = raw
    return escaped, after


def _decoder(*, keep_raw: bool) -> json.JSONDecoder:
    decoder = json.JSONDecoder(
        object_pairs_hook=_Members, parse_int=_Number, parse_float=_Number, parse_constant=_refuse_constant
    )
    if keep_raw:  # the pure-Python scanner calls parse_string for values; the C one does not
        decoder.parse_string = _scan_string  # type: ignore[attr-defined]
        decoder.scan_once = py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder


_FAST: Final = _decoder(keep_raw=False)
_EXACT: Final = _decoder(keep_raw=True)


def _parse(data: bytes) -> Any:
    # surrogateescape turns each byte of an invalid sequence into one lone surrogate; strings
    # replace every lone surrogate with U+FFFD below, which is Go's one-per-byte replacement.
    text = data.decode("utf-8", "surrogateescape")
    try:
        return (_EXACT if "\\" in text else _FAST).decode(text)
    except RecursionError:
        raise UnreadableIndex("nested deeper than this model follows") from None
    except ValueError as error:
        raise UnreadableIndex(f"invalid JSON: {error}") from None


# ----------------------------------------------------------------------------- decoding

_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_FOLDS: Final = str.maketrans({"\u212a": "k", "\u017f": "s"})


def _fold(key: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in key.translate(_FOLDS))


class _Slice:
    """A Go slice: decoding into it reuses the backing array, whose tail may come back later."""

    def __init__(self) -> None:
        self.backing: list[Any] = []
        self.length = 0

    def live(self) -> list[Any]:
        return self.backing[: self.length]


class _Fail(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.path: list[str] = []


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, _Number):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, _Members) else "array"


def _string(current: str, value: Any) -> str:
    if value is None:
        return current
    if not isinstance(value, str) or isinstance(value, _Number):
        raise _Fail(f"cannot unmarshal {_kind(value)} into string")
    return _LONE_SURROGATE.sub("\ufffd", value)


def _bool(current: bool, value: Any) -> bool:
    if value is None:
        return current
    if not isinstance(value, bool):
        raise _Fail(f"cannot unmarshal {_kind(value)} into bool")
    return value


_INTEGER: Final = re.compile(r"-?[0-9]+")


def _int64(current: int, value: Any) -> int:
    if value is None:
        return current
    if not isinstance(value, _Number):
        raise _Fail(f"cannot unmarshal {_kind(value)} into int64")
    if not _INTEGER.fullmatch(value) or not -(2**63) <= int(value) < 2**63:
        raise _Fail(f"cannot unmarshal number {value[:40]} into int64")
    return int(value)


def _raw_text(value: Any) -> str:
    return value.raw if isinstance(value, _Escaped) else str(value)


# time.Parse(time.RFC3339, s): a one- or two-digit hour, an optional fraction after '.' or ','.
_RFC3339: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:[.,][0-9]+)?"
    r"(?:Z|[+-]([0-9]{2}):([0-9]{2}))"
)


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _time(current: bool, value: Any) -> bool:
    """Only whether a time is present is kept; Time.UnmarshalJSON reads the raw JSON text."""
    if value is None:
        return current
    text = _raw_text(value) if isinstance(value, str) and not isinstance(value, _Number) else None
    match = _RFC3339.fullmatch(text) if text is not None else None
    if match is None or isinstance(value, _Escaped):
        raise _Fail(f"cannot parse {_raw_text(value)[:40]!r} as RFC 3339")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    zone_hours, zone_minutes = (int(g) if g else 0 for g in match.groups()[6:])
    if not (1 <= month <= 12 and 1 <= day <= _days_in(month, year) and hour < 24 and minute < 60 and second < 60):
        raise _Fail(f"{text!r}: a field out of range")
    if zone_hours > 24 or zone_minutes > 60:
        raise _Fail(f"{text!r}: zone offset out of range")
    return True


# resource.ParseQuantity: a signed decimal number, then a binary or decimal suffix or an exponent.
_QUANTITY: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")


def _quantity(current: None, value: Any) -> None:
    """Quantity.UnmarshalJSON: null is zero; else the raw text, unquoted and trimmed, must parse."""
    text = _raw_text(value).strip() if isinstance(value, str) else None
    if value is not None and (text is None or _QUANTITY.fullmatch(text) is None):
        raise _Fail(f"not a quantity: {text[:40] if text is not None else _kind(value)}")


_Decode = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class _Struct:
    """A Go struct type: json tag -> (decoder, zero value factory)."""

    name: str
    fields: dict[str, tuple[_Decode, Callable[[], Any]]]
    folded: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "folded", {_fold(tag): tag for tag in self.fields})

    def zero(self) -> dict[str, Any]:
        return {tag: make() for tag, (_, make) in self.fields.items()}

    def decode(self, current: dict[str, Any], value: Any) -> dict[str, Any]:
        if value is None:
            return current
        if not isinstance(value, _Members):
            raise _Fail(f"cannot unmarshal {_kind(value)} into {self.name}")
        for key, item in value:
            tag = key if key in self.fields else self.folded.get(_fold(key))
            if tag is None:
                continue
            try:
                current[tag] = self.fields[tag][0](current[tag], item)
            except _Fail as failure:
                failure.path.append(tag)
                raise
        return current


def _slice_of(decode: _Decode, zero: Callable[[], Any]) -> _Decode:
    def decode_slice(current: _Slice | None, value: Any) -> _Slice | None:
        if value is None:
            return None
        if not isinstance(value, list) or isinstance(value, _Members):
            raise _Fail(f"cannot unmarshal {_kind(value)} into a slice")
        if not value:
            return _Slice()
        target = current if current is not None else _Slice()
        for i, item in enumerate(value):
            if i == len(target.backing):
                target.backing.append(zero())
            try:
                target.backing[i] = decode(target.backing[i], item)
            except _Fail as failure:
                failure.path.append(f"[{i}]")
                raise
        target.length = len(value)
        return target

    return decode_slice


def _nothing() -> None:
    return None


def _empty() -> str:
    return ""


_STRINGS: Final = _slice_of(_string, _empty)
_FILE: Final = _Struct(
    "CheckpointFile",
    {
        "filename": (_string, _empty),
        "diskName": (_string, _empty),
        "size": (_int64, int),
        "objectPath": (_string, _empty),
    },
)
_ENTRY: Final = _Struct(
    "CheckpointEntry",
    {
        "id": (_string, _empty),
        "type": (_string, _empty),
        "parent": (_string, _empty),
        "timestamp": (_time, bool),
        "vmBackup": (_string, _empty),
        "files": (_slice_of(_FILE.decode, _FILE.zero), _nothing),
        "pvcs": (_STRINGS, _nothing),
        "pvcSizes": (_slice_of(_quantity, _nothing), _nothing),
        "referencedBy": (_STRINGS, _nothing),
        "vmbObjectPath": (_string, _empty),
        "vmbtObjectPath": (_string, _empty),
        "superseded": (_bool, bool),
    },
)
_INDEX: Final = _Struct(
    "VMIndex",
    {
        "vmName": (_string, _empty),
        "namespace": (_string, _empty),
        "checkpoints": (_slice_of(_ENTRY.decode, _ENTRY.zero), _nothing),
        "lastUpdated": (_time, bool),
    },
)


def decode_index(data: bytes) -> IndexDocument:
    """``json.Unmarshal(data, &VMIndex{})``: the entries, or UnreadableIndex where Go errs."""
    document = _parse(data)
    try:
        decoded = _INDEX.decode(_INDEX.zero(), document)
    except _Fail as failure:
        where = "".join(p if p.startswith("[") else "." + p for p in reversed(failure.path)).lstrip(".")
        raise UnreadableIndex(f"{where or 'document'}: {failure}") from None
    checkpoints: _Slice | None = decoded["checkpoints"]
    return IndexDocument(
        tuple(
            IndexEntry(
                id=e["id"],
                type=e["type"],
                parent=e["parent"],
                vmbt_object_path=e["vmbtObjectPath"],
                files=tuple(
                    IndexFile(f["objectPath"], f["diskName"], f["size"])
                    for f in (e["files"].live() if e["files"] is not None else ())
                ),
            )
            for e in (checkpoints.live() if checkpoints is not None else ())
        )
    )
