"""parse_index must decode index.json exactly as the controller's Go decoder does."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import gojson
from reconciler.core import index as index_module
from reconciler.core.chain import compute_chain
from reconciler.core.index import MAX_INDEX_BYTES, RawIndex, parse_index
from reconciler.core.model import ChainState, Checkpoint, FetchFailed, FileRef, Index, Unreadable
from tests.indexdocs import documents, field_shaped, json_values, typed_positions

# ------------------------------------------------------------------------------ builders

DROP: Any = object()  # a builder value that removes the key
RAW = "@@raw@@"  # a placeholder replaced by raw JSON source text (see `source`)


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **overrides}
    return {key: value for key, value in merged.items() if value is not DROP}


def file_(**fields: Any) -> dict[str, Any]:
    return _merge(
        {
            "filename": "vmb-1-disk0.qcow2",
            "diskName": "disk0",
            "size": 1024,
            "objectPath": "checkpoints/ns/vm/cp-1/vmb-1-disk0.qcow2",
        },
        fields,
    )


def cp(**fields: Any) -> dict[str, Any]:
    return _merge(
        {
            "id": "cp-1",
            "type": "Full",
            "timestamp": "2026-01-02T03:04:05Z",
            "vmBackup": "vmb-1",
            "files": [file_()],
            "pvcs": ["pvc-0"],
            "pvcSizes": ["10Gi"],
            "referencedBy": ["backup-1"],
            "vmbObjectPath": "checkpoints/ns/vm/cp-1/vmb.json",
            "vmbtObjectPath": "checkpoints/ns/vm/cp-1/vmbt.json",
        },
        fields,
    )


def doc(**fields: Any) -> dict[str, Any]:
    return _merge(
        {
            "vmName": "vm",
            "namespace": "ns",
            "checkpoints": [cp()],
            "lastUpdated": "2026-01-02T03:04:06Z",
        },
        fields,
    )


def source(document: dict[str, Any], raw: str) -> str:
    """The document as JSON text, with the one RAW placeholder replaced by `raw` verbatim."""
    text = json.dumps(document)
    assert text.count(json.dumps(RAW)) == 1
    return text.replace(json.dumps(RAW), raw)


def decode(value: object) -> Index | Unreadable:
    return parse_index(json.dumps(value).encode())


def ok(result: Index | Unreadable | FetchFailed) -> Index:
    assert isinstance(result, Index), result
    return result


def unreadable(result: Index | Unreadable | FetchFailed) -> str:
    assert isinstance(result, Unreadable), result
    return result.reason


def too_large(result: Index | Unreadable | FetchFailed) -> str:
    """Past the job's own bounds: no decision for the VM (error), never the full an unreadable index means."""
    assert isinstance(result, FetchFailed) and result.code == "index-too-large", result
    return result.reason


def only_checkpoint(result: Index | Unreadable) -> Checkpoint:
    (checkpoint,) = ok(result).checkpoints
    return checkpoint


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


MIN = datetime.min.replace(tzinfo=UTC)
MAX = datetime.max.replace(tzinfo=UTC)

# ------------------------------------------------------------------------- the document


def test_valid_document_decodes_every_field() -> None:
    """Every field the domain keeps comes out of a well-formed document unchanged."""
    result = ok(decode(doc(checkpoints=[cp(parent="cp-0")])))
    assert result == Index(
        vm_name="vm",
        namespace="ns",
        last_updated=utc(2026, 1, 2, 3, 4, 6),
        checkpoints=(
            Checkpoint(
                id="cp-1",
                type="Full",
                parent="cp-0",
                timestamp=utc(2026, 1, 2, 3, 4, 5),
                vm_backup="vmb-1",
                files=(
                    FileRef(
                        filename="vmb-1-disk0.qcow2",
                        disk="disk0",
                        size=1024,
                        object_path="checkpoints/ns/vm/cp-1/vmb-1-disk0.qcow2",
                    ),
                ),
                referenced_by=("backup-1",),
                vmb_object_path="checkpoints/ns/vm/cp-1/vmb.json",
                vmbt_object_path="checkpoints/ns/vm/cp-1/vmbt.json",
            ),
        ),
    )


def test_checkpoints_keep_document_order() -> None:
    """Checkpoints come out in document order (newest last), never sorted."""
    ids = ["cp-3", "cp-1", "cp-2"]
    result = ok(decode(doc(checkpoints=[cp(id=i) for i in ids])))
    assert [c.id for c in result.checkpoints] == ids


def test_absent_fields_take_go_zero_values() -> None:
    """A field the document leaves out has Go's zero value: "", 0, no time, no elements."""
    bare: dict[str, Any] = {"checkpoints": [{"files": [{}]}]}
    result = ok(decode(bare))
    assert result == Index(
        vm_name="",
        namespace="",
        last_updated=None,
        checkpoints=(
            Checkpoint(
                id="",
                type="",
                parent="",
                timestamp=None,
                vm_backup="",
                files=(FileRef(filename="", disk="", size=0, object_path=""),),
                referenced_by=(),
            ),
        ),
    )


