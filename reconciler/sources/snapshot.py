"""The offline source (design 8): `cluster/` object files and `buckets/<bucket>/<key>` mirrors.

`plan --snapshot DIR` must decide exactly as a live run over the same objects, so this source
yields the same World and the same chains as the live one. The directory is untrusted input:
every path it reads stays inside it (`snapdir`). Data files may be zero-length stand-ins: a
stand-in proves existence, and its size is unknown unless `object-sizes.json` (at the snapshot
root, `{bucket: {key: bytes}}`) records it. `snapshot --out` records there the listed size of
every object whose size differs from its index, so the offline plan shows the same size warnings
as the live one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
import yaml

from reconciler.core.chain import Chain, Listing, compute_chain
from reconciler.core.controller import Upstream
from reconciler.core.index import parse_index
from reconciler.core.model import NO_INDEX, Bsl, ChainState, Index, VMKey
from reconciler.core.names import label_problem, subdomain_problem
from reconciler.core.objects import kind_of
from reconciler.errors import MissingEvidenceError, UsageError
from reconciler.sources.base import World, world_from_raw
from reconciler.sources.snapdir import OutsideError, SnapshotRoot, read_cluster
from reconciler.sources.upstream import ControllerOptions, read_limit, read_trackers
from reconciler.textsafe import terminal_safe

log = structlog.get_logger("reconciler")
# An object the index gives no size for (vmb.json, vmbt.json, a leaked object) is written as a
# stand-in of its listed length up to this size, so the storage report (design 10) reads the same
# sizes offline; a larger one (a leaked data file, rare) has its size recorded in object-sizes.json.
SMALL = 64 * 1024
SIZES = "object-sizes.json"  # listed sizes of objects whose stand-in is zero-length: {bucket: {key: bytes}}


def _vm_name_problem(vm: VMKey) -> str | None:
    """Why a VM's key cannot name a folder of the snapshot (the API server never serves such names)."""
    namespace, name = vm
    if (why := label_problem(namespace)) is not None:
        return f"namespace {json.dumps(namespace, ensure_ascii=False)}: {why}"
    if (why := subdomain_problem(name)) is not None:
        return f"name {json.dumps(name, ensure_ascii=False)}: {why}"
    return None


def _upstream(
    objects: Sequence[Mapping[str, Any]], world: World, options: ControllerOptions, velero_namespace: str | None
) -> tuple[Upstream, list[str]]:
    """The controller's limit and trackers as the snapshot's `cluster/` files hold them (design 8)."""
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
    limit, _, errors = read_limit(
        lambda ns, name: deployments.get((ns, name)), options, velero_namespace=namespace, prefix="snapshot: "
    )
    found, _, _ = read_trackers(lambda: trackers, source="snapshot")
    return Upstream(limit, found), errors


