"""JSON read with the grammar of Go's ``encoding/json`` (1.25, v1): text -> a tree of values.

The tree keeps what Go's decoders can see and Python's ``json`` drops: every member of an object in
order, duplicate keys included (:class:`Obj`); numbers as their literal text (:class:`Num`); and
strings written with escapes beside their raw text (:class:`Esc`), because ``time.Time`` and
``resource.Quantity`` unmarshal the raw text. What it mirrors:

* Syntax with Go's grammar: no NaN/Infinity, comments, BOM, trailing commas or trailing text, and
  at most 10 000 nested arrays/objects (the scanner's limit). The exact parser is iterative, so no
  nesting depth can exhaust Python's stack; where it cannot disagree with Go, the C scanner of
  ``json`` does the work instead.
* The input is UTF-8 and nothing else (no UTF-16/32 sniffing). Inside strings, every byte of an
  invalid sequence becomes one U+FFFD, and a ``\\uXXXX`` escape of a lone surrogate becomes U+FFFD,
  as Go's ``unquote`` does.

Syntax errors carry the position; :meth:`GoSyntaxError.describe` words it as line and column.
``index`` decodes the tree into the controller's typed struct.
"""

from __future__ import annotations

import sys
from contextlib import suppress
from dataclasses import dataclass
from json import JSONDecoder
from re import compile
from typing import Any, Final

__all__ = [
    "C_SCANNER",
    "MAX_DEPTH",
    "Esc",
    "GoSyntaxError",
    "Num",
    "Obj",
    "decode_utf8",
    "kind",
    "parse",
    "parse_exact",
    "source",
]

_ESCAPED_BYTE = compile("[\udc80-\udcff]")