def test_type_is_kept_as_written() -> None:
    """The checkpoint type keeps its spelling; comparing it without case is downstream's job."""
    assert only_checkpoint(decode(doc(checkpoints=[cp(type="FULL")]))).type == "FULL"


def test_str_input_decodes_like_its_utf8_bytes() -> None:
    """A str argument is decoded exactly like the UTF-8 bytes it encodes to."""
    text = json.dumps(doc(vmName="vm-é"), ensure_ascii=False)
    assert parse_index(text) == parse_index(text.encode())


def test_raw_typed_dicts_describe_the_wire_shape() -> None:
    """A document written to the RawIndex shape decodes cleanly."""
    raw: RawIndex = {
        "vmName": "vm",
        "namespace": "ns",
        "checkpoints": [
            {
                "id": "cp-1",
                "type": "Full",
                "timestamp": "2026-01-02T03:04:05Z",
                "vmBackup": "vmb-1",
                "files": None,
                "pvcs": None,
                "referencedBy": None,
                "pvcSizes": ["1Gi", 5],
                "superseded": True,
            }
        ],
    }
    assert ok(decode(raw)).checkpoints[0].files == ()


def test_error_messages_match_the_documented_examples() -> None:
    """Reasons name the offending field with a JSON path, in the documented wording."""
    four = [cp(), cp(), cp(), cp(files=["x"])]
    assert unreadable(decode(doc(checkpoints=four))) == ("checkpoints[3].files[0]: expected object, got string")
    sized = [cp(files=[file_(), file_(size=1.5)])]
    assert unreadable(decode(doc(checkpoints=sized))) == (
        "checkpoints[0].files[1].size: expected integer (int64), got 1.5"
    )
    timed = [cp(), cp(), cp(timestamp="2026-13-01T00:00:00Z")]
    assert unreadable(decode(doc(checkpoints=timed))) == (
        'checkpoints[2].timestamp: not RFC 3339: "2026-13-01T00:00:00Z"'
    )
    assert unreadable(parse_index(b'{"a": x}')).startswith("invalid JSON at line 1 column 7: ")


# ---------------------------------------------------------------------------------- null


def test_top_level_null_is_an_empty_index() -> None:
    """A top-level null leaves the zero VMIndex: no name, no checkpoints."""
    assert ok(parse_index(b" null ")) == Index("", "", None, ())


@pytest.mark.parametrize(
    "build",
    [
        lambda: doc(vmName=None),
        lambda: doc(namespace=None),
        lambda: doc(checkpoints=None),
        lambda: doc(lastUpdated=None),
        lambda: doc(checkpoints=[None]),
        lambda: doc(checkpoints=[cp(id=None, type=None, parent=None, vmBackup=None)]),
        lambda: doc(checkpoints=[cp(timestamp=None, files=None, pvcs=None, pvcSizes=None)]),
        lambda: doc(checkpoints=[cp(referencedBy=None, vmbObjectPath=None, superseded=None)]),
        lambda: doc(checkpoints=[cp(files=[None])]),
        lambda: doc(checkpoints=[cp(files=[file_(filename=None, diskName=None)])]),
        lambda: doc(checkpoints=[cp(files=[file_(size=None, objectPath=None)])]),
        lambda: doc(checkpoints=[cp(pvcs=[None], pvcSizes=[None], referencedBy=[None])]),
    ],
)
def test_null_anywhere_is_accepted(build: Any) -> None:
    """A JSON null for any field or element is no error."""
    ok(decode(build()))


def test_null_fields_keep_zero_values() -> None:
    """Nulls decode to Go's zero values: "", no time, zero-valued elements."""
    document = doc(
        vmName=None,
        lastUpdated=None,
        checkpoints=[cp(id=None, timestamp=None, files=[None], referencedBy=[None])],
    )
    result = ok(decode(document))
    assert (result.vm_name, result.last_updated) == ("", None)
    checkpoint = result.checkpoints[0]
    assert (checkpoint.id, checkpoint.timestamp) == ("", None)
    assert checkpoint.files == (FileRef("", "", 0, ""),)
    assert checkpoint.referenced_by == ("",)


def test_null_element_checkpoint_is_zero_checkpoint() -> None:
    """A null element of checkpoints is the zero CheckpointEntry."""
    result = ok(decode(doc(checkpoints=[None])))
    assert result.checkpoints == (Checkpoint(id="", type="", parent="", timestamp=None),)


def test_null_after_a_value_keeps_strings_and_times() -> None:
    """Go ignores null for strings and times, so a later null does not undo an earlier value."""
    text = '{"vmName": "a", "vmName": null, "lastUpdated": "2026-01-01T00:00:00Z", "lastUpdated": null}'
    result = ok(parse_index(text))
    assert (result.vm_name, result.last_updated) == ("a", utc(2026, 1, 1))


