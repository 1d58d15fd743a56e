"""The upstream model (reconciler.simulate.upstream): each rule of the controller, stated and checked.

The model is the oracle the end-to-end tests judge the job by, so it is tested here on its own,
rule by rule, against the controller's code as the package docstring cites it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.simulate.upstream import (
    FORCE_FULL_BACKUP,
    MAX_INCREMENTAL_BACKUPS,
    VM_NAME_HASH,
    Decision,
    Tracker,
    TrackerLookup,
    UnreadableIndex,
    UpstreamController,
    append_checkpoint,
    archived_tracker,
    decode_index,
    effective_limit,
    label_hash,
    resolve_backup_mode,
)

VM, NS = "vm-1", "apps"
T0 = datetime(2026, 3, 1, 1, 12, tzinfo=UTC)
DISKS = {"rootdisk": 3000, "datadisk": 1000}


# ------------------------------------------------------------------------------ builders


def history(*modes: str, name: str = VM) -> tuple[dict[str, Any], dict[str, int]]:
    """The index and the bucket objects after backups of the given modes, one a day."""
    doc: dict[str, Any] | None = None
    objects: dict[str, int] = {}
    for day, mode in enumerate(modes):
        doc, written = append_checkpoint(
            doc,
            namespace=NS,
            name=name,
            mode=mode,
            at=T0 + timedelta(days=day),
            backup=f"nightly-{day}",
            disk_sizes=DISKS,
        )
        objects.update(written)
    assert doc is not None
    return doc, objects


def chain_of(incrementals: int) -> tuple[dict[str, Any], dict[str, int]]:
    return history("full", *["incremental"] * incrementals)


def body(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def ids(doc: Mapping[str, Any]) -> list[str]:
    return [c["id"] for c in doc["checkpoints"]]


def file_paths(doc: Mapping[str, Any], position: int) -> list[str]:
    return [f["objectPath"] for f in doc["checkpoints"][position]["files"]]


def decide(
    doc: Mapping[str, Any] | None,
    objects: Mapping[str, int | bytes] | None,
    *,
    annotations: Mapping[str, str] | None = None,
    global_limit: int = 0,
    trackers: Sequence[Tracker] | None = None,
    **extra: Any,
) -> Decision:
    """The decision with, by default, the VM's tracker naming the index's last checkpoint."""
    if trackers is None:
        trackers = [Tracker.for_vm(VM, ids(doc)[-1])] if doc and doc["checkpoints"] else []
    return resolve_backup_mode(
        vm_name=VM,
        index=body(doc) if doc is not None else None,
        objects=objects,
        vm_annotations={} if annotations is None else annotations,
        global_limit=global_limit,
        trackers=trackers,
        **extra,
    )


def without(objects: Mapping[str, int], *keys: str) -> dict[str, int]:
    return {k: v for k, v in objects.items() if k not in keys}


# ------------------------------------------------------------------------- chain lookup


def test_a_valid_chain_allows_an_incremental_on_the_last_entry() -> None:
    """A full and two incrementals, every file present: incremental, building on the last entry."""
    doc, objects = chain_of(2)
    decision = decide(doc, objects)
    assert (decision.mode, decision.reason) == ("incremental", "chain-valid")
    assert decision.latest == ids(doc)[-1]
    assert (decision.chain_length, decision.incrementals) == (3, 2)


def test_no_index_means_full() -> None:
    """No index.json: full (first backup)."""
    decision = decide(None, {})
    assert (decision.mode, decision.reason) == ("full", "no-index")


def test_an_unreadable_index_means_full() -> None:
    """A document json.Unmarshal rejects (a size that is a string) is treated as no chain."""
    doc, objects = chain_of(1)
    doc["checkpoints"][0]["files"][0]["size"] = "3000"
    decision = decide(doc, objects)
    assert (decision.mode, decision.reason) == ("full", "unreadable-index")
    assert "size" in decision.detail


def test_an_index_without_checkpoints_means_full() -> None:
    """An index whose checkpoints list is empty (or null) holds no chain: full."""
    for empty in ([], None):
        decision = decide({"vmName": VM, "namespace": NS, "checkpoints": empty}, {})
        assert (decision.mode, decision.reason) == ("full", "empty-index")


def test_latest_is_the_last_entry_in_list_order_not_the_newest_timestamp() -> None:
    """Moving the newest entry to the front makes the oldest full the latest: a chain of one."""
    doc, objects = chain_of(2)
    doc["checkpoints"] = [doc["checkpoints"][2], doc["checkpoints"][1], doc["checkpoints"][0]]
    decision = decide(doc, objects)
    assert decision.latest == ids(doc)[-1] == doc["checkpoints"][-1]["id"]
    assert decision.chain_length == 1


def test_only_the_parent_walk_from_the_latest_counts() -> None:
    """An older chain before a newer full is not part of the current chain."""
    doc, objects = history("full", "incremental", "incremental", "full", "incremental")
    decision = decide(doc, objects)
    assert decision.mode == "incremental"
    assert decision.chain_length == 2


def test_the_root_must_be_a_full() -> None:
    """An incremental whose parent is not in the index is the root of its chain: not a full, so full."""
    doc, objects = chain_of(2)
    del doc["checkpoints"][0]
    decision = decide(doc, objects)
    assert (decision.mode, decision.reason) == ("full", "root-not-full")


@pytest.mark.parametrize(
    ("type_", "valid"),
    [("Full", True), ("FULL", True), ("full", True), ("Fulll", False), ("Incremental", False), ("", False)],
)
def test_the_root_type_is_compared_case_insensitively(type_: str, valid: bool) -> None:
    """The root's type, lower-cased, must be "full"."""
    doc, objects = chain_of(1)
    doc["checkpoints"][0]["type"] = type_
    assert (decide(doc, objects).mode == "incremental") is valid


