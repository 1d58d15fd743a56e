"""Decode a VM's checkpoint index (``index.json``) exactly as the controller's Go decoder sees it.

The controller reads the index with ``encoding/json.Unmarshal`` into ``uploader.VMIndex`` and treats
any error as "unreadable index" (its next backup is then a full one). This module reproduces that
accept/reject decision and the decoded values, then maps them onto the domain objects of ``model``.
What it mirrors (Go 1.25 ``encoding/json`` v1, ``time``, apimachinery ``resource.Quantity``):

* Syntax is checked first, for the whole document, with Go's grammar: no NaN/Infinity, comments,
  BOM, trailing commas or trailing text, and at most 10 000 nested arrays/objects (the scanner's
  limit). The parser is iterative, so no nesting depth can exhaust Python's stack.
* The input is UTF-8 and nothing else (no UTF-16/32 sniffing). Inside strings, every byte of an
  invalid sequence becomes one U+FFFD, and a ``\\uXXXX`` escape of a lone surrogate becomes U+FFFD,
  as Go's ``unquote`` does. ``str`` input is taken as the UTF-8 bytes it encodes to.
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

import sys
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from json import JSONDecoder
from re import compile
from typing import Any, Final, NotRequired, TypedDict, TypeVar

from reconciler.core.gotext import GO_SPACE, go_time, int64, is_quantity
from reconciler.core.index_fast import parse_common
from reconciler.core.model import Checkpoint, FileRef, Index, Unreadable

__all__ = ["MAX_INDEX_BYTES", "MAX_INDEX_VALUES", "RawCheckpoint", "RawFile", "RawIndex", "parse_index"]

MAX_INDEX_BYTES: Final = 16 * 1024 * 1024
# Parsing costs memory per value, not per byte: 16 MiB of `{},{},...` is 5.6 million objects and
# took 1.3-2.1 GB; at this bound the worst measured was 170 MiB. A controller-written index spends
# over 30 bytes per value (a 16 MiB one would hold under 560,000), so only a document of mostly
# empty values reaches it.
MAX_INDEX_VALUES: Final = 1_000_000


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


def parse_index(data: bytes | str, *, max_bytes: int = MAX_INDEX_BYTES) -> Index | Unreadable:
    """Decode ``index.json`` as the controller does; ``Unreadable`` wherever Go returns an error."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    if len(raw) > max_bytes:
        return Unreadable(f"index is {len(raw)} bytes, over the {_size(max_bytes)} limit")
    # Counting costs 20 us for a 25 KB index; a document of fewer bytes cannot hold more values.
    values = raw.count(b",") + raw.count(b"{") if len(raw) > MAX_INDEX_VALUES else 0  # an upper bound
    if values > MAX_INDEX_VALUES:
        return Unreadable(f"index holds up to {values:,} values in {len(raw):,} bytes, over the "
                          f"{MAX_INDEX_VALUES:,} limit; no index the controller writes comes near")
    text = _decode_utf8(raw)
    index = parse_common(text)
    return index if index is not None else _decode_exact(text)


def _decode_exact(text: str) -> Index | Unreadable:
    """Go's decoder, every rule of it: what decides whenever ``parse_common`` declines."""
    try:
        document = _parse(text)
    except _SyntaxError as error:
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


_ESCAPED_BYTE = compile("[\udc80-\udcff]")