def test_null_after_a_value_clears_slices() -> None:
    """Go sets a slice to nil on null, so a later null empties an earlier array."""
    text = '{"checkpoints": [{"id": "a"}], "checkpoints": null}'
    assert ok(parse_index(text)).checkpoints == ()


# -------------------------------------------------------------------------------- syntax


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"   ",
        b'{"vmName": NaN}',
        b'{"vmName": Infinity}',
        b'{"vmName": -Infinity}',
        b"{} {}",
        b"{}x",
        b'{"vmName": "vm"} trailing',
        b"\xef\xbb\xbf{}",  # UTF-8 BOM
        b'// comment\n{"vmName": "vm"}',
        b'{"vmName": "vm" /* comment */}',
        b'{"vmName": "vm",}',
        b'{"checkpoints": [{},]}',
        b"{'vmName': 'vm'}",
        b"{vmName: 1}",
        b'{"vmName" "vm"}',
        b'{"vmName": "vm"',
        b'{"vmName": "vm',
        b'{"vmName": True}',
        b'{"vmName": None}',
        b'{"x": 01}',
        b'{"x": 1.}',
        b'{"x": .5}',
        b'{"x": +1}',
        b'{"x": 1e}',
        b'{"x": -}',
        b'{"x": 0x10}',
        b'{"x": "a\tb"}',  # a raw control character inside a string
        b'{"x": "\\x41"}',
        b'{"x": "\\u12G4"}',
        b'{"x": "\\u12"}',
        b'{"x": tru}',
        b'{"x": nul}',
        b"[",
        b"]",
        b'{"x": [1 2]}',
        b'{"x" : 1 "y": 2}',
    ],
)
def test_invalid_json_is_unreadable(text: bytes) -> None:
    """Anything outside Go's JSON grammar is unreadable, reported with its line and column."""
    assert unreadable(parse_index(text)).startswith("invalid JSON at line ")


def test_syntax_error_reports_line_and_column() -> None:
    """The syntax error names the line and column of the first offending character."""
    text = '{\n  "vmName": "vm",\n  "namespace": nope\n}'
    reason = unreadable(parse_index(text))
    assert reason == ("invalid JSON at line 3 column 17: invalid character 'o' in literal null (expecting 'u')")


def test_syntax_error_wins_over_an_earlier_type_error() -> None:
    """Go checks syntax over the whole document first, so it beats an earlier type error."""
    reason = unreadable(parse_index('{"vmName": 5, "namespace": "ns",}'))
    assert reason.startswith("invalid JSON at line 1 column 33:")


def test_nesting_up_to_gos_limit_is_accepted() -> None:
    """Go's scanner allows 10 000 nested arrays and objects, even inside an ignored field."""
    text = '{"extra": ' + "[" * 9_999 + "]" * 9_999 + "}"
    assert ok(parse_index(text)).checkpoints == ()


def test_nesting_beyond_gos_limit_is_unreadable() -> None:
    """One level more than Go's 10 000 is an error ("exceeded max depth")."""
    text = '{"extra": ' + "[" * 10_000 + "]" * 10_000 + "}"
    assert unreadable(parse_index(text)).endswith(": exceeded max depth")


def test_pathological_nesting_does_not_crash() -> None:
    """A million open brackets is an ordinary unreadable document, not a RecursionError."""
    assert unreadable(parse_index(b"[" * 1_000_000)).endswith(": exceeded max depth")
    assert unreadable(parse_index(b'{"a":' * 200_000)).endswith(": exceeded max depth")


