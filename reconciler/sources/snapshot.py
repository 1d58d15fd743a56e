"""The offline source (SPEC 9): `cluster/` object files and `buckets/<bucket>/<key>` mirrors.

`plan --snapshot DIR` must decide exactly as a live run over the same objects, so this source
yields the same World and the same chains as the live one. Data files may be zero-length
stand-ins: a stand-in proves existence, and its size is unknown unless `object-sizes.json` (at
the snapshot root, `{bucket: {key: bytes}}`) records it. `snapshot --out` records there the
listed size of every object whose size differs from its index, so the offline plan shows the
same size warnings as the live one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from reconciler.core.chain import Chain, Listing, compute_chain
from reconciler.core.controller import Upstream
from reconciler.core.index import parse_index
from reconciler.core.model import NO_INDEX, Bsl, Index, VMKey
from reconciler.core.objects import kind_of
from reconciler.errors import UsageError
from reconciler.sources.base import World, world_from_raw
from reconciler.sources.upstream import ControllerOptions, read_limit, read_trackers

CLUSTER_SUFFIXES = (".yaml", ".yml", ".json")
SIZES = "object-sizes.json"  # listed sizes of objects whose stand-in is zero-length: {bucket: {key: bytes}}


def _documents(path: Path) -> Iterator[Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        yield json.loads(text)
    else:
        yield from yaml.safe_load_all(text)


def _flatten(doc: Any) -> Iterator[Mapping[str, Any]]:
    """Single objects, `kind: List` (and any `*List`) of items, as `kubectl get -o yaml` writes them."""
    if not isinstance(doc, Mapping):
        return
    if isinstance(doc.get("items"), list) and str(doc.get("kind", "")).endswith("List"):
        for item in doc["items"]:
            yield from _flatten(item)
    elif "kind" in doc:
        yield doc


def _upstream(objects: Sequence[Mapping[str, Any]], world: World, options: ControllerOptions,
              velero_namespace: str | None) -> tuple[Upstream, list[str]]:
    """The controller's limit and trackers as the snapshot's `cluster/` files hold them (SPEC 9)."""
    deployments = {}
    trackers = []
    for obj in objects:
        group, kind = kind_of(obj)
        meta = obj.get("metadata") or {}
        if group == "apps" and kind == "Deployment":
            deployments[(str(meta.get("namespace", "")), str(meta.get("name", "")))] = obj
        elif group == "backup.kubevirt.io" and kind == "VirtualMachineBackupTracker":
            trackers.append(obj)
    # Without --velero-namespace: the namespace of the snapshot's Schedules, where OADP runs the controller.
    namespaces = sorted({s.namespace for s in world.schedules})
    namespace = velero_namespace or (namespaces[0] if len(namespaces) == 1 else "velero")
    limit, _, errors = read_limit(lambda ns, name: deployments.get((ns, name)), options, velero_namespace=namespace,
                                  prefix="snapshot: ")
    found, _, _ = read_trackers(lambda: trackers, source="snapshot")
    return Upstream(limit, found), errors


class SnapshotSource:
    def __init__(self, root: Path, *, velero_namespace: str | None = None,
                 controller: ControllerOptions | None = None) -> None:
        if not (root / "cluster").is_dir():
            raise UsageError(f"snapshot {root}: no cluster/ directory (see the README, 'Offline snapshot')")
        self.root = root
        self.velero_namespace = velero_namespace
        self.controller = controller or ControllerOptions()
        self._sizes: dict[str, dict[str, int]] | None = None

    def load(self) -> World:
        objects: list[Mapping[str, Any]] = []
        errors: list[str] = []
        for path in sorted((self.root / "cluster").rglob("*")):
            if not path.is_file() or path.suffix not in CLUSTER_SUFFIXES:
                continue
            try:
                for doc in _documents(path):
                    objects.extend(_flatten(doc))
            except (yaml.YAMLError, ValueError, UnicodeDecodeError) as exc:
                detail = " ".join(str(exc).split())  # YAML errors span lines; a report line should not
                errors.append(f"snapshot file {path.relative_to(self.root)}: {detail}")
        world = world_from_raw(objects, velero_namespace=self.velero_namespace)
        upstream, upstream_errors = _upstream(objects, world, self.controller, self.velero_namespace)
        return World(world.schedules, world.bsls, world.vms, (*errors, *world.errors, *upstream_errors), upstream)

    def _prefix_dir(self, bsl: Bsl) -> Path:
        return self.root / "buckets" / bsl.bucket / bsl.datamover_prefix

    def recorded_sizes(self) -> dict[str, dict[str, int]]:
        """`object-sizes.json`, read once; {} when the snapshot has none."""
        if self._sizes is None:
            path = self.root / SIZES
            try:
                raw = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            except (ValueError, UnicodeDecodeError) as exc:
                raise UsageError(f"snapshot {self.root}: {SIZES}: {exc}") from exc
            if not isinstance(raw, dict) or not all(
                    isinstance(v, dict) and all(isinstance(n, int) and not isinstance(n, bool) for n in v.values())
                    for v in raw.values()):
                raise UsageError(f"snapshot {self.root}: {SIZES}: expected {{bucket: {{key: bytes}}}}")
            self._sizes = raw
        return self._sizes

    def listing(self, bsl: Bsl, vm: VMKey) -> Listing:
        """Keys under the VM's checkpoint folder, relative to the datamover prefix.

        A zero-length file is a stand-in: it proves existence; its size is the one `object-sizes.json`
        records for it, else unknown (None).
        """
        base = self._prefix_dir(bsl)
        folder = base / bsl.vm_prefix(vm)
        recorded = self.recorded_sizes().get(bsl.bucket, {})
        out: dict[str, int | None] = {}
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file():
                    key = path.relative_to(base).as_posix()
                    size = path.stat().st_size
                    out[key] = size or recorded.get(f"{bsl.datamover_prefix}/{key}")
        return out

    def close(self) -> None:
        """Nothing to release: every read opens and closes its own file."""

    def stats(self) -> dict[str, object]:
        return {}

    def chains(self, bsl: Bsl, vms: Sequence[VMKey]) -> Mapping[VMKey, Chain]:
        out = {}
        for vm in vms:
            path = self.root / "buckets" / bsl.bucket / bsl.index_key(vm)
            result = parse_index(path.read_bytes()) if path.is_file() else NO_INDEX
            out[vm] = compute_chain(result, self.listing(bsl, vm))
        return out


class DiskRecorder:
    """Writes what the live source reads: objects as kubectl would, index bytes, stand-in objects,
    and in `object-sizes.json` the listed size of every object whose size differs from its index."""

    def __init__(self, root: Path) -> None:
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise UsageError(f"snapshot --out {root}: not an empty directory")
        self.root = root
        self.files = 0
        self.sizes: dict[tuple[str, VMKey], dict[str, int]] = {}
        self.differing: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()  # index() runs in the GET pool's threads

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        with self._lock:
            self.files += 1

    def objects(self, raw: list[dict[str, Any]]) -> None:
        items = []
        for obj in raw:
            meta = dict(obj.get("metadata") or {})
            meta.pop("managedFields", None)  # noise for a dry run, often most of the object
            items.append({**obj, "metadata": meta})
        doc = {"apiVersion": "v1", "kind": "List", "items": items}
        self._write(self.root / "cluster" / "objects.yaml",
                    yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode())

    def index(self, bsl: Bsl, vm: VMKey, data: bytes | None) -> None:
        if data is not None:
            self._write(self.root / "buckets" / bsl.bucket / bsl.index_key(vm), data)
            parsed = parse_index(data)
            if isinstance(parsed, Index):
                self.sizes[(bsl.bucket, vm)] = {f.object_path: f.size for c in parsed.checkpoints for f in c.files}

    def listing(self, bsl: Bsl, vm: VMKey, listing: Listing) -> None:
        expected = self.sizes.get((bsl.bucket, vm), {})
        differing = {}
        for key, size in listing.items():
            if key == f"{bsl.vm_prefix(vm)}index.json":
                continue  # the real index was written above
            # Every listed object exists, whatever its size: a zero-length stand-in proves it (SPEC 9).
            self._write(self.root / "buckets" / bsl.bucket / bsl.datamover_prefix / key, b"")
            if size is not None and key in expected and expected[key] != size:
                differing[f"{bsl.datamover_prefix}/{key}"] = size
        if differing:
            with self._lock:
                first = not self.differing
                self.differing.setdefault(bsl.bucket, {}).update(differing)
                text = json.dumps(self.differing, indent=1, sort_keys=True) + "\n"
                (self.root / SIZES).write_text(text, encoding="utf-8")
                self.files += first
