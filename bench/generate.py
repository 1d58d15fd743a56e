"""Synthetic backup buckets: V VMs x D checkpoints x K disks, computed on demand.

Nothing is stored per object. A VM's folder (its objects, their sizes and its ``index.json``) is a
pure function of the `Spec` and the VM's number, built with the uploader's own model
(`reconciler.simulate.upstream.append_checkpoint`) so the index documents are the ones the
kubevirt-datamover writes, and kept in a small cache while it is being read. `SyntheticBucket`
serves that to `bench.s3server` in S3's listing order.

Every VM has one kind, drawn from a seeded generator:

- ``ok``: a full followed by D-1 incrementals; every object present with the index's size.
- ``refull``: a second full halfway (a forced full); the chain is its second half, the first half's
  objects are still in the bucket.
- ``missing``: one data object of a chain member is not in the bucket: broken chain.
- ``size``: one data object is in the bucket with another size than the index says: broken chain.
- ``no-index``: objects without an ``index.json`` (the controller starts over with a full).
- ``absent``: nothing in the bucket (a VM never backed up yet); the job still asks for its index.
- ``orphan``: in the bucket but not in the cluster any more; the listing passes over it.
"""

from __future__ import annotations

import bisect
import json
import random
import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.simulate.upstream import append_checkpoint

GiB = 1024**3
MiB = 1024**2
FIRST_WINDOW = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)
SCHEDULE = "nightly"
APPS = ("db", "web", "app-server", "cache", "queue", "search")

# Shares of the VMs (the rest are "ok").
KINDS = (("refull", 0.03), ("missing", 0.01), ("size", 0.01), ("no-index", 0.005), ("absent", 0.005), ("orphan", 0.01))


@dataclass(frozen=True)
class Spec:
    vms: int
    checkpoints: int = 30
    disks: int = 2
    bucket: str = "vm-backups"
    prefix: str = "velero"
    seed: int = 1
    vms_per_namespace: int = 40

    @property
    def root(self) -> str:
        """The datamover prefix, with its slash."""
        return f"{self.prefix}-kubevirt-datamover/"

    def disk_names(self) -> tuple[str, ...]:
        return ("rootdisk", "datadisk", *(f"datadisk-{i}" for i in range(2, self.disks)))[: self.disks]


@dataclass(frozen=True)
class VmFolder:
    """One VM's objects (keys relative to the datamover prefix, sorted) and index document."""

    ns: str
    name: str
    kind: str
    keys: tuple[str, ...]
    sizes: dict[str, int] = field(repr=False)
    index: bytes | None = field(repr=False)
    damaged: str = ""  # the objectPath that is missing or has another size


def vm_identity(spec: Spec, i: int) -> tuple[str, str, str]:
    """(namespace, name, kind) of VM number `i`."""
    rng = random.Random(spec.seed * 1_000_003 + i)
    ns = f"team-{i // spec.vms_per_namespace}"  # unpadded: team-1, team-10, team-100, team-11, ...
    name = f"{APPS[i % len(APPS)]}-{i}"
    draw = rng.random()
    kind = "ok"
    for k, share in KINDS:
        if draw < share:
            kind = k
            break
        draw -= share
    return ns, name, kind