def test_depth_limit_holds_when_the_recursion_limit_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process with a recursion limit above Go's depth still gets Go's depth verdict."""
    monkeypatch.setattr(sys, "getrecursionlimit", lambda: 50_000)
    deep = '{"extra": ' + "[" * 10_000 + "]" * 10_000 + "}"
    assert unreadable(parse_index(deep)).endswith(": exceeded max depth")
    assert ok(decode(doc())).vm_name == "vm"


# ------------------------------------------------------------------------------ encoding


def test_invalid_utf8_in_a_string_becomes_one_replacement_per_byte() -> None:
    """Go replaces each byte of an invalid UTF-8 sequence with U+FFFD and carries on."""
    text = b'{"vmName": "a\xe2\x82b\xff\xed\xa0\x80c\xf0\x9f\x98"}'
    replaced = "a" + "\ufffd" * 2 + "b" + "\ufffd" * 4 + "c" + "\ufffd" * 3
    assert ok(parse_index(text)).vm_name == replaced


def test_invalid_utf8_outside_strings_is_unreadable() -> None:
    """A byte that is not valid UTF-8 outside a string is a syntax error."""
    assert unreadable(parse_index(b'{"vmName": "vm"}\xff')).startswith("invalid JSON")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
def test_utf16_and_utf32_are_not_detected(encoding: str) -> None:
    """Only UTF-8 is read: a UTF-16 or UTF-32 document is unreadable, as it is to Go."""
    assert unreadable(parse_index(json.dumps(doc()).encode(encoding))).startswith("invalid JSON")


def test_escapes_decode_like_go() -> None:
    """JSON escapes decode; a surrogate pair joins; a lone surrogate escape becomes U+FFFD."""
    text = (
        r'{"vmName": "\u0041\n\t\"\\\/\ud83d\ude00",'
        r' "namespace": "x\ud800y\udc00z\ud800\ud800\udc00"}'
    )
    result = ok(parse_index(text))
    assert result.vm_name == 'A\n\t"\\/\U0001f600'
    assert result.namespace == "x\ufffdy\ufffdz\ufffd\U00010000"


def test_lone_surrogate_in_str_input_is_taken_as_its_bytes() -> None:
    """A lone surrogate in str input is its three (invalid) UTF-8 bytes, hence three U+FFFD."""
    assert ok(parse_index('{"vmName": "\ud800"}')).vm_name == "\ufffd" * 3


# ------------------------------------------------------------------------------------ keys


def test_keys_match_fields_case_insensitively() -> None:
    """Keys match struct fields whatever their ASCII case, as Go's decoder does."""
    text = (
        '{"VMNAME": "vm", "NameSpace": "ns", "Checkpoints": [{"ID": "cp", "Type": "Full",'
        ' "TimeStamp": "2026-01-01T00:00:00Z", "FILES": [{"OBJECTPATH": "o", "Size": 3}]}]}'
    )
    result = ok(parse_index(text))
    assert (result.vm_name, result.namespace) == ("vm", "ns")
    checkpoint = result.checkpoints[0]
    assert (checkpoint.id, checkpoint.type, checkpoint.timestamp) == ("cp", "Full", utc(2026, 1, 1))
    assert checkpoint.files == (FileRef(filename="", disk="", size=3, object_path="o"),)


def test_kelvin_sign_and_long_s_fold_into_ascii() -> None:
    """U+212A (Kelvin sign) matches 'k' and U+017F (long s) matches 's', as in Go's foldName."""
    text = '{"chec\u212apoints": [{"files": [{"\u017fize": 7}]}]}'
    assert ok(parse_index(text)).checkpoints[0].files[0].size == 7


@pytest.mark.parametrize("key", ["\u0131d", "\u0130d", "i\u0307d", "\uff49d", "id "])
def test_other_lookalike_keys_do_not_match(key: str) -> None:
    """Dotless i, dotted I, combining marks, fullwidth letters and padding do not match "id"."""
    text = json.dumps({"checkpoints": [{key: "x"}]})
    assert only_checkpoint(parse_index(text)).id == ""


def test_duplicate_keys_last_scalar_wins_whatever_its_case() -> None:
    """Every duplicate is decoded in order, so the last scalar in the document wins."""
    text = '{"vmName": "a", "VMNAME": "b", "vmname": "c", "namespace": "x", "namespace": "y"}'
    result = ok(parse_index(text))
    assert (result.vm_name, result.namespace) == ("c", "y")


def test_duplicate_objects_merge_into_the_earlier_value() -> None:
    """A duplicate object key decodes into the struct the earlier one filled, field by field."""
    text = (
        '{"checkpoints": [{"id": "a", "type": "Full", "files": [{"filename": "f", "size": 1}]}],'
        ' "checkpoints": [{"type": "Incremental", "files": [{"size": 2}]}]}'
    )
    checkpoint = only_checkpoint(parse_index(text))
    assert (checkpoint.id, checkpoint.type) == ("a", "Incremental")
    assert checkpoint.files == (FileRef(filename="f", disk="", size=2, object_path=""),)


def test_shorter_duplicate_array_truncates() -> None:
    """A later, shorter array keeps only as many elements as it has."""
    text = '{"checkpoints": [{"referencedBy": ["a", "b", "c"], "referencedBy": ["x"]}]}'
    assert only_checkpoint(parse_index(text)).referenced_by == ("x",)


def test_truncated_elements_come_back_when_the_array_grows_again() -> None:
    """Go reuses the slice's backing array, so elements a shorter duplicate dropped reappear."""
    text = (
        '{"checkpoints": [{"referencedBy": ["a", "b", "c"], "referencedBy": ["x"],'
        ' "referencedBy": [null, null, null, null]}]}'
    )
    assert only_checkpoint(parse_index(text)).referenced_by == ("x", "b", "c", "")


def test_empty_or_null_duplicate_array_starts_afresh() -> None:
    """An empty array or null replaces the slice, so nothing earlier reappears after it."""
    for reset in ("[]", "null"):
        text = (
            '{"checkpoints": [{"referencedBy": ["a", "b"], "referencedBy": '
            + reset
            + ', "referencedBy": [null, null]}]}'
        )
        assert only_checkpoint(parse_index(text)).referenced_by == ("", "")


@pytest.mark.parametrize("value", [None, True, 1.5, "text", [], {}, {"deep": [1, {"x": None}]}, [[[]]], -0, 10**400])
def test_unknown_keys_are_ignored_whatever_their_value(value: object) -> None:
    """A key that names no field is skipped, whatever its value."""
    document = doc(extra=value, checkpoints=[cp(extra=value, files=[file_(extra=value)])])
    assert ok(decode(document)) == ok(decode(doc()))