def _decode_utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # surrogateescape maps each byte of an invalid sequence to one lone surrogate, which is
        # exactly where Go's utf8.DecodeRune yields (RuneError, 1): one U+FFFD per byte.
        return _ESCAPED_BYTE.sub("\ufffd", raw.decode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------------------------- syntax
# An iterative parser with Go's grammar. Objects keep every member in order (duplicates
# included); strings written with escapes keep their raw text; numbers keep their literal.

_MAX_DEPTH: Final = 10_000  # encoding/json's maxNestingDepth
_EOF: Final = "unexpected end of JSON input"
_WHITESPACE: Final = " \t\n\r"
_SPACES = compile(r"[ \t\n\r]*")
_CHARS: Final = r'[^"\\\x00-\x1f]*'
_PLAIN_STRING = compile(rf'"({_CHARS})"')
_STRING_PREFIX = compile(rf'"{_CHARS}(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{{4}}){_CHARS})*')
_NUMBER = compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LONE_SURROGATE = compile("[\ud800-\udfff]")
_HEX: Final = frozenset("0123456789abcdefABCDEF")


class _Obj(list[tuple[str, object]]):
    """A JSON object: its members in document order, duplicate keys kept."""

    __slots__ = ()


@dataclass(slots=True)  # not frozen: it is built once per number, and frozen init is slower
class _Num:
    """A JSON number, as its literal text."""

    text: str


@dataclass(frozen=True, slots=True)
class _Esc:
    """A JSON string written with escapes: its decoded text and its raw text between the quotes."""

    raw: str
    text: str


class _SyntaxError(Exception):
    def __init__(self, pos: int, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message

    def describe(self, text: str) -> str:
        line = text.count("\n", 0, self.pos) + 1
        column = self.pos - text.rfind("\n", 0, self.pos)
        return f"invalid JSON at line {line} column {column}: {self.message}"


def _skip(text: str, pos: int) -> int:
    if pos < len(text) and text[pos] not in _WHITESPACE:
        return pos
    match = _SPACES.match(text, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _char(c: str) -> str:
    if c.isascii() and c.isprintable() and c != "'":
        return f"'{c}'"
    return "'" + c.encode("unicode_escape").decode("ascii").replace("'", "\\'") + "'"


def _parse(text: str) -> object:
    # Fast path: the C scanner, where it cannot disagree with Go. Without a backslash there are
    # no escapes, so strings are their raw text; numbers keep their literal through the hooks;
    # NaN and Infinity are refused; and its nesting is bounded by the recursion limit, which must
    # not exceed Go's 10 000 levels. Whenever it fails, the exact parser gives Go's verdict.
    if "\\" not in text and sys.getrecursionlimit() <= _MAX_DEPTH:
        with suppress(ValueError, RecursionError):
            return _C_SCANNER.decode(text)
    return _parse_exact(text)


def _no_constant(name: str) -> object:
    raise ValueError(name)


_C_SCANNER: Final = JSONDecoder(
    object_pairs_hook=_Obj, parse_float=_Num, parse_int=_Num, parse_constant=_no_constant
)
_JSON_STRING: Final = JSONDecoder()


def _parse_exact(text: str) -> object:
    n = len(text)
    stack: list[list[Any]] = []  # the open arrays and objects, innermost last
    keys: list[str] = []  # for each open object, the key whose value is being read
    value: object
    pos = _skip(text, 0)
    while True:
        # A value starts at pos.
        if pos >= n:
            raise _SyntaxError(pos, _EOF)
        c = text[pos]
        if c in "{[":
            if len(stack) >= _MAX_DEPTH:
                raise _SyntaxError(pos, "exceeded max depth")
            pos = _skip(text, pos + 1)
            container: list[Any] = _Obj() if c == "{" else []
            if pos < n and text[pos] == ("}" if c == "{" else "]"):
                value, pos = container, pos + 1
            else:
                stack.append(container)
                if c == "{":
                    key, pos = _key(text, pos)
                    keys.append(key)
                continue
        else:
            value, pos = _scalar(text, pos)
        # The value is complete: add it to its container, and close what it completes.
        while True:
            pos = _skip(text, pos)
            if not stack:
                if pos < n:
                    raise _SyntaxError(
                        pos, f"invalid character {_char(text[pos])} after top-level value"
                    )
                return value
            top = stack[-1]
            is_object = isinstance(top, _Obj)
            top.append((keys.pop(), value) if is_object else value)
            c = text[pos] if pos < n else ""
            if c == ",":
                pos = _skip(text, pos + 1)
                if is_object:
                    key, pos = _key(text, pos)
                    keys.append(key)
                break
            if c and c == ("}" if is_object else "]"):
                value, pos = stack.pop(), pos + 1
                continue
            if not c:
                raise _SyntaxError(pos, _EOF)
            where = "after object key:value pair" if is_object else "after array element"
            raise _SyntaxError(pos, f"invalid character {_char(c)} {where}")


def _key(text: str, pos: int) -> tuple[str, int]:
    """Read `"key" :` at pos; return the decoded key and the position of its value."""
    if pos >= len(text):
        raise _SyntaxError(pos, _EOF)
    if text[pos] != '"':
        c = _char(text[pos])
        raise _SyntaxError(pos, f"invalid character {c} looking for beginning of object key string")
    key, pos = _string(text, pos)
    pos = _skip(text, pos)
    if pos >= len(text):
        raise _SyntaxError(pos, _EOF)
    if text[pos] != ":":
        raise _SyntaxError(pos, f"invalid character {_char(text[pos])} after object key")
    return (key.text if isinstance(key, _Esc) else key), _skip(text, pos + 1)


def _scalar(text: str, pos: int) -> tuple[object, int]:
    c = text[pos]
    if c == '"':
        return _string(text, pos)
    if c == "-" or "0" <= c <= "9":
        return _number(text, pos)
    for word, value in (("true", True), ("false", False), ("null", None)):
        if text.startswith(word, pos):
            return value, pos + len(word)
        if c == word[0]:
            k = 1
            while pos + k < len(text) and text[pos + k] == word[k]:
                k += 1
            if pos + k >= len(text):
                raise _SyntaxError(pos + k, _EOF)
            bad, want = _char(text[pos + k]), _char(word[k])
            message = f"invalid character {bad} in literal {word} (expecting {want})"
            raise _SyntaxError(pos + k, message)
    raise _SyntaxError(pos, f"invalid character {_char(c)} looking for beginning of value")


def _string(text: str, pos: int) -> tuple[str | _Esc, int]:
    plain = _PLAIN_STRING.match(text, pos)
    if plain is not None:
        return plain.group(1), plain.end()
    prefix = _STRING_PREFIX.match(text, pos)
    assert prefix is not None  # text[pos] is the opening quote
    end = prefix.end()
    if end < len(text) and text[end] == '"':
        raw = text[pos + 1 : end]
        # The escapes are valid, so the C scanner decodes them; it joins surrogate pairs as Go
        # does, and the surrogates left over were lone escapes, which Go turns into U+FFFD.
        decoded: str = _JSON_STRING.decode(text[pos : end + 1])
        return _Esc(raw, _LONE_SURROGATE.sub("\ufffd", decoded)), end + 1
    # The string is malformed at `end`: a control character, a bad escape, or the end of input.
    if end >= len(text):
        raise _SyntaxError(end, _EOF)
    if text[end] != "\\":
        raise _SyntaxError(end, f"invalid character {_char(text[end])} in string literal")
    if end + 1 >= len(text):
        raise _SyntaxError(end + 1, _EOF)
    if text[end + 1] != "u":
        c = _char(text[end + 1])
        raise _SyntaxError(end + 1, f"invalid character {c} in string escape code")
    for i in range(end + 2, end + 6):
        if i >= len(text):
            raise _SyntaxError(i, _EOF)
        if text[i] not in _HEX:
            c = _char(text[i])
            raise _SyntaxError(i, f"invalid character {c} in \\u hexadecimal character escape")
    raise AssertionError("unreachable: the escape is valid")  # pragma: no cover


def _number(text: str, pos: int) -> tuple[_Num, int]:
    match = _NUMBER.match(text, pos)
    if match is None:  # a minus sign with no digit after it
        if pos + 1 >= len(text):
            raise _SyntaxError(pos + 1, _EOF)
        c = _char(text[pos + 1])
        raise _SyntaxError(pos + 1, f"invalid character {c} in numeric literal")
    end = match.end()
    fraction, exponent = match.groups()
    if end < len(text) and exponent is None and text[end] in ".eE":
        if text[end] == "." and fraction is None:
            where, at = "after decimal point in", end + 1
        elif text[end] in "eE":
            where = "in exponent of"
            at = end + 2 if end + 1 < len(text) and text[end + 1] in "+-" else end + 1
        else:
            return _Num(match.group()), end  # "1.5." : the second '.' is an error after the value
        if at >= len(text):
            raise _SyntaxError(at, _EOF)
        raise _SyntaxError(at, f"invalid character {_char(text[at])} {where} numeric literal")
    return _Num(match.group()), end


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


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, _Num):
        return "number"
    if isinstance(value, str | _Esc):
        return "string"
    if isinstance(value, _Obj):
        return "object"
    return "array" if isinstance(value, list) else "null"


def _type_error(expected: str, value: object) -> _FieldError:
    return _FieldError(f"expected {expected}, got {_kind(value)}")


def _source(value: str | _Esc, limit: int = 64) -> str:
    """The string as written in the document, shortened for messages."""
    raw = value.raw if isinstance(value, _Esc) else value
    return f'"{raw[:limit]}..."' if len(raw) > limit else f'"{raw}"'


def _decode_struct(target: _S, value: object, fields: Mapping[str, _Field]) -> _S:
    if value is None:
        return target  # null leaves a struct as it is
    if not isinstance(value, _Obj):
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
    if isinstance(value, _Esc):
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
    if not isinstance(value, _Num):
        raise _type_error("integer (int64)", value)
    n = int64(value.text)  # JSON number syntax has no '+' and no leading zeros
    if n is None:
        text = value.text if len(value.text) <= 64 else value.text[:64] + "..."
        raise _FieldError(f"expected integer (int64), got {text}")
    return n


def _time_value(current: datetime | None, value: object) -> datetime | None:
    if value is None:
        return current  # Time.UnmarshalJSON ignores null
    if not isinstance(value, str | _Esc):
        raise _FieldError(f"expected RFC 3339 string, got {_kind(value)}")
    try:
        if isinstance(value, _Esc):  # Go parses the raw text: a backslash is never valid
            raise ValueError
        return go_time(value)
    except ValueError:
        raise _FieldError(f"not RFC 3339: {_source(value)}") from None


def _quantity_value(current: None, value: object) -> None:
    """Validate one resource.Quantity; its value is not kept (null or not, it stays None)."""
    if isinstance(value, _Num):
        text, shown = value.text, value.text[:64]
    elif isinstance(value, str | _Esc):
        text, shown = (value.raw if isinstance(value, _Esc) else value), _source(value)
    elif value is not None:
        raise _FieldError(f"expected quantity (string or number), got {_kind(value)}")
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
                    FileRef(filename=f.filename, disk=f.disk_name, size=f.size,
                            object_path=f.object_path)
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