def build_folder(spec: Spec, i: int) -> VmFolder:
    """VM `i`'s objects and index, as the uploader would have written them."""
    ns, name, kind = vm_identity(spec, i)
    rng = random.Random(spec.seed * 7_000_009 + i)
    doc: dict[str, Any] | None = None
    objects: list[tuple[str, int]] = []
    disks = spec.disk_names()
    full_sizes = {d: rng.randrange(8, 80) * GiB + rng.randrange(0, GiB, 512) for d in disks}
    for j in range(spec.checkpoints):
        window = FIRST_WINDOW + timedelta(days=j)
        at = window + timedelta(minutes=rng.randrange(5, 50), seconds=rng.randrange(60))
        full = j == 0 or (kind == "refull" and j == spec.checkpoints // 2)
        sizes = full_sizes if full else {d: rng.randrange(1, 4096) * MiB + 512 * j for d in disks}
        doc, written = append_checkpoint(
            doc,
            namespace=ns,
            name=name,
            mode="full" if full else "incremental",
            at=at,
            backup=f"{SCHEDULE}-{window.strftime('%Y%m%d%H%M%S')}",
            disk_sizes=sizes,
        )
        objects += written
    damaged = ""
    if kind in ("missing", "size") and doc is not None:
        members = doc["checkpoints"][spec.checkpoints // 2 if kind == "refull" else 0 :]
        entry = members[rng.randrange(len(members))]
        damaged = entry["files"][rng.randrange(len(entry["files"]))]["objectPath"]
        if kind == "missing":
            objects = [(k, s) for k, s in objects if k != damaged]
        else:
            objects = [(k, s - 4096 if k == damaged else s) for k, s in objects]
    index: bytes | None = None
    if kind not in ("no-index", "absent") and doc is not None:
        index = json.dumps(doc, separators=(",", ":")).encode()
        objects.append((f"checkpoints/{ns}/{name}/index.json", len(index)))
    if kind == "absent":
        objects = []
    objects.sort()
    return VmFolder(ns, name, kind, tuple(k for k, _ in objects), dict(objects), index, damaged)


def expected_state(kind: str) -> str:
    """The chain state the job must find for a VM of this kind (a ChainState value)."""
    return {
        "ok": "valid",
        "refull": "valid",
        "missing": "broken-chain",
        "size": "valid",  # the controller checks existence only: a resized object is a warning
        "no-index": "no-index",
        "absent": "no-index",
    }[kind]


@dataclass(frozen=True)
class _Packed:
    """A VM folder, compressed: what the endpoint keeps per VM (a few KiB)."""

    keys: bytes  # zlib("\n".join(keys))
    sizes: array[int]
    index: bytes | None  # zlib(index.json)


@dataclass(frozen=True)
class _Open:
    keys: list[str]
    sizes: dict[str, int]


class SyntheticBucket:
    """A `bench.s3server.Bucket` over a Spec.

    Each VM folder is built once (`warm`, or on first use) and kept compressed, a few KiB per
    VM; a small cache holds the folders being read. Index documents are decompressed per GET.
    """

    def __init__(self, spec: Spec, *, cache: int = 512) -> None:
        self.spec = spec
        self.name = spec.bucket
        folders: list[tuple[str, int]] = []
        self._by_vm: dict[tuple[str, str], int] = {}
        for i in range(spec.vms):
            ns, name, kind = vm_identity(spec, i)
            self._by_vm[(ns, name)] = i
            if kind != "absent":
                folders.append((f"{spec.root}checkpoints/{ns}/{name}/", i))
        folders.sort()  # ASCII names: code point order is S3's UTF-8 byte order
        self._prefixes = [p for p, _ in folders]
        self._numbers = [i for _, i in folders]
        self._packed: dict[int, _Packed] = {}
        self._cache: OrderedDict[int, _Open] = OrderedDict()
        self._cache_size = cache
        self._lock = threading.Lock()

    def warm(self) -> int:
        """Build every folder now (so serving never has to); the number of objects."""
        return sum(len(self._pack(i).sizes) for i in self._numbers)

    def _pack(self, i: int) -> _Packed:
        packed = self._packed.get(i)
        if packed is None:
            f = build_folder(self.spec, i)
            packed = _Packed(
                zlib.compress("\n".join(f.keys).encode()),
                array("q", (f.sizes[k] for k in f.keys)),
                None if f.index is None else zlib.compress(f.index),
            )
            self._packed[i] = packed
        return packed

    def folder(self, i: int) -> _Open:
        with self._lock:
            hit = self._cache.get(i)
            if hit is not None:
                self._cache.move_to_end(i)
                return hit
        packed = self._pack(i)
        keys = zlib.decompress(packed.keys).decode().split("\n") if len(packed.sizes) else []
        opened = _Open(keys, dict(zip(keys, packed.sizes, strict=True)))
        with self._lock:
            self._cache[i] = opened
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return opened

    def _locate(self, key: str) -> tuple[int, str] | None:
        if not key.startswith(self.spec.root):
            return None
        rel = key[len(self.spec.root) :]
        parts = rel.split("/", 3)
        if len(parts) < 4 or parts[0] != "checkpoints":
            return None
        i = self._by_vm.get((parts[1], parts[2]))
        return None if i is None else (i, rel)

    def iter_from(self, start: str, prefix: str) -> Iterator[tuple[str, int]]:
        root = self.spec.root
        at = bisect.bisect_right(self._prefixes, max(start, prefix)) - 1
        for f in range(max(at, 0), len(self._prefixes)):
            p = self._prefixes[f]
            if not (p.startswith(prefix) or prefix.startswith(p)):
                if p > prefix:
                    return
                continue
            folder = self.folder(self._numbers[f])
            for rel in folder.keys:
                key = root + rel
                if key > start and key.startswith(prefix):
                    yield key, folder.sizes[rel]

    def size(self, key: str) -> int | None:
        found = self._locate(key)
        return None if found is None else self.folder(found[0]).sizes.get(found[1])

    def body(self, key: str) -> bytes | None:
        found = self._locate(key)
        if found is None:
            return None
        i, rel = found
        if rel.endswith("/index.json"):
            packed = self._pack(i).index
            return None if packed is None or rel not in self.folder(i).sizes else zlib.decompress(packed)
        if rel.endswith(("/vmb.json", "/vmbt.json")) and rel in self.folder(i).sizes:
            return b"{}"  # the uploader's stand-in documents are 2 bytes
        return None
