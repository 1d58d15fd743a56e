"""Label and field selectors with the grammar and semantics of ``k8s.io/apimachinery``.

Label selectors: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``,
``a>1``, ``a<1``; a comma means AND. ``!=`` and ``notin`` match objects without the label.
Field selectors: ``f=v``, ``f==v``, ``f!=v`` joined by commas; ``\\`` escapes ``,``, ``=``
and itself in values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .status import FieldError, aggregate, invalid_value
from .validation import is_qualified_name, is_valid_label_value


class SelectorError(ValueError):
    """A selector that does not parse; the message is the server's."""


# ---------------------------------------------------------------------------
# Label selectors

_SPECIAL = set("=!(),><")
_WHITESPACE = set(" \t\r\n")
_TOKENS = {
    ")": "CLOSE",
    ",": "COMMA",
    "!": "NOT",
    "==": "DOUBLE_EQUALS",
    "=": "EQUALS",
    ">": "GT",
    "in": "IN",
    "<": "LT",
    "!=": "NOT_EQUALS",
    "notin": "NOT_IN",
    "(": "OPEN",
}
_OPERATOR_FOR_TOKEN = {
    "IN": "in",
    "EQUALS": "=",
    "DOUBLE_EQUALS": "==",
    "GT": "gt",
    "LT": "lt",
    "NOT_IN": "notin",
    "NOT_EQUALS": "!=",
}
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