def test_a_missing_file_of_any_chain_member_means_full() -> None:
    """Each file of each member must exist: one missing object, in the root or the head, breaks it."""
    doc, objects = chain_of(2)
    for position in (0, 1, 2):
        missing = file_paths(doc, position)[1]
        decision = decide(doc, without(objects, missing))
        assert (decision.mode, decision.reason) == ("full", "broken-chain"), position


def test_a_break_falls_back_to_an_older_checkpoint_but_is_still_full() -> None:
    """With the head's file missing the lookup finds the older chain valid, but not the index's latest."""
    doc, objects = chain_of(2)
    decision = decide(doc, without(objects, file_paths(doc, 2)[0]))
    assert decision.full
    assert decision.latest == ids(doc)[1]
    assert "fell back" in decision.detail


def test_an_empty_object_path_counts_as_missing() -> None:
    """objectPath "" is refused before any existence call."""
    doc, objects = chain_of(1)
    doc["checkpoints"][1]["files"][0]["objectPath"] = ""
    decision = decide(doc, {**objects, "": 1})
    assert (decision.mode, decision.reason) == ("full", "broken-chain")


def test_files_outside_the_chain_are_not_checked() -> None:
    """An older chain's missing objects do not matter."""
    doc, objects = history("full", "incremental", "full", "incremental")
    assert decide(doc, without(objects, *file_paths(doc, 0), *file_paths(doc, 1))).mode == "incremental"


def test_archived_resources_are_not_checked_for_the_chain() -> None:
    """vmb.json and vmbt.json are not files of the checkpoint: missing, they break nothing."""
    doc, objects = chain_of(2)
    kept = {k: v for k, v in objects.items() if not k.endswith(("vmb.json", "vmbt.json"))}
    assert decide(doc, kept).mode == "incremental"


def test_a_member_without_files_passes_the_check() -> None:
    """Existence is checked per listed file; a member listing none has nothing missing."""
    doc, objects = chain_of(2)
    doc["checkpoints"][1]["files"] = []
    assert decide(doc, objects).mode == "incremental"


def test_an_existence_check_that_errors_counts_as_missing() -> None:
    """ObjectExists returning an error breaks the chain like a missing object."""
    doc, objects = chain_of(1)
    decision = decide(doc, objects, failing={file_paths(doc, 0)[0]})
    assert (decision.mode, decision.reason) == ("full", "broken-chain")


