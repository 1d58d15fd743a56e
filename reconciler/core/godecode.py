"""Go's ``encoding/json`` decoding into typed structs, by reflection: a ``gojson`` tree -> struct values.

The rules ``Unmarshal`` applies whatever the struct, kept apart from the one struct this job
decodes (``index``), which only declares its fields with them:

* Keys match fields by Go's case folding: the exact name first, then ASCII case-insensitively,
  plus the two non-ASCII runes that fold into ASCII (U+017F long s, U+212A Kelvin sign). Unknown
  keys are skipped, whatever their value.
* Every occurrence of a duplicate key is decoded, in document order, *into* the value the earlier
  ones left: scalars are replaced, structs are merged field by field, and arrays are decoded into
  the slice's backing array, so elements a shorter array dropped can come back.
* ``null`` sets a slice to nil and leaves a string, integer, bool, time or struct as it was.
* A value of the wrong JSON type, an ``int64`` literal that is not an integer in range, a time
  ``time.Time.UnmarshalJSON`` rejects and a quantity ``resource.Quantity.UnmarshalJSON`` rejects
  raise :class:`FieldError`, whose path names the field (``checkpoints[2].files[0].size``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

from reconciler.core.gojson import Esc, Num, Obj, kind, source
from reconciler.core.gotext import GO_SPACE, go_time, int64, is_quantity

__all__ = [
    "Decoder",
    "Field",
    "FieldError",
    "Slice",
    "bool_value",
    "decode_struct",
    "fields",
    "int64_value",
    "live",
    "quantity_value",
    "slice_of",
    "string_value",
    "struct_of",
    "time_value",
]


@dataclass(slots=True)
class Slice:
    """A Go slice: `backing` holds every element ever stored, the first `length` of them live."""

    backing: list[Any] = field(default_factory=list)
    length: int = 0


def live(s: Slice | None) -> list[Any]:
    """The elements a Go program sees: none for a nil slice."""
    return [] if s is None else s.backing[: s.length]


class FieldError(Exception):
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


Decoder = Callable[[Any, object], Any]  # (current Go value, JSON value) -> new Go value
_S = TypeVar("_S")


@dataclass(frozen=True, slots=True)
class Field:
    name: str  # the json tag
    attr: str  # the mirror's attribute
    decode: Decoder


def fields(*declared: Field) -> dict[str, Field]:
    """Look-up table by exact name (Go tries it first) and by folded name."""
    return {name: f for f in declared for name in (f.name, _fold(f.name))}


# U+017F (long s) and U+212A (Kelvin sign) are the only non-ASCII runes whose simple case folding
# reaches ASCII; Go's foldName maps them to 'S' and 'K'. Any other non-ASCII rune cannot match an
# ASCII field name, so it is left as it is.
_NON_ASCII_FOLDS: Final = str.maketrans({"\u017f": "S", "\u212a": "K"})


def _fold(key: str) -> str:
    if key.isascii():
        return key.upper()
    return "".join(c.upper() if c.isascii() else c for c in key.translate(_NON_ASCII_FOLDS))


def _type_error(expected: str, value: object) -> FieldError:
    return FieldError(f"expected {expected}, got {kind(value)}")


def decode_struct(target: _S, value: object, table: Mapping[str, Field]) -> _S:
    """Decode a JSON object into `target`, a mutable mirror of the Go struct, field by field."""
    if value is None:
        return target  # null leaves a struct as it is
    if not isinstance(value, Obj):
        raise _type_error("object", value)
    for key, item in value:
        f = table.get(key) or table.get(_fold(key))
        if f is None:
            continue  # unknown key: skipped, whatever its value
        try:
            setattr(target, f.attr, f.decode(getattr(target, f.attr), item))
        except FieldError as error:
            error.path.append(f.name)
            raise
    return target


def struct_of(table: Callable[[], Mapping[str, Field]]) -> Decoder:
    """A nested struct's decoder; its table is looked up late, so tables may refer to each other."""

    def decode(current: Any, value: object) -> Any:
        return decode_struct(current, value, table())

    return decode


def slice_of(element: Decoder, zero: Callable[[], object]) -> Decoder:
    def decode(current: Slice | None, value: object) -> Slice | None:
        if value is None:
            return None  # null makes the slice nil
        if type(value) is not list:
            raise _type_error("array", value)
        if not value:
            return Slice()  # [] makes a new empty slice
        # Go decodes into the existing backing array, growing it as needed, then truncates.
        target = current if current is not None else Slice()
        backing = target.backing
        for i, item in enumerate(value):
            if i == len(backing):
                backing.append(zero())
            try:
                backing[i] = element(backing[i], item)
            except FieldError as error:
                error.path.append(f"[{i}]")
                raise
        target.length = len(value)
        return target

    return decode


def string_value(current: str, value: object) -> str:
    if value is None:
        return current
    if isinstance(value, str):
        return value
    if isinstance(value, Esc):
        return value.text
    raise _type_error("string", value)


def bool_value(current: bool, value: object) -> bool:
    if value is None:
        return current
    if isinstance(value, bool):
        return value
    raise _type_error("boolean", value)


def int64_value(current: int, value: object) -> int:
    if value is None:
        return current
    if not isinstance(value, Num):
        raise _type_error("integer (int64)", value)
    n = int64(value.text)  # JSON number syntax has no '+' and no leading zeros
    if n is None:
        text = value.text if len(value.text) <= 64 else value.text[:64] + "..."
        raise FieldError(f"expected integer (int64), got {text}")
    return n


def time_value(current: datetime | None, value: object) -> datetime | None:
    if value is None:
        return current  # Time.UnmarshalJSON ignores null
    if not isinstance(value, str | Esc):
        raise FieldError(f"expected RFC 3339 string, got {kind(value)}")
    try:
        if isinstance(value, Esc):  # Go parses the raw text: a backslash is never valid
            raise ValueError
        return go_time(value)
    except ValueError:
        raise FieldError(f"not RFC 3339: {source(value)}") from None


def quantity_value(current: None, value: object) -> None:
    """Validate one resource.Quantity; its value is not kept (null or not, it stays None)."""
    if isinstance(value, Num):
        text, shown = value.text, value.text[:64]
    elif isinstance(value, str | Esc):
        text, shown = (value.raw if isinstance(value, Esc) else value), source(value)
    elif value is not None:
        raise FieldError(f"expected quantity (string or number), got {kind(value)}")
    else:
        return
    if not is_quantity(text.strip(GO_SPACE)):
        raise FieldError(f"not a Kubernetes quantity: {shown}")