def test_superseded_is_a_boolean_field_upstream() -> None:
    """CheckpointEntry.Superseded is a Go bool: true, false and null pass, anything else fails."""
    for good in (True, False, None):
        ok(decode(doc(checkpoints=[cp(superseded=good)])))
    bad: object
    for bad in ("true", 1, {}, []):
        reason = unreadable(decode(doc(checkpoints=[cp(superseded=bad)])))
        assert reason.startswith("checkpoints[0].superseded: expected boolean, got ")


# ----------------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (doc(vmName=5), "vmName: expected string, got number"),
        (doc(namespace=[]), "namespace: expected string, got array"),
        (doc(lastUpdated=True), "lastUpdated: expected RFC 3339 string, got boolean"),
        (doc(checkpoints={}), "checkpoints: expected array, got object"),
        (doc(checkpoints="cp-1"), "checkpoints: expected array, got string"),
        (doc(checkpoints=[cp(), 3]), "checkpoints[1]: expected object, got number"),
        (doc(checkpoints=[[]]), "checkpoints[0]: expected object, got array"),
        (doc(checkpoints=[cp(id=1)]), "checkpoints[0].id: expected string, got number"),
        (doc(checkpoints=[cp(type={})]), "checkpoints[0].type: expected string, got object"),
        (
            doc(checkpoints=[cp(parent=False)]),
            "checkpoints[0].parent: expected string, got boolean",
        ),
        (doc(checkpoints=[cp(vmBackup=[])]), "checkpoints[0].vmBackup: expected string, got array"),
        (
            doc(checkpoints=[cp(timestamp=1_700_000_000)]),
            "checkpoints[0].timestamp: expected RFC 3339 string, got number",
        ),
        (doc(checkpoints=[cp(files={})]), "checkpoints[0].files: expected array, got object"),
        (doc(checkpoints=[cp(files=[[]])]), "checkpoints[0].files[0]: expected object, got array"),
        (doc(checkpoints=[cp(pvcs="pvc")]), "checkpoints[0].pvcs: expected array, got string"),
        (
            doc(checkpoints=[cp(pvcs=["a", 1])]),
            "checkpoints[0].pvcs[1]: expected string, got number",
        ),
        (
            doc(checkpoints=[cp(pvcSizes="1Gi")]),
            "checkpoints[0].pvcSizes: expected array, got string",
        ),
        (
            doc(checkpoints=[cp(pvcSizes=[True])]),
            "checkpoints[0].pvcSizes[0]: expected quantity (string or number), got boolean",
        ),
        (
            doc(checkpoints=[cp(referencedBy=[{}])]),
            "checkpoints[0].referencedBy[0]: expected string, got object",
        ),
        (
            doc(checkpoints=[cp(vmbObjectPath=1)]),
            "checkpoints[0].vmbObjectPath: expected string, got number",
        ),
        (
            doc(checkpoints=[cp(vmbtObjectPath=[])]),
            "checkpoints[0].vmbtObjectPath: expected string, got array",
        ),
        (
            doc(checkpoints=[cp(files=[file_(filename=0)])]),
            "checkpoints[0].files[0].filename: expected string, got number",
        ),
        (
            doc(checkpoints=[cp(files=[file_(diskName=True)])]),
            "checkpoints[0].files[0].diskName: expected string, got boolean",
        ),
        (
            doc(checkpoints=[cp(files=[file_(size="12")])]),
            "checkpoints[0].files[0].size: expected integer (int64), got string",
        ),
        (
            doc(checkpoints=[cp(files=[file_(objectPath={})])]),
            "checkpoints[0].files[0].objectPath: expected string, got object",
        ),
    ],
)
def test_wrong_json_type_is_unreadable_and_named(document: dict[str, Any], reason: str) -> None:
    """A value of the wrong JSON type in a known field makes the document unreadable, by path."""
    assert unreadable(decode(document)) == reason


@pytest.mark.parametrize(("value", "kind"), [([], "array"), ("x", "string"), (1, "number"), (False, "boolean")])
def test_top_level_must_be_an_object(value: object, kind: str) -> None:
    """The top-level value must be an object (or null)."""
    assert unreadable(decode(value)) == f"document: expected object, got {kind}"


def test_first_error_in_document_order_is_reported() -> None:
    """With several errors, the one earliest in the document is reported."""
    document = doc(checkpoints=[cp(), cp(files=[file_(size="1")], timestamp="bad")], lastUpdated=5, vmName=7)
    assert unreadable(decode(document)).startswith("vmName:")
    document = {"checkpoints": [cp(), cp(timestamp="bad", files=[file_(size="1")])], "vmName": 7}
    assert unreadable(decode(document)).startswith("checkpoints[1].timestamp:")