def test_an_unreachable_bucket_means_full() -> None:
    """Any error of the lookup itself (not "not found"): the default, full."""
    doc, objects = chain_of(1)
    decision = decide(doc, objects, unreachable=True)
    assert (decision.mode, decision.reason) == ("full", "lookup-failed")


def test_object_sizes_that_differ_from_the_index_change_nothing() -> None:
    """Existence only: sizes of 0, of one byte more, or bodies of any length give the same decision."""
    doc, objects = chain_of(3)
    expected = decide(doc, objects)
    assert expected.mode == "incremental"
    for other in (
        dict.fromkeys(objects, 0),
        {k: v + 1 for k, v in objects.items()},
        {k: b"x" for k in objects if not k.endswith("vmbt.json")},
    ):
        assert decide(doc, other) == expected


@given(st.lists(st.integers(min_value=0, max_value=1 << 40), min_size=12, max_size=12), st.integers(0, 4))
def test_sizes_never_decide(sizes: list[int], limit: int) -> None:
    """Whatever size each object has in the bucket, the decision is the one with the index's sizes."""
    doc, objects = chain_of(3)
    resized = {key: sizes[i % len(sizes)] for i, key in enumerate(sorted(objects))}
    assert decide(doc, resized, global_limit=limit) == decide(doc, objects, global_limit=limit)


def test_duplicate_ids_resolve_to_the_last_entry_with_that_id() -> None:
    """The id map keeps the last entry of an id; here that one is an incremental without a parent."""
    doc, objects = chain_of(1)
    stray = {**doc["checkpoints"][0], "type": "Incremental"}
    doc["checkpoints"].insert(1, stray)
    decision = decide(doc, objects)
    assert (decision.mode, decision.reason) == ("full", "root-not-full")


def test_a_parent_cycle_ends_the_walk() -> None:
    """A cycle stops the walk; the root reached is judged as any other."""
    doc, objects = chain_of(1)
    doc["checkpoints"][0]["parent"] = ids(doc)[1]
    decision = decide(doc, objects)
    assert decision.mode == "incremental"
    assert decision.chain_length == 2


# ------------------------------------------------------------------- max incrementals


def test_global_limit_five_forces_a_full_at_five_incrementals() -> None:
    """--max-incremental-backups=5 and no VM annotation: 4 incrementals allow one more, 5 force a full."""
    assert decide(*chain_of(4), global_limit=5).mode == "incremental"
    decision = decide(*chain_of(5), global_limit=5)
    assert (decision.mode, decision.reason, decision.limit) == ("full", "max-incremental", 5)


def test_the_global_default_is_unlimited() -> None:
    """No flag (0): forty incrementals are still allowed."""
    assert UpstreamController().global_max_incremental == 0
    assert decide(*chain_of(40)).mode == "incremental"


def test_vm_zero_overrides_a_global_five() -> None:
    """The VM's "0" means unlimited and wins over the global value."""
    decision = decide(*chain_of(9), annotations={MAX_INCREMENTAL_BACKUPS: "0"}, global_limit=5)
    assert (decision.mode, decision.limit) == ("incremental", 0)


def test_a_vm_value_wins_whether_stricter_or_looser() -> None:
    """The VM's own number replaces the global one in both directions."""
    assert decide(*chain_of(3), annotations={MAX_INCREMENTAL_BACKUPS: "3"}).mode == "full"
    assert decide(*chain_of(7), annotations={MAX_INCREMENTAL_BACKUPS: "30"}, global_limit=5).mode == "incremental"


@pytest.mark.parametrize("value", ["abc", "-1", "", " 3", "3 ", "3.0", "1e2", "٣", "9223372036854775808", "0x10"])
def test_an_unparsable_or_negative_value_falls_back_to_the_global(value: str) -> None:
    """strconv.Atoi must succeed and give >= 0; otherwise the global value applies."""
    assert effective_limit({MAX_INCREMENTAL_BACKUPS: value}, 5) == 5