def _lex(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in _WHITESPACE:
            i += 1
            continue
        if ch in _SPECIAL:
            buffer = ""
            last: tuple[str, str] | None = None
            while i < len(text) and text[i] in _SPECIAL:
                buffer += text[i]
                if buffer in _TOKENS:
                    last = (_TOKENS[buffer], buffer)
                    i += 1
                elif last is not None:
                    break
                else:
                    i += 1
            if last is None:
                tokens.append(("ERROR", f"error expected: keyword found '{buffer}'"))
                return tokens
            tokens.append(last)
            continue
        start = i
        while i < len(text) and text[i] not in _SPECIAL and text[i] not in _WHITESPACE:
            i += 1
        word = text[start:i]
        tokens.append((_TOKENS[word], word) if word in ("in", "notin") else ("IDENT", word))
    tokens.append(("EOS", ""))
    return tokens


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # one of: exists, !, =, ==, !=, in, notin, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        if self.operator in ("=", "==", "in"):
            return has and labels[self.key] in self.values
        if self.operator in ("!=", "notin"):
            return not has or labels[self.key] not in self.values
        if self.operator == "exists":
            return has
        if self.operator == "!":
            return not has
        if not has:
            return False
        try:
            have, want = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return have > want if self.operator == "gt" else have < want

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        symbol = {"gt": ">", "lt": "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _new_requirement(key: str, operator: str, values: list[str]) -> Requirement:
    errs: list[FieldError] = []
    key_errs = is_qualified_name(key)
    if key_errs:
        errs.append(invalid_value("key", key, "; ".join(key_errs)))
    if operator in ("in", "notin") and not values:
        errs.append(invalid_value("values", values, "for 'in', 'notin' operators, values set can't be empty"))
    if operator in ("=", "==", "!=") and len(values) != 1:
        errs.append(invalid_value("values", values, "exact-match compatibility requires one single value"))
    if operator in ("gt", "lt"):
        if len(values) != 1:
            errs.append(invalid_value("values", values, "for 'Gt', 'Lt' operators, exactly one value is required"))
        for i, value in enumerate(values):
            try:
                int(value)
            except ValueError:
                errs.append(
                    invalid_value(
                        f"values[{i}]",
                        value,
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    )
                )
    for i, value in enumerate(values):
        value_errs = is_valid_label_value(value)
        if value_errs:
            errs.append(invalid_value(f"values[{i}][{key}]", value, "; ".join(value_errs)))
    if errs:
        raise SelectorError(aggregate(errs))
    return Requirement(key, operator, tuple(values))


class _LabelParser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def lookahead(self, values_context: bool = True) -> tuple[str, str]:
        tok, lit = self.tokens[self.pos]
        if values_context and tok in ("IN", "NOT_IN"):
            tok = "IDENT"
        return tok, lit

    def consume(self, values_context: bool = True) -> tuple[str, str]:
        tok, lit = self.lookahead(values_context)
        if self.pos < len(self.tokens) - 1:
            self.pos += 1
        return tok, lit

    def parse(self) -> LabelSelector:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in ("IDENT", "NOT"):
                try:
                    requirements.append(self.parse_requirement())
                except SelectorError as exc:
                    raise SelectorError(f"unable to parse requirement: {exc}") from None
                tok, lit = self.consume()
                if tok == "EOS":
                    break
                if tok == "COMMA":
                    tok2, lit2 = self.lookahead()
                    if tok2 not in ("IDENT", "NOT"):
                        raise SelectorError(f"found '{lit2}', expected: identifier after ','")
                    continue
                raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
            if tok == "EOS":
                break
            if tok == "ERROR":
                raise SelectorError(lit)
            raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")
        # The real selector keeps requirements sorted by key.
        requirements.sort(key=lambda r: r.key)
        return LabelSelector(tuple(requirements))

    def parse_requirement(self) -> Requirement:
        operator = ""
        tok, lit = self.consume()
        if tok == "NOT":
            operator = "!"
            tok, lit = self.consume()
        if tok != "IDENT":
            raise SelectorError(f"found '{lit}', expected: identifier")
        key = lit
        key_errs = is_qualified_name(key)
        if key_errs:
            raise SelectorError(str(invalid_value("key", key, "; ".join(key_errs))))
        nxt, _ = self.lookahead()
        if operator == "!" or nxt in ("EOS", "COMMA"):
            return _new_requirement(key, operator or "exists", [])
        tok, lit = self.consume(values_context=False)
        if tok not in _OPERATOR_FOR_TOKEN:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        operator = _OPERATOR_FOR_TOKEN[tok]
        values = self.parse_values() if operator in ("in", "notin") else self.parse_exact_value()
        return _new_requirement(key, operator, values)

    def parse_values(self) -> list[str]:
        tok, lit = self.consume()
        if tok != "OPEN":
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in ("IDENT", "COMMA"):
            values = self.parse_identifiers_list()
            tok, _ = self.consume()
            if tok != "CLOSE":
                raise SelectorError(f"found '{lit}', expected: ')'")
            return sorted(set(values))
        if tok == "CLOSE":
            self.consume()
            return [""]
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> list[str]:
        values: list[str] = []
        while True:
            tok, lit = self.consume()
            if tok == "IDENT":
                values.append(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == "COMMA":
                    continue
                if tok2 == "CLOSE":
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == "COMMA":
                if not values:
                    values.append("")
                tok2, _ = self.lookahead()
                if tok2 == "CLOSE":
                    values.append("")
                    return values
                if tok2 == "COMMA":
                    self.consume()
                    values.append("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> list[str]:
        tok, _ = self.lookahead()
        if tok in ("EOS", "COMMA"):
            return [""]
        tok, lit = self.consume()
        if tok == "IDENT":
            return [lit]
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a label selector string; raises :class:`SelectorError` with the server's message."""
    return _LabelParser(text).parse()


def label_selector_from_dict(selector: Mapping[str, Any] | None) -> LabelSelector | None:
    """A ``metav1.LabelSelector`` (matchLabels/matchExpressions); ``None`` selects nothing."""
    if selector is None:
        return None
    requirements = [Requirement(k, "=", (v,)) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            raise SelectorError(f"{expr.get('operator')!r} is not a valid label selector operator")
        requirements.append(Requirement(expr["key"], op, tuple(expr.get("values") or ())))
    return LabelSelector(tuple(requirements))


# ---------------------------------------------------------------------------
# Field selectors


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    operator: str  # "=" or "!="
    value: str

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{self.value}"


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, get: Callable[[str], str]) -> bool:
        for req in self.requirements:
            have = get(req.field)
            if (have == req.value) != (req.operator == "="):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements

    def requires_exact_match(self, field_name: str) -> str | None:
        for req in self.requirements:
            if req.field == field_name and req.operator == "=":
                return req.value
        return None

    def transform(self, fn: Callable[[str], str]) -> FieldSelector:
        return FieldSelector(tuple(FieldRequirement(fn(r.field), r.operator, r.value) for r in self.requirements))


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start = 0
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _unescape(value: str) -> str:
    out = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise SelectorError(f"invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise SelectorError(f"invalid field selector: unescaped {ch!r} in value")
        else:
            out.append(ch)
    if escaped:
        raise SelectorError("invalid field selector: trailing backslash")
    return "".join(out)


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a field selector string; raises :class:`SelectorError` with the server's message."""
    requirements: list[FieldRequirement] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        for i in range(len(term)):
            rest = term[i:]
            op = next((o for o in ("!=", "==", "=") if rest.startswith(o)), None)
            if op is not None:
                lhs, rhs = term[:i], term[i + len(op) :]
                requirements.append(FieldRequirement(lhs, "!=" if op == "!=" else "=", _unescape(rhs)))
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
    return FieldSelector(tuple(requirements))