# ------------------------------------------------------------------------------------ size


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("0", 0),
        ("-0", 0),
        ("123456789012", 123456789012),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        ("9223372036854775808", None),
        ("-9223372036854775809", None),
        ("1.5", None),
        ("1.0", None),
        ("0.0", None),
        ("1e3", None),
        ("1E3", None),
        ("1e-3", None),
        ("1" + "0" * 5000, None),
    ],
)
def test_size_is_an_int64_literal(literal: str, expected: int | None) -> None:
    """size must be an integer literal in int64 range: no fraction, no exponent, no overflow."""
    document = doc(checkpoints=[cp(files=[file_(size=RAW)])])
    result = parse_index(source(document, literal))
    if expected is None:
        reason = unreadable(result)
        assert reason.startswith("checkpoints[0].files[0].size: expected integer (int64), got ")
    else:
        assert only_checkpoint(result).files[0].size == expected


# ----------------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05Z", utc(2026, 1, 2, 3, 4, 5)),
        ("2026-01-02T03:04:05.1Z", utc(2026, 1, 2, 3, 4, 5, 100_000)),
        ("2026-01-02T03:04:05.123456789Z", utc(2026, 1, 2, 3, 4, 5, 123_456)),
        ("2026-01-02T03:04:05.123456789987654Z", utc(2026, 1, 2, 3, 4, 5, 123_456)),
        ("2026-01-02T03:04:05+02:00", utc(2026, 1, 2, 1, 4, 5)),
        ("2026-01-02T03:04:05-05:30", utc(2026, 1, 2, 8, 34, 5)),
        ("2026-01-02T03:04:05-00:00", utc(2026, 1, 2, 3, 4, 5)),
        ("2024-02-29T00:00:00Z", utc(2024, 2, 29)),
        ("2000-02-29T23:59:59Z", utc(2000, 2, 29, 23, 59, 59)),
        # Go's strict RFC 3339 checks are disabled upstream; time.Parse's leniency applies.
        ("2026-01-02T3:04:05Z", utc(2026, 1, 2, 3, 4, 5)),
        ("2026-01-02T03:04:05,5Z", utc(2026, 1, 2, 3, 4, 5, 500_000)),
        ("2026-01-02T03:04:05+24:00", utc(2026, 1, 1, 3, 4, 5)),
        ("2026-01-02T03:04:05+23:60", utc(2026, 1, 1, 3, 4, 5)),
        # Valid in Go, outside datetime's range: clamped, still present.
        ("0000-02-29T12:00:00Z", MIN),
        ("0001-01-01T00:30:00+01:00", MIN),
        ("9999-12-31T23:59:59-01:00", MAX),
        ("9999-12-31T23:59:59.999999999Z", utc(9999, 12, 31, 23, 59, 59, 999_999)),
        ("0001-01-01T00:00:00.000000001Z", MIN),
    ],
)
def test_times_go_accepts(text: str, expected: datetime) -> None:
    """Timestamps Go accepts decode to their UTC instant, truncated to microseconds."""
    assert only_checkpoint(decode(doc(checkpoints=[cp(timestamp=text)]))).timestamp == expected


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00.000000000Z",
        "0001-01-01T01:00:00+01:00",
        "0000-12-31T23:00:00-01:00",
    ],
)
def test_go_zero_time_is_none(text: str) -> None:
    """Go's zero time (the instant 0001-01-01T00:00:00Z, in any offset) means "no time"."""
    assert only_checkpoint(decode(doc(checkpoints=[cp(timestamp=text)]))).timestamp is None
    assert ok(decode(doc(lastUpdated=text))).last_updated is None


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2026-01-02",
        "2026-01-02t03:04:05Z",
        "2026-01-02T03:04:05z",
        "2026-01-02 03:04:05Z",
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-32T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2026-01-02T24:00:00Z",
        "2026-01-02T03:60:00Z",
        "2026-01-02T03:04:60Z",
        "2026-01-02T03:04:05",
        "2026-01-02T03:04:05+25:00",
        "2026-01-02T03:04:05+01:61",
        "2026-01-02T03:04:05+0100",
        "2026-01-02T03:04:05+01",
        "2026-01-02T03:04:05+1:00",
        "2026-01-02T003:04:05Z",
        "20260-01-02T03:04:05Z",
        "-2026-01-02T03:04:05Z",
        "2026-1-02T03:04:05Z",
        "2026-01-2T03:04:05Z",
        "2026-01-02T03:4:05Z",
        "2026-01-02T03:04:5Z",
        "2026-01-02T03:04:05.Z",
        "2026-01-02T03:04:05Z ",
        " 2026-01-02T03:04:05Z",
        "2026-01-02T03:04:05ZZ",
        "\u0662026-01-02T03:04:05Z",
        "2026-01-02T03:04:05.\u0661Z",
    ],
)
def test_times_go_rejects(text: str) -> None:
    """Timestamps time.Time.UnmarshalJSON rejects make the document unreadable."""
    reason = unreadable(decode(doc(checkpoints=[cp(timestamp=text)])))
    assert reason == f"checkpoints[0].timestamp: not RFC 3339: {json.dumps(text)}"


