"""Sizes offline (design 8): stand-ins prove existence; `object-sizes.json` carries the sizes that differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.core.model import ChainState
from reconciler.errors import UsageError
from reconciler.sources.snapshot import SIZES, DiskRecorder, SnapshotSource
from tests.builders import bsl, linear

VM = ("ns", "vm")


def snapshot(tmp_path: Path, *, sizes: object | None = None, real: dict[int, bytes] | None = None) -> Path:
    """A snapshot of one VM with a full and two incrementals of 100 bytes each, as zero-length stand-ins."""
    root = tmp_path / "snap"
    (root / "cluster").mkdir(parents=True)
    b = bsl()
    cps = linear(2)
    doc = {
        "vmName": "vm",
        "namespace": "ns",
        "checkpoints": [
            {
                "id": c.id,
                "type": c.type,
                "parent": c.parent or None,
                "timestamp": "2026-11-01T01:12:00Z",
                "files": [
                    {"filename": f.filename, "diskName": f.disk, "size": f.size, "objectPath": f.object_path}
                    for f in c.files
                ],
            }
            for c in cps
        ],
    }
    for c in doc["checkpoints"]:
        if c["parent"] is None:
            del c["parent"]
    base = root / "buckets" / b.bucket
    (base / b.index_key(VM)).parent.mkdir(parents=True)
    (base / b.index_key(VM)).write_text(json.dumps(doc))
    for i, c in enumerate(cps):
        path = base / b.datamover_prefix / c.files[0].object_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((real or {}).get(i, b""))
    if sizes is not None:
        (root / SIZES).write_text(json.dumps(sizes))
    return root


def key(i: int) -> str:
    return f"{bsl().datamover_prefix}/{linear(2)[i].files[0].object_path}"


def test_stand_ins_alone_prove_existence_and_warn_of_nothing(tmp_path: Path) -> None:
    """Zero-length files without recorded sizes: valid, no size compared."""
    chain = SnapshotSource(snapshot(tmp_path)).chains(bsl(), [VM])[VM]
    assert chain.state is ChainState.VALID and chain.mismatches == ()


def test_recorded_sizes_give_the_same_warning_as_the_live_listing(tmp_path: Path) -> None:
    """A size recorded in object-sizes.json is the object's listed size: a warning, the chain still valid."""
    chain = SnapshotSource(snapshot(tmp_path, sizes={"bucket": {key(1): 7}})).chains(bsl(), [VM])[VM]
    assert chain.state is ChainState.VALID
    assert [(m.checkpoint, m.bucket_size, m.index_size) for m in chain.mismatches] == [("c1", 7, 100)]


def test_a_real_file_of_another_size_warns_as_well(tmp_path: Path) -> None:
    """A mirror with real data (aws s3 sync) compares the file's own size."""
    chain = SnapshotSource(snapshot(tmp_path, real={2: b"x" * 3})).chains(bsl(), [VM])[VM]
    assert chain.state is ChainState.VALID and [m.bucket_size for m in chain.mismatches] == [3]


@pytest.mark.parametrize("sizes", ["{", [1], {"bucket": {"k": "7"}}, {"bucket": {"k": True}}])
def test_a_malformed_sizes_file_is_a_usage_error(tmp_path: Path, sizes: object) -> None:
    """object-sizes.json that is not {bucket: {key: bytes}} stops the plan with a message naming it."""
    root = snapshot(tmp_path)
    (root / SIZES).write_text(sizes if isinstance(sizes, str) else json.dumps(sizes))
    with pytest.raises(UsageError, match=SIZES):
        SnapshotSource(root).chains(bsl(), [VM])


def test_the_recorder_keeps_every_object_and_records_the_sizes_that_differ(tmp_path: Path) -> None:
    """snapshot --out writes a stand-in for every listed object, resized ones included, and their sizes."""
    recorder = DiskRecorder(tmp_path / "out")
    b = bsl()
    source = SnapshotSource(snapshot(tmp_path))
    recorder.index(b, VM, (tmp_path / "snap" / "buckets" / b.bucket / b.index_key(VM)).read_bytes())
    listing = {f"checkpoints/ns/vm/c{i}/c{i}-d0.qcow2": size for i, size in enumerate((100, 7, None))}
    listing["checkpoints/ns/vm/c0/vmb.json"] = 2
    recorder.listing(b, VM, listing)
    stand_ins = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.qcow2"))
    assert len(stand_ins) == 3
    assert json.loads((tmp_path / "out" / SIZES).read_text()) == {"bucket": {key(1): 7}}
    (tmp_path / "out" / "cluster").mkdir()
    offline = SnapshotSource(tmp_path / "out").chains(b, [VM])[VM]
    assert offline.state is ChainState.VALID and [m.bucket_size for m in offline.mismatches] == [7]
    assert source.chains(b, [VM])[VM].mismatches == ()
