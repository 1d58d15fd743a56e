"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902) as the API server applies them.

The API server uses ``gopkg.in/evanphx/json-patch.v4``; the error behaviour here follows it:
``remove``/``replace`` of a missing path fail, ``add`` needs the parent to exist, and a ``test``
against a missing path passes only when the expected value is ``null``.
"""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """The patch could not be applied (the server answers 422)."""


class PatchFormatError(ValueError):
    """The patch document itself is malformed (the server answers 400)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values that, unlike ``==``, keeps ``true`` and ``1`` apart."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise PatchError("operation missing path field")
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'JSON pointer must be empty or start with a "/": {path!r}')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], key: str, path: str, allow_end: bool) -> int:
    if key == "-" and allow_end:
        return len(container)
    try:
        idx = int(key)
    except ValueError:
        raise PatchError(f"Unable to access invalid index: {key}: invalid index referenced") from None
    limit = len(container) if allow_end else len(container) - 1
    if idx < 0 or idx > limit:
        raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced ({path})")
    return idx


def _parent(doc: Any, parts: list[str], path: str, op: str) -> tuple[Any, str]:
    if not parts:
        raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}: missing value")
    cur = doc
    for part in parts[:-1]:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list):
            try:
                cur = cur[_index(cur, part, path, allow_end=False)]
            except PatchError:
                raise PatchError(
                    f"{op} operation does not apply: doc is missing path: {path!r}: missing value"
                ) from None
        else:
            raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}: missing value")
    if not isinstance(cur, (dict, list)):
        raise PatchError(f"{op} operation does not apply: doc is missing path: {path!r}: missing value")
    return cur, parts[-1]


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, key = _parent(doc, parts, path, op)
    if isinstance(parent, dict):
        if key not in parent:
            raise PatchError(f"{op} operation does not apply: doc is missing from path: {path!r}: missing value")
        return parent[key]
    return parent[_index(parent, key, path, allow_end=False)]


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, key = _parent(doc, parts, path, "add")
    if isinstance(parent, dict):
        parent[key] = value
    else:
        parent.insert(_index(parent, key, path, allow_end=True), value)
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> Any:
    parts = _pointer(path)
    parent, key = _parent(doc, parts, path, op)
    if isinstance(parent, dict):
        if key not in parent:
            raise PatchError(f"Unable to remove nonexistent key: {key}: missing value")
        return parent.pop(key)
    return parent.pop(_index(parent, key, path, allow_end=False))


def _replace(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, key = _parent(doc, parts, path, "replace")
    if isinstance(parent, dict):
        if key not in parent:
            raise PatchError(f"replace operation does not apply: doc is missing key: {path}: missing value")
        parent[key] = value
    else:
        parent[_index(parent, key, path, allow_end=False)] = value
    return doc


def _test(doc: Any, path: str, value: Any) -> None:
    parts = _pointer(path)
    if parts:
        parent, key = _parent(doc, parts, path, "test")
        if isinstance(parent, dict):
            found, current = key in parent, parent.get(key)
        else:
            try:
                found, current = True, parent[_index(parent, key, path, allow_end=False)]
            except PatchError:
                found, current = False, None
    else:
        found, current = True, doc
    if not found or current is None:
        if value is None:
            return
        raise PatchError(f"testing value {path} failed: test failed")
    if not json_equal(current, value):
        raise PatchError(f"testing value {path} failed: test failed")


def json_patch(doc: Any, operations: Any) -> Any:
    """Apply an RFC 6902 patch to a copy of ``doc`` and return the result."""
    if not isinstance(operations, list):
        kind = {dict: "object", str: "string", bool: "bool", type(None): "null"}.get(type(operations), "number")
        raise PatchFormatError(f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch")
    for op in operations:
        if not isinstance(op, dict):
            raise PatchFormatError("json: cannot unmarshal into Go value of type jsonpatch.Operation")
    result = copy.deepcopy(doc)
    for op in operations:
        kind = op.get("op")
        path = op.get("path")
        value = copy.deepcopy(op.get("value"))
        if kind == "add":
            result = _add(result, path, value)
        elif kind == "remove":
            _remove(result, path)
        elif kind == "replace":
            result = _replace(result, path, value)
        elif kind == "move":
            source = op.get("from")
            if isinstance(source, str) and isinstance(path, str) and path.startswith(source + "/"):
                raise PatchError(f"move operation does not apply: cannot move {source} into its child {path}")
            moved = _remove(result, source, "move")
            result = _add(result, path, moved)
        elif kind == "copy":
            result = _add(result, path, copy.deepcopy(_get(result, op.get("from"), "copy")))
        elif kind == "test":
            _test(result, path, value)
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return result