def test_time_written_with_an_escape_is_rejected() -> None:
    """Go parses times from the raw JSON text, so an escape that decodes to a valid time fails."""
    document = doc(checkpoints=[cp(timestamp=RAW)])
    reason = unreadable(parse_index(source(document, r'"2026-01-02T03:04:05\u005a"')))
    assert reason == r'checkpoints[0].timestamp: not RFC 3339: "2026-01-02T03:04:05\u005a"'


@pytest.mark.parametrize("value", [1_700_000_000, True, {}, ["2026-01-02T03:04:05Z"]])
def test_time_must_be_a_string(value: object) -> None:
    """A time that is not a JSON string (or null) is an error."""
    reason = unreadable(decode(doc(lastUpdated=value)))
    assert reason.startswith("lastUpdated: expected RFC 3339 string, got ")


# ------------------------------------------------------------------------------ quantities


@pytest.mark.parametrize(
    "raw",
    [
        '"10Gi"',
        '"1.5"',
        '"100m"',
        '"1e3"',
        '"1E3"',
        '"1e+3"',
        '"1e-3"',
        '"-1"',
        '"+1"',
        '"0"',
        '"  5Mi  "',
        '"\u00a05Mi\u3000"',
        "5",
        "-0",
        "1.5e3",
        "1e400",
        "null",
        # Odd strings ParseQuantity accepts all the same.
        '"-"',
        '"."',
        '"E"',
        '"k"',
        '"1.G"',
        '"Ti"',
        '".Ki"',
        '"-e-9"',
        '"007"',
    ],
)
def test_quantities_go_accepts(raw: str) -> None:
    """pvcSizes elements pass when resource.Quantity.UnmarshalJSON accepts their raw text."""
    document = doc(checkpoints=[cp(pvcSizes=["1Gi", RAW])])
    ok(parse_index(source(document, raw)))


@pytest.mark.parametrize(
    "raw",
    [
        '"12Q"',
        '""',
        '"  "',
        '"1KB"',
        '"1K"',
        '"1i"',
        '"1e"',
        '"1ee3"',
        '"1 Gi"',
        '"0x10"',
        '"1_000"',
        '"\u0661"',
        '"null"',
        '"Ei"',
        '"Pi"',
        '"-e-20"',
        '"1e9999999999999999999"',
        r'"\u0031"',
        r'"\t1"',
        "1e9999999999999999999",
    ],
)
def test_quantities_go_rejects(raw: str) -> None:
    """A pvcSizes element ParseQuantity rejects makes the document unreadable."""
    document = doc(checkpoints=[cp(pvcSizes=["1Gi", RAW])])
    reason = unreadable(parse_index(source(document, raw)))
    assert reason.startswith("checkpoints[0].pvcSizes[1]: not a Kubernetes quantity: ")


@pytest.mark.parametrize("raw", ["true", "false", "{}", "[]", '["1Gi"]'])
def test_quantity_must_be_a_string_or_number(raw: str) -> None:
    """A quantity written as a boolean, object or array is an error."""
    document = doc(checkpoints=[cp(pvcSizes=[RAW])])
    reason = unreadable(parse_index(source(document, raw)))
    assert reason.startswith("checkpoints[0].pvcSizes[0]: expected quantity (string or number)")


# ----------------------------------------------------------------------------- size guard


def test_oversized_document_is_refused_without_parsing_and_decides_nothing() -> None:
    """A document over the job's limit (16 MiB by default) is refused before it is parsed; the controller
    may still read it, so it is index-too-large (the VM in error), not an unreadable index."""
    data = b"\x00" * (MAX_INDEX_BYTES + 1)
    assert too_large(parse_index(data)) == (
        "index is 16777217 bytes, over this job's 16 MiB limit; the controller "
        "may still read it, so nothing is decided for this VM"
    )
    chain = compute_chain(parse_index(data))
    assert chain.state is ChainState.UNKNOWN and chain.error_code == "index-too-large"


def test_document_at_the_limit_is_parsed() -> None:
    """max_bytes is inclusive: a document of exactly that size is decoded."""
    data = json.dumps(doc()).encode()
    assert ok(parse_index(data, max_bytes=len(data))).vm_name == "vm"
    reason = too_large(parse_index(data, max_bytes=len(data) - 1))
    assert reason.startswith(f"index is {len(data)} bytes, over this job's {len(data) - 1} bytes limit")
    assert "over this job's 1 KiB limit" in too_large(parse_index(b"{}" * 1024, max_bytes=1024))