@pytest.mark.parametrize(("value", "limit"), [("+3", 3), ("007", 7), ("-0", 0), ("9223372036854775807", 2**63 - 1)])
def test_atoi_accepts_a_sign_and_leading_zeros(value: str, limit: int) -> None:
    """Go's Atoi reads "+3" as 3 and "-0" as 0 (unlimited)."""
    assert effective_limit({MAX_INCREMENTAL_BACKUPS: value}, 5) == limit


def test_a_vm_that_cannot_be_read_uses_the_global() -> None:
    """getEffectiveMaxIncrementalBackups falls back to the global value when the VM Get fails."""
    doc, objects = chain_of(5)
    decision = resolve_backup_mode(
        vm_name=VM,
        index=body(doc),
        objects=objects,
        vm_annotations=None,
        global_limit=5,
        trackers=[Tracker.for_vm(VM, ids(doc)[-1])],
    )
    assert (decision.reason, decision.limit) == ("max-incremental", 5)


def test_the_limit_is_consulted_only_for_a_valid_chain() -> None:
    """A broken chain is full for being broken; the limit is not even read."""
    doc, objects = chain_of(5)
    decision = decide(doc, without(objects, file_paths(doc, 0)[0]), global_limit=5)
    assert (decision.reason, decision.limit) == ("broken-chain", None)


def test_the_controller_uses_its_global_flag() -> None:
    """UpstreamController.decide passes its --max-incremental-backups on."""
    doc, objects = chain_of(2)
    decision = UpstreamController(global_max_incremental=2).decide(
        vm_name=VM, index=body(doc), objects=objects, vm_annotations={}, trackers=[Tracker.for_vm(VM, ids(doc)[-1])]
    )
    assert decision.reason == "max-incremental"


# ---------------------------------------------------------------------------- trackers


def test_the_label_is_the_first_16_hex_of_sha256_of_the_name() -> None:
    """common.HashForLabel: 8 bytes of sha256, hex."""
    assert label_hash(VM) == hashlib.sha256(VM.encode()).hexdigest()[:16]
    assert Tracker.for_vm(VM).labels == {VM_NAME_HASH: label_hash(VM)}


def test_a_tracker_naming_another_checkpoint_means_full() -> None:
    """The tracker's status.latestCheckpoint.name must be the index's latest id."""
    doc, objects = chain_of(2)
    decision = decide(doc, objects, trackers=[Tracker.for_vm(VM, ids(doc)[1])])
    assert (decision.mode, decision.reason) == ("full", "tracker-mismatch")
    assert not decision.tracker_recreated


def test_a_tracker_without_status_means_full() -> None:
    """A tracker with no latest checkpoint names "", which matches no checkpoint."""
    doc, objects = chain_of(2)
    assert decide(doc, objects, trackers=[Tracker.for_vm(VM)]).reason == "tracker-mismatch"


def test_a_missing_tracker_is_recreated_from_the_archive_and_is_no_mismatch() -> None:
    """No tracker: one is created whose checkpoint comes from the last entry's vmbt.json."""
    doc, objects = chain_of(2)
    decision = decide(doc, objects, trackers=[])
    assert (decision.mode, decision.reason) == ("incremental", "chain-valid")
    assert decision.tracker_recreated
    assert decision.tracker.latest_checkpoint == ids(doc)[-1]
    assert decision.tracker.labels == {VM_NAME_HASH: label_hash(VM)}


def test_a_recreated_tracker_reads_the_archived_body() -> None:
    """The archive's status.latestCheckpoint.name is what the new tracker names."""
    doc, objects = chain_of(2)
    path = doc["checkpoints"][-1]["vmbtObjectPath"]
    good = {**objects, path: archived_tracker(NS, VM, ids(doc)[-1])}
    stale = {**objects, path: archived_tracker(NS, VM, ids(doc)[0])}
    assert decide(doc, good, trackers=[]).mode == "incremental"
    assert decide(doc, stale, trackers=[]).reason == "tracker-mismatch"


