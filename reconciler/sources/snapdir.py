"""Reading an offline snapshot directory as untrusted input (design 8, 9).

Every path is built from single names and resolved inside the snapshot root: a name that is not
one plain path component (`..`, `a/b`) and a symlink that leads outside are refused, and nothing
about what lies outside (not even its first byte) reaches a message. Every document of
`cluster/` is parsed that can be: a malformed YAML document costs only itself, never the
documents after it, and each problem is listed so the plan can refuse to go on without them.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from reconciler.core.objects import kind_of
from reconciler.errors import SourceError

CLUSTER_SUFFIXES = (".yaml", ".yml", ".json")
# "---" or "..." at the start of a line always marks a document boundary in YAML (c-forbidden),
# even inside a scalar, so cutting the stream there never splits a document the loader keeps whole.
_BOUNDARY = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
# What a loader raises on a malformed document: a bad timestamp such as 2026-02-30 is a ValueError
# from the constructor, deep nesting a RecursionError from the composer.
PARSE_ERRORS = (yaml.YAMLError, ValueError, RecursionError)


class OutsideError(SourceError):
    """A snapshot path that is not a plain name, or that leads outside the snapshot."""


class SnapshotRoot:
    """Paths inside one snapshot directory, never outside it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.real = root.resolve()

    def rel(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def check(self, path: Path) -> Path:
        """The path itself once its real location is known to be inside the root."""
        try:
            real = path.resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop: RuntimeError before Python 3.13
            raise OutsideError(f"{self.rel(path)}: cannot be resolved ({exc.__class__.__name__})") from None
        if not real.is_relative_to(self.real):
            raise OutsideError(f"{self.rel(path)}: leads outside the snapshot; refused")
        return path

    def path(self, *parts: str) -> Path:
        """root/part/part/...: each part one plain name, the whole resolving inside the root."""
        for part in parts:
            if part in ("", ".", "..") or "/" in part or "\\" in part or "\0" in part:
                shown = "/".join(parts)
                raise OutsideError(
                    f"{json.dumps(shown, ensure_ascii=False)}: {json.dumps(part)} is not a plain file name; refused"
                )
        return self.check(self.root.joinpath(*parts))

    def key(self, bucket: str, key: str) -> Path:
        """The mirror of an object key: buckets/<bucket>/<key>, split at its slashes."""
        return self.path("buckets", bucket, *key.split("/"))


class _Bad:
    """A document that could not be parsed, in the place of the document."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc


def _yaml_documents(text: str) -> Iterator[Any]:
    """Every document of a YAML stream; a malformed one yields `_Bad` and the rest still parse."""
    try:
        yield from list(yaml.safe_load_all(text))
        return
    except PARSE_ERRORS:
        pass
    starts = sorted({0, *(m.start() for m in _BOUNDARY.finditer(text))})
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        # Pad with the lines before the piece, so marks in errors keep the file's line numbers.
        piece = "\n" * text.count("\n", 0, begin) + text[begin:end]
        try:
            yield from list(yaml.safe_load_all(piece))
        except PARSE_ERRORS as exc:
            yield _Bad(exc)


def _flatten(doc: Any) -> Iterator[Mapping[str, Any]]:
    """Single objects, `kind: List` (and any `*List`) of items, as `kubectl get -o yaml` writes them."""
    if not isinstance(doc, Mapping):
        return
    if isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
        for item in doc["items"]:
            yield from _flatten(item)
    elif "kind" in doc:
        yield doc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())  # YAML errors span lines; a report line should not


def _file_documents(snap: SnapshotRoot, path: Path) -> tuple[list[Any], list[str]]:
    name = f"snapshot file {snap.rel(path)}"
    try:
        text = snap.check(path).read_text(encoding="utf-8")
    except OutsideError as exc:
        return [], [f"snapshot file {exc}"]
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"{name}: {_one_line(exc)}"]
    if path.suffix == ".json":
        try:
            return [json.loads(text)], []
        except (ValueError, RecursionError) as exc:
            return [], [f"{name}: {_one_line(exc)}"]
    docs: list[Any] = []
    problems: list[str] = []
    for doc in _yaml_documents(text):
        if isinstance(doc, _Bad):
            problems.append(f"{name}: {_one_line(doc.exc)}")
        else:
            docs.append(doc)
    return docs, problems


def _cluster_files(snap: SnapshotRoot, problems: list[str]) -> list[Path]:
    """The object files under cluster/, sorted; a directory that cannot be listed, or a link to a
    directory outside the snapshot, is a problem (links to directories are not followed)."""

    def unlisted(exc: OSError) -> None:
        where = snap.rel(Path(exc.filename)) if exc.filename else "cluster"
        problems.append(f"snapshot directory {where}: {exc.strerror or exc}")

    found = []
    for top, dirs, files in os.walk(snap.path("cluster"), onerror=unlisted):
        for name in dirs:
            if (Path(top) / name).is_symlink():
                try:
                    snap.check(Path(top) / name)
                except OutsideError as exc:
                    problems.append(f"snapshot file {exc}")
        found += [
            Path(top) / name for name in files if Path(name).suffix in CLUSTER_SUFFIXES and (Path(top) / name).is_file()
        ]
    return sorted(found)


def read_cluster(snap: SnapshotRoot) -> tuple[list[Mapping[str, Any]], list[str]]:
    """Every object under cluster/, and every problem that makes that list incomplete or ambiguous:
    unreadable files and documents, symlinks leading outside, the same object twice."""
    objects: list[Mapping[str, Any]] = []
    problems: list[str] = []
    seen: dict[tuple[str, str, str, str], list[str]] = defaultdict(list)
    for path in _cluster_files(snap, problems):
        docs, bad = _file_documents(snap, path)
        problems += bad
        for doc in docs:
            for obj in _flatten(doc):
                objects.append(obj)
                meta = obj.get("metadata")
                if isinstance(meta, Mapping) and meta.get("name"):
                    group, kind = kind_of(obj)
                    seen[(group, kind, str(meta.get("namespace") or ""), str(meta["name"]))].append(snap.rel(path))
    for (_, kind, namespace, name), where in sorted(seen.items()):
        if len(where) > 1:
            ref = f"{namespace}/{name}" if namespace else name
            problems.append(f"duplicate {kind} {ref}: {len(where)} times, in {', '.join(where)}")
    return objects, problems