def test_document_of_too_many_values_is_refused_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory goes with the number of values, so a small document of empty ones is refused too (index-too-large)."""
    monkeypatch.setattr(index_module, "MAX_INDEX_VALUES", 100)
    assert len(ok(parse_index('{"checkpoints": [' + ",".join(["{}"] * 50) + "]}")).checkpoints) == 50
    text = '{"checkpoints": [' + ",".join(["{}"] * 51) + "]}"  # 52 braces, 50 commas
    assert too_large(parse_index(text)) == (
        f"index holds up to 102 values in {len(text)} bytes, over this job's 100 limit; "
        "the controller may still read it, so nothing is decided for this VM"
    )


def test_a_controller_written_index_can_pass_the_values_bound_so_the_bound_decides_nothing() -> None:
    """The uploader names every backup on every ancestor, so a long chain's index is mostly short strings:
    a 16 MiB one can hold more values than the job's bound. That is why past the bound the VM is in
    error (nothing written) rather than predicted as the full an unreadable index would mean."""
    from reconciler.simulate.upstream import append_checkpoint  # noqa: PLC0415 - only this test builds one

    document: dict[str, Any] | None = None
    for j in range(200):
        document, _ = append_checkpoint(
            document,
            namespace="ns",
            name="vm",
            mode="full" if j == 0 else "incremental",
            at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=j),
            backup=f"b-{j}",
            disk_sizes={"rootdisk": 1 << 30},
        )
    raw = json.dumps(document, separators=(",", ":")).encode()
    per_value = len(raw) / (raw.count(b",") + raw.count(b"{"))
    assert MAX_INDEX_BYTES / per_value > index_module.MAX_INDEX_VALUES  # the bound can be reached by real data
    assert index_module.TOO_LARGE == "index-too-large"


def test_size_limit_counts_the_utf8_bytes_of_str_input() -> None:
    """For str input the limit applies to its UTF-8 encoding, not its length in characters."""
    text = json.dumps({"vmName": "é" * 600}, ensure_ascii=False)
    assert len(text) < 1024 < len(text.encode())
    assert too_large(parse_index(text, max_bytes=1024)).startswith("index is ")


# ------------------------------------------------------------------------------ properties


@given(json_values)
def test_arbitrary_json_never_raises(value: object) -> None:
    """Any JSON value decodes to an Index or an Unreadable, never an exception."""
    assert isinstance(decode(value), Index | Unreadable)


@given(field_shaped)
def test_arbitrary_field_shaped_json_never_raises(value: object) -> None:
    """Documents built from the real field names, with values of any type, never raise."""
    assert isinstance(decode(value), Index | Unreadable)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    """Any bytes decode to an Index or an Unreadable, never an exception."""
    assert isinstance(parse_index(data), Index | Unreadable)


def _tree(value: object) -> object:
    """A parsed tree with container kinds made explicit, for comparing the two parsers."""
    if isinstance(value, gojson.Obj):
        return ("object", [(key, _tree(item)) for key, item in value])
    if isinstance(value, list):
        return ("array", [_tree(item) for item in value])
    return value


_json_ish = st.text(alphabet=' \t\n{}[]:,"-+.0123456789eEtruefalsn\u00e9x', max_size=40)


@given(json_values.map(json.dumps) | _json_ish)
def test_fast_path_agrees_with_the_exact_parser(text: str) -> None:
    """Where the C scanner accepts a text, the exact Go-grammar parser gives the same tree."""
    if "\\" in text:
        return
    try:
        fast: object = gojson.C_SCANNER.decode(text)
    except (ValueError, RecursionError):
        return
    assert _tree(gojson.parse_exact(text)) == _tree(fast)


@given(documents(), st.booleans(), st.booleans())
def test_valid_documents_round_trip(case: tuple[dict[str, Any], Index], ascii_only: bool, indent: bool) -> None:
    """A schema-shaped document decodes to exactly the fields it was built from."""
    document, expected = case
    text = json.dumps(document, ensure_ascii=ascii_only, indent=2 if indent else None)
    assert parse_index(text.encode()) == expected


_WRONG: dict[str, list[object]] = {
    "string": [0, -1.5, True, False, {}, {"a": 1}, [], ["x"]],
    "time": [0, 1.5, True, {}, [], ["2026-01-02T03:04:05Z"]],
    "int64": ["12", True, {}, [], 1.5, 1e30],
    "array": ["x", 0, True, {}, {"a": []}],
    "object": ["x", 0, False, [], [{}]],
    "bool": ["true", 0, 1, {}, []],
    "quantity": [True, False, {}, [], {"a": 1}, ["1Gi"]],
}


def _path(position: tuple[str | int, ...]) -> str:
    text = ""
    for part in position:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@given(documents(), st.data())
def test_wrong_type_in_any_typed_field_is_named(case: tuple[dict[str, Any], Index], data: st.DataObject) -> None:
    """Replacing any typed field with a value of the wrong JSON type names that field's path."""
    document, _ = case
    position, kind = data.draw(st.sampled_from(typed_positions(document)))
    wrong = data.draw(st.sampled_from(_WRONG[kind]))
    target: Any = document
    for part in position[:-1]:
        target = target[part]
    target[position[-1]] = wrong
    reason = unreadable(decode(document))
    assert reason.startswith(_path(position) + ": "), reason