@pytest.mark.parametrize("break_it", ["archive-missing", "no-path", "archive-unreadable", "archive-check-fails"])
def test_a_tracker_that_cannot_be_restored_starts_empty(break_it: str) -> None:
    """Without a usable archive the new tracker names no checkpoint: a mismatch, so full."""
    doc, objects = chain_of(2)
    path = doc["checkpoints"][-1]["vmbtObjectPath"]
    failing: set[str] = set()
    if break_it == "archive-missing":
        objects = without(objects, path)
    elif break_it == "no-path":
        del doc["checkpoints"][-1]["vmbtObjectPath"]
    elif break_it == "archive-unreadable":
        objects = {**objects, path: b"not json"}  # type: ignore[dict-item]
    else:
        failing = {path}
    decision = decide(doc, objects, trackers=[], failing=failing)
    assert decision.tracker.latest_checkpoint is None
    assert (decision.mode, decision.reason) == ("full", "tracker-mismatch")


def test_the_tracker_is_found_by_its_label_not_its_name() -> None:
    """A tracker labelled for another VM is not this VM's, whatever its name."""
    doc, objects = chain_of(1)
    other = Tracker(f"vmbt-{VM}", {VM_NAME_HASH: label_hash("vm-2")}, ids(doc)[0])
    mine = Tracker("vmbt-anything", {VM_NAME_HASH: label_hash(VM)}, ids(doc)[-1])
    assert decide(doc, objects, trackers=[other, mine]).mode == "incremental"
    assert decide(doc, objects, trackers=[other]).tracker_recreated


def test_the_first_labelled_tracker_is_used() -> None:
    """Several trackers with the VM's label: the controller takes the first one listed."""
    doc, objects = chain_of(1)
    first, second = Tracker.for_vm(VM, ids(doc)[0]), Tracker.for_vm(VM, ids(doc)[-1])
    assert decide(doc, objects, trackers=[first, second]).reason == "tracker-mismatch"
    assert decide(doc, objects, trackers=[second, first]).mode == "incremental"


def test_older_controllers_find_the_tracker_by_name() -> None:
    """TrackerLookup.NAME: the tracker named vmbt-<vm name>, labels ignored."""
    doc, objects = chain_of(1)
    named = Tracker(f"vmbt-{VM}", {}, ids(doc)[0])
    decision = decide(doc, objects, trackers=[named], tracker_lookup=TrackerLookup.NAME)
    assert (decision.reason, decision.tracker) == ("tracker-mismatch", named)


def test_after_a_backup_the_tracker_names_the_new_checkpoint() -> None:
    """KubeVirt moves the tracker to the checkpoint it just took."""
    assert Tracker.for_vm(VM, "a").after_backup("b").latest_checkpoint == "b"


def test_the_tracker_check_comes_after_the_chain_and_the_limit() -> None:
    """A broken chain or a reached limit is reported as such, even with a stale tracker."""
    doc, objects = chain_of(5)
    stale = [Tracker.for_vm(VM, ids(doc)[0])]
    assert decide(doc, objects, trackers=stale, global_limit=5).reason == "max-incremental"
    assert decide(doc, without(objects, file_paths(doc, 5)[0]), trackers=stale).reason == "broken-chain"


# ------------------------------------------------------------------ force annotation


@pytest.mark.parametrize(("value", "forced"), [("true", True), ("True", False), ("yes", False), ("", False)])
def test_the_dataupload_force_annotation_must_be_exactly_true(value: str, forced: bool) -> None:
    """Only the DataUpload annotation force-full-backup == "true" forces a full, before any lookup."""
    doc, objects = chain_of(1)
    decision = decide(doc, objects, dataupload_annotations={FORCE_FULL_BACKUP: value})
    assert (decision.reason == "force-full-annotation") is forced
    assert decision.full is forced


def test_a_vm_annotation_does_not_force() -> None:
    """force-full-backup on the VM is not read: only the DataUpload's counts."""
    doc, objects = chain_of(1)
    assert decide(doc, objects, annotations={FORCE_FULL_BACKUP: "true"}).mode == "incremental"


# -------------------------------------------------------------------------- the uploader


def test_an_incremental_names_the_last_entry_as_parent_and_a_full_none() -> None:
    """updateVMIndex: parent only on incrementals, the index's last id."""
    doc, _ = history("full", "incremental", "full")
    first, second, third = doc["checkpoints"]
    assert "parent" not in first and "parent" not in third
    assert second["parent"] == first["id"]
    assert [c["type"] for c in doc["checkpoints"]] == ["Full", "Incremental", "Full"]


