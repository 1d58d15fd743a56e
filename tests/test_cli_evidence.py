"""The CLI on missing evidence (design 9): a run never gives VMs back because it could not see their policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.core import keys
from tests.snapshots import (
    EXAMPLE,
    MANAGED,
    NOW,
    add_vms,
    cli,
    copy_example,
    edit_velero,
    log_events,
    patches,
    plan,
    vm,
    vms,
)

# The VMs the example's nightly-prod Schedule backs up (namespaces prod and finance).
NIGHTLY_PROD = (
    "finance/audit",
    "finance/billing",
    "finance/ledger",
    "finance/payroll",
    "finance/reports",
    "prod/api-1",
    "prod/app-legacy",
    "prod/cache-1",
    "prod/db-1",
    "prod/web-1",
    "prod/web-2",
)
NO_POLICY = (
    "carries a full-backup policy, but 3 VirtualMachine(s) carry "
    "kubevirt-datamover.io/full-backup-reconciler: refusing to give them all back, nothing was written. "
    "Check --velero-namespace (velero, or openshift-adp with OADP); "
    "if every policy was removed on purpose, pass --release-all"
)


def test_wrong_velero_namespace_refuses_to_release_the_fleet() -> None:
    """No policy Schedule in the namespace searched while VMs are managed: exit 2, no plan, the count named."""
    code, doc, err = plan(EXAMPLE, "--velero-namespace", "openshift-adp")
    assert (code, doc) == (2, {})
    assert f"error: no Velero Schedule in namespace openshift-adp {NO_POLICY}" in err


def test_no_policy_anywhere_in_a_snapshot(tmp_path: Path) -> None:
    """A snapshot read without --velero-namespace says it searched every namespace."""
    snap = copy_example(tmp_path)
    (snap / "cluster" / "velero.yaml").unlink()
    code, _, err = plan(snap)
    assert code == 2 and f"no Velero Schedule in any namespace {NO_POLICY}" in err


def test_release_all_gives_every_managed_vm_back_on_purpose() -> None:
    """--release-all is the way to give every managed VM back when no policy is left."""
    code, doc, _ = plan(EXAMPLE, "--velero-namespace", "openshift-adp", "--release-all")
    assert code == 0
    assert {ref: (v["action"], v["reasons"]) for ref, v in vms(doc).items()} == {
        ref: ("release", ["left-policy"]) for ref in MANAGED
    }


def _cron_typo(doc: dict[str, Any]) -> dict[str, Any]:
    doc["spec"]["schedule"] = "61 * * * *"
    return doc


def _bad_interval(doc: dict[str, Any]) -> dict[str, Any]:
    doc["metadata"]["annotations"][keys.INTERVAL] = "seven"
    return doc


def _bad_selector(doc: dict[str, Any]) -> dict[str, Any]:
    doc["spec"]["template"]["labelSelector"] = {"matchExpressions": [{"key": "tier", "operator": "Has"}]}
    return doc


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (_cron_typo, "velero/nightly-prod: spec.schedule: "),
        (_bad_interval, f'velero/nightly-prod: annotation {keys.INTERVAL}="seven": not an integer >= 1'),
        (_bad_selector, "velero/nightly-prod: spec.template.labelSelector.matchExpressions[0].operator: 'Has'"),
    ],
)
def test_an_unusable_schedule_leaves_its_vms_alone(tmp_path: Path, change: Any, problem: str) -> None:
    """Every VM the broken Schedule may back up is error schedule-invalid with nothing to write; a forced
    full (finance/payroll) stays forced. The other Schedules' VMs are decided as before."""
    snap = copy_example(tmp_path)
    edit_velero(snap, "nightly-prod", change)
    code, doc, _ = plan(snap)
    assert code == 1
    decided = vms(doc)
    for ref in NIGHTLY_PROD:
        assert (decided[ref]["action"], decided[ref]["reasons"]) == ("error", ["schedule-invalid"]), ref
        assert problem in decided[ref]["detail"]["message"]
        assert "velero/nightly-prod" in decided[ref]["detail"]["invalidSchedules"]
    assert not set(patches(doc)) & set(NIGHTLY_PROD)
    assert decided["dev/dev-5"]["action"] == "force-full" and decided["dev/dev-4"]["action"] == "release"
    [schedule] = [s for s in doc["schedules"] if s["name"] == "nightly-prod"]
    assert schedule["errors"][0].startswith(problem) and schedule["policy"] is None


