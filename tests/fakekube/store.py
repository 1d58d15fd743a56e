"""A small multi-version store, like etcd behind the API server.

Every write gets the next value of one global revision counter (the ``resourceVersion``).
History is kept so that a paged list continued with a ``continue`` token sees the snapshot
of its first page, and ``compact()`` discards history so that old tokens expire (410).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

Key = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped objects


def key_string(key: Key) -> str:
    """The part of the etcd key after the resource prefix; lists are sorted by it."""
    namespace, name = key
    return f"{namespace}/{name}" if namespace else name


class Store:
    FIRST_REVISION = 100

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.revision = self.FIRST_REVISION
        self.compacted = 0
        self._history: dict[str, dict[Key, list[tuple[int, dict[str, Any] | None]]]] = {}

    def clear(self) -> None:
        with self.lock:
            self.revision = self.FIRST_REVISION
            self.compacted = 0
            self._history.clear()

    def get(self, storage: str, key: Key) -> dict[str, Any] | None:
        with self.lock:
            versions = self._history.get(storage, {}).get(key)
            if not versions or versions[-1][1] is None:
                return None
            return copy.deepcopy(versions[-1][1])

    def put(self, storage: str, key: Key, obj: dict[str, Any] | None) -> int:
        """Write (or, with ``None``, delete) an object; returns the new revision.

        A stored object gets ``metadata.resourceVersion`` set to that revision.
        """
        with self.lock:
            self.revision += 1
            stored = None
            if obj is not None:
                stored = copy.deepcopy(obj)
                stored.setdefault("metadata", {})["resourceVersion"] = str(self.revision)
            self._history.setdefault(storage, {}).setdefault(key, []).append((self.revision, stored))
            return self.revision

    def list(self, storage: str, namespace: str | None, at: int | None = None) -> list[tuple[Key, dict[str, Any]]]:
        """Objects as of revision ``at`` (default: now), sorted by etcd key order."""
        with self.lock:
            at = self.revision if at is None else at
            out: list[tuple[Key, dict[str, Any]]] = []
            for key, versions in self._history.get(storage, {}).items():
                if namespace is not None and key[0] != namespace:
                    continue
                current = None
                for rev, obj in versions:
                    if rev > at:
                        break
                    current = obj
                if current is not None:
                    out.append((key, copy.deepcopy(current)))
            out.sort(key=lambda item: key_string(item[0]))
            return out

    def compact(self, revision: int | None = None) -> None:
        """Drop history older than ``revision`` (default: now), like etcd compaction."""
        with self.lock:
            revision = self.revision if revision is None else revision
            for keys in self._history.values():
                for key in list(keys):
                    versions = keys[key]
                    older = [v for v in versions if v[0] <= revision]
                    newer = [v for v in versions if v[0] > revision]
                    kept = older[-1:] + newer
                    if kept and kept[0][1] is None and not newer:
                        del keys[key]
                    else:
                        keys[key] = kept
            self.compacted = max(self.compacted, revision)