def test_backup_names_are_propagated_to_every_ancestor() -> None:
    """propagateReferencedBy: the root lists every backup of its chain, once each."""
    doc, _ = chain_of(2)
    assert [c["referencedBy"] for c in doc["checkpoints"]] == [
        ["nightly-0", "nightly-1", "nightly-2"],
        ["nightly-1", "nightly-2"],
        ["nightly-2"],
    ]


def test_files_archives_and_disk_names_are_written_as_the_uploader_does() -> None:
    """Files under checkpoints/<ns>/<vm>/<id>/, diskName after the file name's last '-', archives beside."""
    doc, objects = history("full")
    entry = doc["checkpoints"][0]
    base = f"checkpoints/{NS}/{VM}/{entry['id']}"
    assert [(f["diskName"], f["objectPath"]) for f in entry["files"]] == [
        ("rootdisk", f"{base}/vmb-{entry['id']}-rootdisk.qcow2"),
        ("datadisk", f"{base}/vmb-{entry['id']}-datadisk.qcow2"),
    ]
    assert (entry["vmbObjectPath"], entry["vmbtObjectPath"]) == (f"{base}/vmb.json", f"{base}/vmbt.json")
    assert set(objects) == {*file_paths(doc, 0), f"{base}/vmb.json", f"{base}/vmbt.json"}


def test_a_checkpoint_written_again_replaces_its_entry() -> None:
    """The same checkpoint id replaces the entry in place and keeps its backup names."""
    doc, _ = append_checkpoint(
        None, namespace=NS, name=VM, mode="full", at=T0, backup="b1", disk_sizes=DISKS, checkpoint="cp"
    )
    doc, _ = append_checkpoint(
        doc, namespace=NS, name=VM, mode="full", at=T0, backup="b2", disk_sizes=DISKS, checkpoint="cp"
    )
    assert ids(doc) == ["cp"]
    assert doc["checkpoints"][0]["referencedBy"] == ["b1", "b2"]


# ------------------------------------------------------------------- the model's decoder

GOLDEN = json.loads((Path(__file__).parent / "golden" / "index.json").read_text())["cases"]
# Go 1.19 (the golden data) accepts these zone offsets; the controller's Go 1.25 does not, nor the
# model. Python's recursion limit stops the model short of Go's 10 000 levels of nesting.
MODEL_DIFFERS = {
    'timestamp "2026-03-01T01:12:00+24:61"',
    'timestamp "2026-03-01T01:12:00-25:00"',
    'timestamp "2026-03-01T01:12:00+99:99"',
    "nesting of 9999 in an unknown field",
    "nesting of 10000 in an unknown field",
}


@pytest.mark.parametrize(
    "case",
    [c for c in GOLDEN if c["name"] not in MODEL_DIFFERS],
    ids=[c["name"] for c in GOLDEN if c["name"] not in MODEL_DIFFERS],
)
def test_the_model_decodes_as_go_does(case: dict[str, Any]) -> None:
    """The model's own decoder agrees with encoding/json on the golden documents: readable or
    not, and the ids, types, parents and object paths the decision reads."""
    data = base64.b64decode(case["doc_b64"])
    if not case["ok"]:
        with pytest.raises(UnreadableIndex):
            decode_index(data)
        return
    entries = decode_index(data).entries
    expected = [
        (c["id"], c["type"], c["parent"], [f["objectPath"] for f in c["files"] or ()], c["vmbtObjectPath"])
        for c in case["value"]["checkpoints"] or ()
    ]
    assert [(e.id, e.type, e.parent, [f.object_path for f in e.files], e.vmbt_object_path) for e in entries] == expected


def test_the_model_differs_from_the_golden_data_only_where_listed() -> None:
    """Every listed difference exists and goes the stated way: Go 1.19 reads it, the model does not."""
    by_name = {c["name"]: c for c in GOLDEN}
    for name in MODEL_DIFFERS:
        assert by_name[name]["ok"]
        with pytest.raises(UnreadableIndex):
            decode_index(base64.b64decode(by_name[name]["doc_b64"]))
