"""The common-case decoder gives the exact decoder's answer, and declines everything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import index as index_module
from reconciler.core.index import parse_index
from reconciler.core.index_fast import parse_common
from reconciler.simulate.upstream import append_checkpoint
from tests.indexdocs import documents, field_shaped, json_values, scalars, typed_positions

exact = index_module._decode_exact


def _controller_document(checkpoints: int = 5, disks: int = 2) -> dict[str, Any]:
    doc: dict[str, Any] | None = None
    start = datetime(2026, 10, 1, 1, 7, 3, tzinfo=UTC)
    for j in range(checkpoints):
        doc, _ = append_checkpoint(
            doc,
            namespace="team-a",
            name="db-1",
            mode="full" if j == 0 else "incremental",
            at=start + timedelta(days=j),
            backup=f"nightly-{j}",
            disk_sizes={f"disk{d}": (d + 1) * 1024 + j for d in range(disks)},
        )
    assert doc is not None
    return doc


def test_what_the_controller_writes_takes_the_common_path() -> None:
    doc = _controller_document()
    for text in (json.dumps(doc), json.dumps(doc, indent=2), json.dumps(doc, separators=(",", ":"))):
        common = parse_common(text)
        assert common is not None and common == exact(text)
        assert [len(c.files) for c in common.checkpoints] == [2] * 5


@given(documents(), st.booleans(), st.booleans())
def test_valid_documents_take_the_common_path_with_the_same_result(
    case: tuple[dict[str, Any], Any], ascii_only: bool, indent: bool
) -> None:
    document, expected = case
    text = json.dumps(document, ensure_ascii=ascii_only, indent=2 if indent else None)
    if "\\" in text:  # escaped characters are the exact decoder's
        assert parse_common(text) is None
        return
    assert parse_common(text) == exact(text) == expected


@given(field_shaped | json_values, st.booleans())
def test_any_json_the_common_path_takes_it_decodes_as_go_does(value: object, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    common = parse_common(text)
    if common is not None:
        assert common == exact(text)
    assert parse_index(text) == exact(text)


@given(documents(), st.data())
def test_one_changed_value_anywhere_decodes_as_go_does(case: tuple[dict[str, Any], Any], data: st.DataObject) -> None:
    """Any typed position replaced by any JSON value: the common path declines or agrees."""
    document, _ = case
    position, _kind = data.draw(st.sampled_from(typed_positions(document)))
    target: Any = document
    for part in position[:-1]:
        target = target[part]
    target[position[-1]] = data.draw(scalars | st.lists(scalars, max_size=2) | st.just({}))
    text = json.dumps(document)
    common = parse_common(text)
    if common is not None:
        assert common == exact(text)
    assert parse_index(text) == exact(text)


_DOC = json.dumps(_controller_document(2, 1))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(_DOC.replace('"vmName"', '"vmname"'), id="key-in-another-case"),
        pytest.param(_DOC.replace('"vmName": "db-1"', '"vmName": "db-1", "vmName": "db-2"'), id="duplicate-key"),
        pytest.param(_DOC.replace('"vmName": "db-1"', '"vmName": "db-1", "extra": [1, 2]'), id="unknown-key"),
        pytest.param(_DOC.replace('"size": 1024', '"size": 1024.0'), id="float-size"),
        pytest.param(_DOC.replace('"size": 1024', '"size": 9223372036854775808'), id="size-past-int64"),
        pytest.param(_DOC.replace('"size": 1024', '"size": true'), id="bool-size"),
        pytest.param(_DOC.replace('"vmName": "db-1"', '"vmName": "db\\u002d1"'), id="escape"),
        pytest.param(_DOC.replace('"referencedBy": ["nightly-1"]', '"referencedBy": [null]'), id="null-element"),
        pytest.param(_DOC.replace('"timestamp": "2026-10-01T01:07:03Z"', '"timestamp": "2026-10-01"'), id="short-time"),
        pytest.param(_DOC.replace('"timestamp": "2026-10-01T01:07:03Z"', '"timestamp": 1'), id="number-time"),
        pytest.param(_DOC + " x", id="trailing-text"),
        pytest.param(_DOC.replace('"checkpoints": [', '"checkpoints": [NaN, '), id="nan"),
        pytest.param("[]", id="top-level-array"),
        pytest.param('{"checkpoints": {}}', id="object-for-list"),
    ],
)
def test_unusual_documents_are_left_to_the_exact_decoder(text: str) -> None:
    assert text != _DOC  # each replacement above must have hit
    assert parse_common(text) is None
    assert parse_index(text) == exact(text)


def test_null_takes_go_zero_values_on_the_common_path() -> None:
    text = (
        '{"vmName": null, "namespace": "ns", "lastUpdated": null, "checkpoints": [{"id": "a", '
        '"type": "Full", "timestamp": null, "files": [{"filename": "f", "size": null, "objectPath": "o"}], '
        '"pvcs": null, "pvcSizes": null, "referencedBy": null, "superseded": null}]}'
    )
    common = parse_common(text)
    assert common is not None and common == exact(text)
    assert common.vm_name == "" and common.checkpoints[0].files[0].size == 0
