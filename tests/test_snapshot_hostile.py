"""A snapshot is untrusted input (design 8, 9): every path stays inside it, every document that can be read
is, and what cannot be read or is there twice stops the plan instead of shrinking it."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from reconciler.core.objects import parse_bsl
from reconciler.sources.snapdir import SnapshotRoot, read_cluster
from reconciler.sources.snapshot import SnapshotSource
from tests.snapshots import CHECKPOINTS, add_vms, copy_example, edit_velero, log_events, patches, plan, vm, vms

SECRET = "SECRET-outside-the-snapshot"
BAD_DOC = "apiVersion: velero.io/v1\nkind: Schedule\nmetadata: {name: [unclosed\n"


def outside_index(tmp_path: Path) -> Path:
    """A valid-looking index outside the snapshot, which nothing may read."""
    target = tmp_path / "outside" / "index.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(SECRET)
    return target


def test_malformed_document_does_not_lose_the_ones_after_it(tmp_path: Path) -> None:
    """A bad document in the middle of a file costs only itself: every object after it is still read."""
    snap = copy_example(tmp_path)
    path = snap / "cluster" / "velero.yaml"
    docs = path.read_text().split("\n---\n")
    path.write_text("\n---\n".join([docs[0], BAD_DOC, *docs[1:]]))
    objects, problems = read_cluster(SnapshotRoot(snap))
    names = {o["metadata"]["name"] for o in objects if o["kind"] == "Schedule"}
    assert names == {
        "nightly-prod",
        "weekly-db",
        "dev-every-6h",
        "qa-nightly",
        "finance-hourly",
        "infra-weekly",
        "staging-tokyo",
        "staging-scratch",
    }
    [problem] = problems
    line = 1 + len(docs[0].splitlines()) + 1 + 2  # the separator, then the third line of the bad document
    assert problem.startswith("snapshot file cluster/velero.yaml: while parsing") and f"line {line}," in problem


def test_unreadable_documents_make_the_plan_incomplete(tmp_path: Path) -> None:
    """Any unreadable cluster/ document stops the plan (exit 2), each one listed; nothing is decided."""
    snap = copy_example(tmp_path)
    (snap / "cluster" / "broken.yaml").write_text(f"{BAD_DOC}---\nkind: [x\n")
    (snap / "cluster" / "broken.json").write_text("{")
    (snap / "cluster" / "latin1.yaml").write_bytes(b"kind: caf\xe9\n")
    code, doc, err = plan(snap)
    assert (code, doc) == (2, {})
    assert f"error: snapshot {snap} is incomplete or ambiguous, so nothing was decided (4 problem(s)):" in err
    listed = [line.strip() for line in err.splitlines() if line.startswith("  snapshot file")]
    assert [line.split(":")[0] for line in listed] == [
        "snapshot file cluster/broken.json",
        "snapshot file cluster/broken.yaml",
        "snapshot file cluster/broken.yaml",
        "snapshot file cluster/latin1.yaml",
    ]


def test_duplicate_objects_are_an_error_not_two_vms(tmp_path: Path) -> None:
    """The same VM in two files (or twice in one) stops the plan and names the object and the files."""
    snap = copy_example(tmp_path)
    text = (snap / "cluster" / "virtualmachines.yaml").read_text()
    (snap / "cluster" / "again.yaml").write_text(text)
    code, doc, err = plan(snap)
    assert (code, doc) == (2, {})
    assert "duplicate VirtualMachine prod/db-1: 2 times, in cluster/again.yaml, cluster/virtualmachines.yaml" in err
    assert "(21 problem(s))" in err  # every VM of the file, each once


def test_a_cluster_file_linking_outside_is_refused(tmp_path: Path) -> None:
    """A cluster/ file that is a symlink leading outside is not read: the plan stops, naming it."""
    snap = copy_example(tmp_path)
    secret = tmp_path / "outside.yaml"
    secret.write_text(f"kind: Secret\nmetadata: {{name: {SECRET}}}\n")
    (snap / "cluster" / "stolen.yaml").symlink_to(secret)
    code, _, err = plan(snap)
    assert code == 2 and "snapshot file cluster/stolen.yaml: leads outside the snapshot; refused" in err
    assert SECRET not in err and str(secret) not in err
    (snap / "cluster" / "stolen.yaml").unlink()
    (snap / "cluster" / "more").symlink_to(tmp_path)  # a directory outside: refused too, not skipped
    code, _, err = plan(snap)
    assert code == 2 and "snapshot file cluster/more: leads outside the snapshot; refused" in err
    (snap / "cluster").rename(tmp_path / "cluster")
    (snap / "cluster").symlink_to(tmp_path / "cluster")
    code, _, err = plan(snap)
    assert code == 2 and f"error: snapshot {snap}: cluster: leads outside the snapshot; refused" in err


def test_index_symlink_leading_outside_is_that_vms_error(tmp_path: Path) -> None:
    """index.json linked to a file outside is an error for that VM; not a byte of the target is shown."""
    snap = copy_example(tmp_path)
    index = snap / CHECKPOINTS / "prod" / "web-1" / "index.json"
    index.unlink()
    index.symlink_to(outside_index(tmp_path))
    code, doc, _ = plan(snap)
    web1 = vms(doc)["prod/web-1"]
    assert code == 1 and (web1["action"], web1["reasons"]) == ("error", ["index-fetch-failed"])
    assert web1["detail"]["message"] == (
        f"snapshot: {CHECKPOINTS}/prod/web-1/index.json: leads outside the snapshot; refused"
    )
    assert "prod/web-1" not in patches(doc) and vms(doc)["prod/web-2"]["action"] == "force-full"


def test_folder_and_bucket_symlinks_leading_outside_are_refused(tmp_path: Path) -> None:
    """A VM folder, an object in it, or the bucket folder linked outside: errors, never a read outside."""
    snap = copy_example(tmp_path)
    outside = outside_index(tmp_path).parent
    (snap / CHECKPOINTS / "prod" / "api-1").symlink_to(outside)  # api-1 had no folder: no-index before
    (snap / CHECKPOINTS / "prod" / "db-1" / "cp-001" / "stolen.qcow2").symlink_to(outside / "index.json")
    code, doc, _ = plan(snap)
    assert code == 1
    for ref in ("prod/api-1", "prod/db-1"):
        assert vms(doc)[ref]["action"] == "error" and "leads outside the snapshot" in vms(doc)[ref]["detail"]["message"]
    bucket = snap / "buckets" / "vm-backups"
    bucket.rename(tmp_path / "real-bucket")
    bucket.symlink_to(tmp_path / "real-bucket")
    code, doc, _ = plan(snap)
    assert all(
        "buckets/vm-backups: leads outside the snapshot" in v["detail"]["message"]
        for v in doc["vms"]
        if v["action"] == "error" and "index-fetch-failed" in v["reasons"]
    )
    assert not any(v["chain"]["state"] == "valid" for v in doc["vms"])


def test_links_inside_the_snapshot_are_followed(tmp_path: Path) -> None:
    """A symlink that stays inside the snapshot reads like the file it points to."""
    snap = copy_example(tmp_path)
    index = snap / CHECKPOINTS / "prod" / "web-1" / "index.json"
    index.rename(snap / "web-1-index.json")
    index.symlink_to(Path(os.path.relpath(snap / "web-1-index.json", index.parent)))
    assert vms(plan(snap)[1])["prod/web-1"]["action"] == "keep"


def test_names_that_would_leave_the_folder_are_refused(tmp_path: Path) -> None:
    """A VM name or namespace that is no Kubernetes name, or a bucket that is no S3 name, reads nothing."""
    snap = copy_example(tmp_path)
    outside_index(tmp_path)
    add_vms(snap, vm("prod", "../../../../../../outside"))
    code, doc, _ = plan(snap)
    hostile = vms(doc)["prod/../../../../../../outside"]
    assert code == 1 and hostile["action"] == "error"
    assert hostile["detail"]["message"] == (
        'snapshot: VirtualMachine prod/../../../../../../outside: name "../../../../../../outside": not a valid '
        "DNS-1123 subdomain (at most 253 characters: lowercase letters, digits, '-' and '.', alphanumeric at "
        "each end); refused"
    )
    source = SnapshotSource(snap)
    bsl = parse_bsl(
        {
            "metadata": {"name": "default", "namespace": "velero"},
            "spec": {"objectStorage": {"bucket": "vm-backups", "prefix": "velero"}},
        }
    )
    [chain] = source.chains(bsl, [("../outside", "vm")]).values()
    assert chain.detail.startswith('snapshot: VirtualMachine ../outside/vm: namespace "../outside": not a valid DNS')
    edit_velero(snap, "default", lambda d: {**d, "spec": {**d["spec"], "objectStorage": {"bucket": "../outside"}}})
    code, doc, _ = plan(snap)
    assert doc["errors"] == [
        'BackupStorageLocation velero/default: spec.objectStorage.bucket="../outside": not a '
        "valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, a letter or "
        "digit at each end)"
    ]


def test_a_name_too_long_for_the_filesystem_is_that_vms_error(tmp_path: Path) -> None:
    """A VM whose path the filesystem cannot hold is an error for that VM; the rest of the plan goes on."""
    snap = copy_example(tmp_path)
    add_vms(snap, vm("prod", "v" * 300))
    code, doc, _ = plan(snap)
    assert code == 1 and vms(doc)[f"prod/{'v' * 300}"]["action"] == "error"
    assert vms(doc)["prod/db-1"]["action"] == "force-full"
    # Past the name checks, the filesystem's own refusal (ENAMETOOLONG) is each VM's error, not a crash.
    edit_velero(
        snap,
        "default",
        lambda d: {**d, "spec": {**d["spec"], "objectStorage": {"bucket": "vm-backups", "prefix": "p" * 300}}},
    )
    code, doc, _ = plan(snap)
    assert code == 1
    failed = [v for v in doc["vms"] if "index-fetch-failed" in v["reasons"] and len(v["name"]) < 300]
    assert failed and all(v["detail"]["message"].endswith(os.strerror(errno.ENAMETOOLONG)) for v in failed)


def test_a_missing_bucket_folder_is_loud(tmp_path: Path) -> None:
    """Without buckets/<bucket>/ every VM to read is error bucket-missing (not no-index), warned once."""
    snap = copy_example(tmp_path)
    (snap / "buckets" / "vm-backups").rename(snap / "buckets" / "vm-backup")
    code, doc, err = plan(snap)
    assert code == 1
    read = [v for v in doc["vms"] if v["action"] not in ("skip", "release")]
    assert read and all(v["reasons"] == ["bucket-missing"] for v in read if v["name"] != "dev-3")
    assert read[0]["detail"]["message"] == (
        "the snapshot has no buckets/vm-backups/ directory (bucket of BSL velero/default): its indexes cannot be read"
    )
    warned = [e for e in log_events(err) if e["event"] == "snapshot-bucket-missing"]
    assert [(e["level"], e["bucket"], e["present"]) for e in warned] == [("warning", "vm-backups", ["vm-backup"])]
    assert json.dumps(doc).count("no-index") == 0