class SnapshotSource:
    def __init__(
        self, root: Path, *, velero_namespace: str | None = None, controller: ControllerOptions | None = None
    ) -> None:
        if not (root / "cluster").is_dir():
            raise UsageError(f"snapshot {root}: no cluster/ directory (see the README, 'Offline snapshot')")
        self.root = root
        self.snap = SnapshotRoot(root)
        self.velero_namespace = velero_namespace
        self.missing_buckets: set[str] = set()
        self.controller = controller or ControllerOptions()
        self._sizes: dict[str, dict[str, int]] | None = None

    def load(self) -> World:
        """Every object of cluster/; refused whole (exit 2) when any document is unreadable or doubled."""
        try:
            objects, problems = read_cluster(self.snap)
        except OutsideError as exc:
            raise MissingEvidenceError(f"snapshot {self.root}: {exc}") from None
        if problems:
            # One problem a line, each escaped here: a name in it must not start a line of its own.
            lines = "".join(f"\n  {terminal_safe(p)}" for p in problems)
            raise MissingEvidenceError(
                f"snapshot {self.root} is incomplete or ambiguous, so nothing was decided "
                f"({len(problems)} problem(s)):{lines}"
            )
        world = world_from_raw(objects, velero_namespace=self.velero_namespace)
        upstream, upstream_errors = _upstream(objects, world, self.controller, self.velero_namespace)
        return World(world.schedules, world.bsls, world.vms, (*world.errors, *upstream_errors), upstream)

    def recorded_sizes(self) -> dict[str, dict[str, int]]:
        """`object-sizes.json`, read once; {} when the snapshot has none."""
        if self._sizes is None:
            path = self.snap.path(SIZES)
            try:
                raw = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            except (ValueError, UnicodeDecodeError) as exc:
                raise UsageError(f"snapshot {self.root}: {SIZES}: {exc}") from exc
            if not isinstance(raw, dict) or not all(
                isinstance(v, dict) and all(isinstance(n, int) and not isinstance(n, bool) for n in v.values())
                for v in raw.values()
            ):
                raise UsageError(f"snapshot {self.root}: {SIZES}: expected {{bucket: {{key: bytes}}}}")
            self._sizes = raw
        return self._sizes

    def listing(self, bsl: Bsl, vm: VMKey) -> Listing:
        """Keys under the VM's checkpoint folder, relative to the datamover prefix.

        A zero-length file is a stand-in: it proves existence; its size is the one `object-sizes.json`
        records for it, else unknown (None). A symlink leading outside the snapshot makes the whole
        folder unreadable (OutsideError).
        """
        base = self.snap.key(bsl.bucket, bsl.datamover_prefix)
        folder = self.snap.key(bsl.bucket, f"{bsl.datamover_prefix}/{bsl.vm_prefix(vm).rstrip('/')}")
        recorded = self.recorded_sizes().get(bsl.bucket, {})
        out: dict[str, int | None] = {}
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_symlink():
                    self.snap.check(path)
                if path.is_file():
                    key = path.relative_to(base).as_posix()
                    out[key] = path.stat().st_size or recorded.get(f"{bsl.datamover_prefix}/{key}")
        return out

    def close(self) -> None:
        """Nothing to release: every read opens and closes its own file."""

    def stats(self) -> dict[str, object]:
        return {}

    def _no_bucket(self, bsl: Bsl) -> Chain | None:
        """The chain of every VM of this BSL when its bucket folder cannot be read, else None.

        A missing folder (often a misnamed one) is warned once per bucket, naming those present.
        """
        try:
            if self.snap.path("buckets", bsl.bucket).is_dir():
                return None
        except OutsideError as exc:
            return Chain(ChainState.UNKNOWN, detail=f"snapshot: {exc}")
        if bsl.bucket not in self.missing_buckets:
            self.missing_buckets.add(bsl.bucket)
            buckets = self.root / "buckets"
            present = sorted(p.name for p in buckets.iterdir() if p.is_dir()) if buckets.is_dir() else []
            log.warning(
                "snapshot-bucket-missing",
                bucket=bsl.bucket,
                bsl=f"{bsl.namespace}/{bsl.name}",
                expected=f"buckets/{bsl.bucket}/",
                present=present,
            )
        return Chain(
            ChainState.UNKNOWN,
            error_code="bucket-missing",
            detail=(
                f"the snapshot has no buckets/{bsl.bucket}/ directory (bucket of BSL {bsl.namespace}/{bsl.name}): "
                "its indexes cannot be read"
            ),
        )

    def chains(self, bsl: Bsl, vms: Sequence[VMKey]) -> Mapping[VMKey, Chain]:
        unread = self._no_bucket(bsl)
        if unread is not None:
            return dict.fromkeys(vms, unread)
        out = {}
        for vm in vms:
            try:
                out[vm] = self._chain(bsl, vm)
            except OutsideError as exc:
                out[vm] = Chain(ChainState.UNKNOWN, detail=f"snapshot: {exc}")
            except OSError as exc:  # a name too long for this filesystem, a permission: this VM only
                where = self.snap.rel(Path(exc.filename)) if exc.filename else "?"
                out[vm] = Chain(ChainState.UNKNOWN, detail=f"snapshot: {where}: {exc.strerror or exc}")
        return out

    def _chain(self, bsl: Bsl, vm: VMKey) -> Chain:
        problem = _vm_name_problem(vm)
        if problem is not None:
            return Chain(ChainState.UNKNOWN, detail=f"snapshot: VirtualMachine {vm[0]}/{vm[1]}: {problem}; refused")
        path = self.snap.key(bsl.bucket, bsl.index_key(vm))
        result = parse_index(path.read_bytes()) if path.is_file() else NO_INDEX
        return compute_chain(result, self.listing(bsl, vm))


class DiskRecorder:
    """Writes what the live source reads: objects as kubectl would, index bytes, stand-in objects,
    and in `object-sizes.json` the listed size of every object whose size differs from its index
    or that the index does not size and is too large for a stand-in of its own length."""

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

    def _write_sparse(self, path: Path, size: int) -> None:
        """A stand-in as long as the object, without its bytes (a hole, no data blocks on most filesystems)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            f.truncate(size)
        with self._lock:
            self.files += 1

    def objects(self, raw: list[dict[str, Any]]) -> None:
        items = []
        for obj in raw:
            meta = dict(obj.get("metadata") or {})
            meta.pop("managedFields", None)  # noise for a dry run, often most of the object
            items.append({**obj, "metadata": meta})
        doc = {"apiVersion": "v1", "kind": "List", "items": items}
        self._write(
            self.root / "cluster" / "objects.yaml", yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode()
        )

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
            path = self.root / "buckets" / bsl.bucket / bsl.datamover_prefix / key
            if key in expected or size is None:
                # Every listed object exists, whatever its size: a zero-length stand-in proves it (design 8).
                self._write(path, b"")
                if size is not None and expected.get(key, size) != size:
                    differing[f"{bsl.datamover_prefix}/{key}"] = size
            elif 0 < size <= SMALL:
                self._write_sparse(path, size)
            else:
                self._write(path, b"")
                differing[f"{bsl.datamover_prefix}/{key}"] = size
        if differing:
            with self._lock:
                first = not self.differing
                self.differing.setdefault(bsl.bucket, {}).update(differing)
                text = json.dumps(self.differing, indent=1, sort_keys=True) + "\n"
                (self.root / SIZES).write_text(text, encoding="utf-8")
                self.files += first
