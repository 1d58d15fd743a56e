"""Offline, through the CLI: the controller's Deployment, trackers, sizes and providers as a snapshot holds them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core import keys
from tests.test_cli import EXAMPLE, NOW, plan_json, run


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    root = tmp_path / "snap"
    shutil.copytree(EXAMPLE, root)
    return root


def vms(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{v['namespace']}/{v['name']}": v for v in plan["vms"]}


def decisions(plan: dict[str, Any]) -> dict[str, tuple[str, list[str], Any]]:
    return {k: (v["action"], v["reasons"], v["detail"]["patch"]) for k, v in vms(plan).items()}


def test_without_the_deployment_the_global_limit_is_unknown(snap: Path) -> None:
    """No Deployment in cluster/: unknown, said in the header and the JSON; no baseline rests on it."""
    (snap / "cluster" / "controller.yaml").unlink()
    code, plan = plan_json(snap)
    assert code == 1  # the example's malformed annotations, as before
    assert plan["controller"]["maxIncrementalBackups"] is None and plan["controller"]["source"] == "unknown"
    web1 = vms(plan)["prod/web-1"]  # managed, found without a value: the baseline 7 gives way to none
    assert web1["detail"]["patch"]["metadata"]["annotations"] == {keys.MAX_INCREMENTAL: None}
    assert vms(plan)["dev/dev-6"]["action"] == "keep"  # no limit to predict the controller's full from
    _, out, err = run("plan", "--snapshot", str(snap), "--now", NOW, "-v")  # -v: the info lines a console hides
    assert out.splitlines()[1].startswith("Controller: --max-incremental-backups unknown (no controller Deployment")
    assert err.count("controller-limit-unknown") == 1


def test_a_stated_global_limit_needs_no_deployment(snap: Path) -> None:
    """--controller-max-incremental 5 offline: baselines never looser than 5."""
    (snap / "cluster" / "controller.yaml").unlink()
    _, plan = plan_json(snap, "--controller-max-incremental", "5")
    assert plan["controller"]["source"] == "flag --controller-max-incremental"
    assert vms(plan)["prod/web-1"]["detail"]["patch"]["metadata"]["annotations"] == {keys.MAX_INCREMENTAL: "5"}
    assert vms(plan)["dev/dev-6"]["reasons"] == ["controller-limit"]


def test_a_named_deployment_missing_from_the_snapshot_is_an_error(snap: Path) -> None:
    """--controller-deployment names one that is not there: unknown, and the plan's errors say where it looked."""
    code, plan = plan_json(snap, "--controller-deployment", "backup/dm")
    assert code == 1 and plan["controller"]["source"] == "unknown"
    assert any("backup/dm" in e for e in plan["errors"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("--controller-deployment", "nope"), "expected NAMESPACE/NAME"),
        (("--controller-max-incremental", "-1"), "must be 0 (unlimited) or more"),
        (("--controller-max-incremental", "2", "--controller-deployment", "a/b"), "exclude each other"),
    ],
)
def test_bad_controller_flags_are_usage_errors(argv: tuple[str, ...], needle: str) -> None:
    """Exit 2, nothing planned."""
    code, out, err = run("plan", "--snapshot", str(EXAMPLE), "--now", NOW, *argv)
    assert code == 2 and out == "" and needle in err


def test_without_trackers_the_stale_tracker_vm_is_decided_by_its_policy(snap: Path) -> None:
    """The trackers are evidence like any other: without them web-3 is within its policy."""
    (snap / "cluster" / "trackers.yaml").unlink()
    _, plan = plan_json(snap)
    assert vms(plan)["prod/web-3"]["reasons"] == ["within-policy"]
    assert plan["controller"]["trackers"] == {"source": "snapshot", "count": 0, "note": None}


def test_real_sizes_and_stand_ins_decide_the_same(snap: Path) -> None:
    """Sizes never decide: without object-sizes.json the decisions are the same, only the warning is gone."""
    _, with_sizes = plan_json(snap)
    (snap / "object-sizes.json").unlink()
    _, stand_ins = plan_json(snap)
    assert decisions(stand_ins) == decisions(with_sizes)
    assert with_sizes["warnings"] == {"size-mismatch": 1} and stand_ins["warnings"] == {}
    (warning,) = vms(with_sizes)["prod/web-1"]["detail"]["warnings"]
    assert warning["indexBytes"] - warning["bucketBytes"] == 65536
    assert vms(stand_ins)["prod/web-1"]["detail"]["warnings"] == []


def test_an_azure_location_makes_its_schedules_errors(snap: Path) -> None:
    """Every Schedule on a BSL with provider azure carries an error naming it."""
    path = snap / "cluster" / "velero.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    docs[0]["spec"]["provider"] = "azure"
    path.write_text(yaml.safe_dump_all(docs))
    code, plan = plan_json(snap)
    assert code == 1
    assert all("spec.provider 'azure' is not S3-compatible" in " ".join(s["errors"]) for s in plan["schedules"])


def test_a_vm_written_to_two_locations_is_warned(snap: Path) -> None:
    """weekly-db writes db-1 to a second BSL: one tracker serves both, a warning of its own."""
    path = snap / "cluster" / "velero.yaml"
    docs = list(yaml.safe_load_all(path.read_text()))
    offsite = {
        **docs[0],
        "metadata": {**docs[0]["metadata"], "name": "offsite", "uid": "uid-bsl-offsite"},
        "spec": {**docs[0]["spec"], "default": False, "objectStorage": {"bucket": "dr-site", "prefix": "velero"}},
    }
    weekly = next(d for d in docs if d["metadata"]["name"] == "weekly-db")
    weekly["spec"]["template"]["storageLocation"] = "offsite"
    path.write_text(yaml.safe_dump_all([*docs, offsite]))
    _, plan = plan_json(snap)
    db1 = vms(plan)["prod/db-1"]
    assert [w["code"] for w in db1["detail"]["warnings"]] == ["two-bsls"]
    assert db1["detail"]["warnings"][0]["bsls"] == ["velero/default", "velero/offsite"]
    assert db1["action"] == "force-full"  # a warning, not a decision