def decode_utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # surrogateescape maps each byte of an invalid sequence to one lone surrogate, which is
        # exactly where Go's utf8.DecodeRune yields (RuneError, 1): one U+FFFD per byte.
        return _ESCAPED_BYTE.sub("\ufffd", raw.decode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------------------------- syntax
# An iterative parser with Go's grammar. Objects keep every member in order (duplicates
# included); strings written with escapes keep their raw text; numbers keep their literal.

MAX_DEPTH: Final = 10_000  # encoding/json's maxNestingDepth
_EOF: Final = "unexpected end of JSON input"
_WHITESPACE: Final = " \t\n\r"
_SPACES = compile(r"[ \t\n\r]*")
_CHARS: Final = r'[^"\\\x00-\x1f]*'
_PLAIN_STRING = compile(rf'"({_CHARS})"')
_STRING_PREFIX = compile(rf'"{_CHARS}(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{{4}}){_CHARS})*')
_NUMBER = compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LONE_SURROGATE = compile("[\ud800-\udfff]")
_HEX: Final = frozenset("0123456789abcdefABCDEF")


class Obj(list[tuple[str, object]]):
    """A JSON object: its members in document order, duplicate keys kept."""

    __slots__ = ()


@dataclass(slots=True)  # not frozen: it is built once per number, and frozen init is slower
class Num:
    """A JSON number, as its literal text."""

    text: str


@dataclass(frozen=True, slots=True)
class Esc:
    """A JSON string written with escapes: its decoded text and its raw text between the quotes."""

    raw: str
    text: str


class GoSyntaxError(Exception):
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


def parse(text: str) -> object:
    # Fast path: the C scanner, where it cannot disagree with Go. Without a backslash there are
    # no escapes, so strings are their raw text; numbers keep their literal through the hooks;
    # NaN and Infinity are refused; and its nesting is bounded by the recursion limit, which must
    # not exceed Go's 10 000 levels. Whenever it fails, the exact parser gives Go's verdict.
    if "\\" not in text and sys.getrecursionlimit() <= MAX_DEPTH:
        with suppress(ValueError, RecursionError):
            return C_SCANNER.decode(text)
    return parse_exact(text)


def _no_constant(name: str) -> object:
    raise ValueError(name)


C_SCANNER: Final = JSONDecoder(object_pairs_hook=Obj, parse_float=Num, parse_int=Num, parse_constant=_no_constant)
_JSON_STRING: Final = JSONDecoder()


def parse_exact(text: str) -> object:
    n = len(text)
    stack: list[list[Any]] = []  # the open arrays and objects, innermost last
    keys: list[str] = []  # for each open object, the key whose value is being read
    value: object
    pos = _skip(text, 0)
    while True:
        # A value starts at pos.
        if pos >= n:
            raise GoSyntaxError(pos, _EOF)
        c = text[pos]
        if c in "{[":
            if len(stack) >= MAX_DEPTH:
                raise GoSyntaxError(pos, "exceeded max depth")
            pos = _skip(text, pos + 1)
            container: list[Any] = Obj() if c == "{" else []
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
                    raise GoSyntaxError(pos, f"invalid character {_char(text[pos])} after top-level value")
                return value
            top = stack[-1]
            is_object = isinstance(top, Obj)
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
                raise GoSyntaxError(pos, _EOF)
            where = "after object key:value pair" if is_object else "after array element"
            raise GoSyntaxError(pos, f"invalid character {_char(c)} {where}")


def _key(text: str, pos: int) -> tuple[str, int]:
    """Read `"key" :` at pos; return the decoded key and the position of its value."""
    if pos >= len(text):
        raise GoSyntaxError(pos, _EOF)
    if text[pos] != '"':
        c = _char(text[pos])
        raise GoSyntaxError(pos, f"invalid character {c} looking for beginning of object key string")
    key, pos = _string(text, pos)
    pos = _skip(text, pos)
    if pos >= len(text):
        raise GoSyntaxError(pos, _EOF)
    if text[pos] != ":":
        raise GoSyntaxError(pos, f"invalid character {_char(text[pos])} after object key")
    return (key.text if isinstance(key, Esc) else key), _skip(text, pos + 1)


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
                raise GoSyntaxError(pos + k, _EOF)
            bad, want = _char(text[pos + k]), _char(word[k])
            message = f"invalid character {bad} in literal {word} (expecting {want})"
            raise GoSyntaxError(pos + k, message)
    raise GoSyntaxError(pos, f"invalid character {_char(c)} looking for beginning of value")


def _string(text: str, pos: int) -> tuple[str | Esc, int]:
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
        return Esc(raw, _LONE_SURROGATE.sub("\ufffd", decoded)), end + 1
    # The string is malformed at `end`: a control character, a bad escape, or the end of input.
    if end >= len(text):
        raise GoSyntaxError(end, _EOF)
    if text[end] != "\\":
        raise GoSyntaxError(end, f"invalid character {_char(text[end])} in string literal")
    if end + 1 >= len(text):
        raise GoSyntaxError(end + 1, _EOF)
    if text[end + 1] != "u":
        c = _char(text[end + 1])
        raise GoSyntaxError(end + 1, f"invalid character {c} in string escape code")
    for i in range(end + 2, end + 6):
        if i >= len(text):
            raise GoSyntaxError(i, _EOF)
        if text[i] not in _HEX:
            c = _char(text[i])
            raise GoSyntaxError(i, f"invalid character {c} in \\u hexadecimal character escape")
    raise AssertionError("unreachable: the escape is valid")  # pragma: no cover


def _number(text: str, pos: int) -> tuple[Num, int]:
    match = _NUMBER.match(text, pos)
    if match is None:  # a minus sign with no digit after it
        if pos + 1 >= len(text):
            raise GoSyntaxError(pos + 1, _EOF)
        c = _char(text[pos + 1])
        raise GoSyntaxError(pos + 1, f"invalid character {c} in numeric literal")
    end = match.end()
    fraction, exponent = match.groups()
    if end < len(text) and exponent is None and text[end] in ".eE":
        if text[end] == "." and fraction is None:
            where, at = "after decimal point in", end + 1
        elif text[end] in "eE":
            where = "in exponent of"
            at = end + 2 if end + 1 < len(text) and text[end + 1] in "+-" else end + 1
        else:
            return Num(match.group()), end  # "1.5." : the second '.' is an error after the value
        if at >= len(text):
            raise GoSyntaxError(at, _EOF)
        raise GoSyntaxError(at, f"invalid character {_char(text[at])} {where} numeric literal")
    return Num(match.group()), end


# ------------------------------------------------------------------------------ values


def kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Num):
        return "number"
    if isinstance(value, str | Esc):
        return "string"
    if isinstance(value, Obj):
        return "object"
    return "array" if isinstance(value, list) else "null"


def source(value: str | Esc, limit: int = 64) -> str:
    """The string as written in the document, shortened for messages."""
    raw = value.raw if isinstance(value, Esc) else value
    return f'"{raw[:limit]}..."' if len(raw) > limit else f'"{raw}"'