def test_a_rejected_bsl_is_not_a_missing_one(tmp_path: Path) -> None:
    """An empty bucket rejects the BSL (said so, not "not found"); a deleted BSL is "not found"."""
    snap = copy_example(tmp_path)
    edit_velero(snap, "default", lambda d: {**d, "spec": {**d["spec"], "objectStorage": {"bucket": ""}}})
    code, doc, _ = plan(snap)
    rejected = (
        "spec.template.storageLocation: BackupStorageLocation velero/default is rejected: "
        "spec.objectStorage.bucket: missing or empty"
    )
    assert code == 1 and doc["errors"] == [
        "BackupStorageLocation velero/default: spec.objectStorage.bucket: missing or empty"
    ]
    for s in doc["schedules"]:
        assert s["errors"][-1] == f"velero/{s['name']}: {rejected}"
    assert vms(doc)["finance/payroll"]["action"] == "error" and "finance/payroll" not in patches(doc)
    edit_velero(snap, "default", lambda d: None)
    code, doc, _ = plan(snap)
    missing = "spec.template.storageLocation: BackupStorageLocation velero/default not found"
    assert code == 1 and all(f"velero/{s['name']}: {missing}" in s["errors"] for s in doc["schedules"])
    # Every VM a Schedule backs up is left alone; dev-4, outside every Schedule's scope, left the policy.
    assert {ref: v["action"] for ref, v in vms(doc).items() if v["action"] != "error"} == {"dev/dev-4": "release"}
    assert set(patches(doc)) == {"dev/dev-4"}


def test_schedule_filter_that_matches_nothing_names_the_schedules() -> None:
    """--schedule with a name no policy Schedule has is a usage error listing the Schedules there are."""
    code, doc, err = plan(EXAMPLE, "--schedule", "nightly-vms")
    assert (code, doc) == (2, {})
    assert (
        "error: --schedule nightly-vms: no policy Schedule of that name in any namespace; policy Schedules: "
        "velero/dev-every-6h, velero/finance-hourly, velero/nightly-prod, velero/qa-nightly, "
        "velero/staging-scratch, velero/staging-tokyo, velero/weekly-db; "
        "other Schedules: velero/infra-weekly"
    ) in err
    code, _, err = plan(EXAMPLE, "--schedule", "infra-weekly")  # it exists, but carries no policy
    assert code == 2 and "--schedule infra-weekly: no policy Schedule" in err


@pytest.mark.parametrize("value", ["0", "257", "-1", "many"])
def test_concurrency_out_of_range_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--concurrency takes 1 to 256; anything else stops at the command line, before any source is read."""
    code, out, _ = cli("plan", "--snapshot", str(EXAMPLE), "--now", NOW, "--concurrency", value)
    assert (code, out) == (2, "")
    assert "argument --concurrency" in capsys.readouterr().err


def test_concurrency_bounds_are_accepted() -> None:
    for value in ("1", "256"):
        assert plan(EXAMPLE, "--concurrency", value)[0] == 1  # the example's own errors


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "10000-01-01T00:00:00Z"])
def test_now_out_of_range_is_a_usage_error(value: str) -> None:
    """--now before 1970 or after 9999 is refused instead of printing year 1 and negative ages."""
    code, out, err = cli("plan", "--snapshot", str(EXAMPLE), "--now", value)
    assert (code, out) == (2, "")
    assert f"error: --now '{value}': out of range: from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z" in err


def test_now_at_the_bounds_plans() -> None:
    for value in ("1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        assert cli("plan", "--snapshot", str(EXAMPLE), "--now", value)[0] == 1, value


def test_schedule_only_key_on_a_vm_is_reported(tmp_path: Path) -> None:
    """max-per-run on a VM is a warning in its detail and in the log; the decision and exit status are unchanged."""
    snap = copy_example(tmp_path)
    extra = vm("dev", "dev-9", annotations={keys.MAX_PER_RUN: "5"})
    extra["metadata"]["labels"] = {"tier": "dev"}
    add_vms(snap, extra)
    code, doc, err = plan(snap)
    warning = f'dev/dev-9: annotation {keys.MAX_PER_RUN}="5": applies to Schedules only; ignored on a VirtualMachine'
    assert code == plan(EXAMPLE)[0] == 1
    assert vms(doc)["dev/dev-9"]["detail"]["warnings"] == [
        {"code": "schedule-only-key", "message": warning, "key": keys.MAX_PER_RUN}
    ]
    assert vms(doc)["dev/dev-9"]["action"] == "full-anyway"  # no index: decided as any other VM
    assert [(e["level"], e["vm"], e["warning"]) for e in log_events(err) if e["event"] == "schedule-only-key"] == [
        ("warning", "dev/dev-9", warning)
    ]
