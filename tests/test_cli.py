"""The CLI as a user meets it: `main(argv) -> int`, output on stdout, exit codes (design 6)."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import generate_latest

from reconciler.app import explain, make_plan
from reconciler.cli import main
from reconciler.core import keys
from reconciler.core.chain import Chain
from reconciler.core.model import Bsl, VMKey
from reconciler.core.timefmt import parse_time
from reconciler.explain import render_explanation
from reconciler.metrics import build_registry
from reconciler.report import RENDERERS, render_table
from reconciler.sources.snapshot import SnapshotSource

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "snapshot"
NOW = "2026-11-24T20:00:00Z"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def plan_json(snapshot: Path = EXAMPLE, *extra: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run("plan", "--snapshot", str(snapshot), "--now", NOW, "-o", "json", *extra)
    return code, json.loads(out)


def test_example_shows_every_action_and_reason() -> None:
    """The shipped example exercises every action and every reason the README lists for it."""
    code, plan = plan_json()
    assert code == 1  # it holds malformed annotations on purpose
    actions = {f"{v['namespace']}/{v['name']}": (v["action"], v["reasons"]) for v in plan["vms"]}
    assert actions == {
        "dev/dev-1": ("keep", ["within-policy"]),
        "dev/dev-2": ("skip", ["opted-out"]),
        "dev/dev-3": ("error", ["invalid-annotation"]),
        "dev/dev-4": ("release", ["left-policy"]),
        "dev/dev-5": ("force-full", ["count"]),
        "dev/dev-6": ("full-anyway", ["controller-limit"]),
        "finance/audit": ("blocked", ["age", "head-is-full"]),
        "finance/billing": ("full-anyway", ["unreadable-index"]),
        "finance/ledger": ("full-anyway", ["broken-chain"]),
        "finance/payroll": ("release", ["landed"]),
        "finance/reports": ("full-anyway", ["root-not-full"]),
        "prod/api-1": ("full-anyway", ["no-index"]),
        "prod/app-legacy": ("skip", ["cbt-disabled"]),
        "prod/cache-1": ("skip", ["not-running"]),
        "prod/db-1": ("force-full", ["count", "age"]),
        "prod/web-1": ("keep", ["within-policy"]),
        "prod/web-2": ("force-full", ["age"]),
        "prod/web-3": ("full-anyway", ["tracker-mismatch"]),
        "qa/qa-1": ("skip", ["schedule-paused"]),
        "staging/builder": ("force-full", ["calendar"]),
        "staging/scratch": ("force-full", ["growth"]),
    }
    by_vm = {v["name"]: v["detail"] for v in plan["vms"]}
    # The calendar reads Tokyo's day: the next window is Wednesday in UTC, Thursday in Tokyo.
    assert by_vm["builder"]["nextRun"] == "2026-11-25T15:30:00Z"
    assert (by_vm["builder"]["windowDate"], by_vm["builder"]["timeZone"]) == ("2026-11-26", "Asia/Tokyo")
    assert (by_vm["scratch"]["incrementalBytes"], by_vm["scratch"]["fullBytes"]) == (9663676416, 17179869184)
    bad = [s for s in plan["schedules"] if s["errors"]]
    assert [s["name"] for s in bad] == ["finance-hourly"]
    assert {k: n for k, n in plan["summary"].items() if k != "storage"} == {
        "force-full": 5,
        "blocked": 1,
        "full-anyway": 6,
        "release": 2,
        "keep": 2,
        "skip": 4,
        "error": 1,
    }
    assert plan["warnings"] == {"size-mismatch": 1}
    assert plan["controller"] == {
        "maxIncrementalBackups": 10,
        "source": "snapshot: deployment velero/oadp-kubevirt-datamover-controller-manager",
        "note": "--max-incremental-backups=10",
        "trackers": {"source": "snapshot", "count": 3, "note": None},
    }


def test_plan_json_has_the_documented_shape() -> None:
    """Every field design 6 names is present, with the documented types."""
    _, plan = plan_json()
    assert set(plan) >= {"now", "controller", "schedules", "vms", "summary", "warnings"}
    assert set(plan["controller"]) == {"maxIncrementalBackups", "source", "note", "trackers"}
    assert plan["now"] == NOW
    for s in plan["schedules"]:
        assert set(s) >= {"namespace", "name", "nextRun", "policy", "bsl", "errors"}
    for v in plan["vms"]:
        assert set(v) >= {"namespace", "name", "schedules", "chain", "action", "reasons", "detail"}
        assert set(v["chain"]) == {"state", "incrementals", "length", "latest", "root", "lastFullAt", "bytes"}
    db1 = next(v for v in plan["vms"] if v["name"] == "db-1")
    assert db1["schedules"] == ["velero/nightly-prod", "velero/weekly-db"]
    assert db1["chain"] == {
        "state": "valid",
        "incrementals": 8,
        "length": 9,
        "latest": "cp-009",
        "root": "cp-001",
        "lastFullAt": "2026-11-16T01:12:07Z",
        "bytes": 309237940224,
    }
    assert db1["detail"]["limit"] == 7 and db1["detail"]["ageAtNextRunSeconds"] == 9 * 86400
    assert db1["detail"]["patch"]["metadata"]["annotations"][keys.MAX_INCREMENTAL] == "8"


def test_yaml_equals_json() -> None:
    """-o yaml carries the same document as -o json."""
    _, out, _ = run("plan", "--snapshot", str(EXAMPLE), "--now", NOW, "-o", "yaml")
    assert yaml.safe_load(out) == plan_json()[1]


def test_table_is_readable() -> None:
    """The table names every VM with its action and prints a summary line."""
    code, out, _ = run("plan", "--snapshot", str(EXAMPLE), "--now", NOW)
    assert code == 1
    assert "prod/db-1        force-full" in out
    assert out.splitlines()[1] == (
        "Controller: --max-incremental-backups=10 (snapshot: deployment "
        "velero/oadp-kubevirt-datamover-controller-manager); trackers: 3 (snapshot)"
    )
    assert (
        "\nSummary: 5 force-full, 1 blocked, 6 full-anyway, 2 release, 2 keep, 4 skip, "
        "1 error; warnings: 1 size-mismatch\n"
    ) in out


def test_schedule_filter_narrows_vms_not_policies() -> None:
    """--schedule keeps only that schedule's VMs, each still under all its policies."""
    code, plan = plan_json(EXAMPLE, "--schedule", "weekly-db")
    assert [v["name"] for v in plan["vms"]] == ["db-1"]
    assert plan["vms"][0]["schedules"] == ["velero/nightly-prod", "velero/weekly-db"]
    assert code == 1  # the malformed schedule is still reported


def test_usage_errors_exit_2() -> None:
    """Bad usage exits 2 with a message on stderr and nothing on stdout."""
    for argv, needle in [
        (("plan", "--snapshot", "/nonexistent"), "no cluster/ directory"),
        (("plan", "--snapshot", str(EXAMPLE), "--now", "tomorrow"), "not an RFC 3339 time"),
        (("explain", "no-slash", "--snapshot", str(EXAMPLE)), "expected NAMESPACE/VM"),
        (("explain", "prod/nope", "--snapshot", str(EXAMPLE)), "prod/nope not found"),
        (("run", "--snapshot", str(EXAMPLE)), "cannot write to a snapshot"),
        (("plan", "--output", "xml"), ""),
    ]:
        code, out, err = run(*argv)
        assert code == 2 and out == "" and needle in err, argv


def test_run_dry_run_on_a_snapshot_is_plan() -> None:
    """run --dry-run behaves like plan, offline too."""
    code, out, _ = run("run", "--dry-run", "--snapshot", str(EXAMPLE), "--now", NOW, "-o", "json")
    assert code == 1 and json.loads(out) == plan_json()[1]


def test_bad_file_makes_the_plan_incomplete(tmp_path: Path) -> None:
    """A snapshot file that is not YAML is named, and nothing is decided without it (design 9): exit 2."""
    snap = tmp_path / "snap"
    shutil.copytree(EXAMPLE, snap)
    (snap / "cluster" / "broken.yaml").write_text("kind: [unclosed\n")
    code, out, err = run("plan", "--snapshot", str(snap), "--now", NOW)
    assert (code, out) == (2, "")
    assert "\n  snapshot file cluster/broken.yaml: while parsing" in err


def test_explain_prints_members_and_restore_cost() -> None:
    """explain lists the chain root first with the cumulative restore cost, and exits 0 for a sound VM."""
    code, out, _ = run("explain", "prod/db-1", "--snapshot", str(EXAMPLE), "--now", NOW)
    assert code == 0
    assert "Chain: valid, 9 member(s), 8 incremental(s)" in out
    assert "288.0 GiB, 18" in out  # restoring the latest needs every member: 288 GiB in 18 objects
    assert "Decision: force-full (count, age)" in out


class CompactSnapshot(SnapshotSource):
    """The snapshot's chains in their compact form, as a source that keeps only summaries returns them."""

    def chains(self, bsl: Bsl, vms: Sequence[VMKey]) -> Mapping[VMKey, Chain]:
        return {vm: chain.compact() for vm, chain in super().chains(bsl, vms).items()}


def test_compact_chains_render_the_same_plan() -> None:
    """JSON, YAML, table and metrics of a plan are byte-identical whether its chains keep their members or not."""
    now = parse_time(NOW)
    assert now is not None
    full = make_plan(SnapshotSource(EXAMPLE), now=now)
    compact = make_plan(CompactSnapshot(EXAMPLE), now=now)
    assert any(d.chain.length > 1 and d.chain.has_members for d in full.decisions)
    assert all(not d.chain.members for d in compact.decisions)
    assert any(d.chain.length > 1 for d in compact.decisions)
    for name, render in [*RENDERERS.items(), ("table", render_table)]:
        assert render(compact) == render(full), name
    assert generate_latest(build_registry(compact, duration_s=1.0)) == generate_latest(
        build_registry(full, duration_s=1.0)
    )


def test_explain_of_a_compact_chain_says_its_members_were_not_kept() -> None:
    """Given a compact chain, explain prints the same summary and decision, and no member rows."""
    now = parse_time(NOW)
    assert now is not None
    full, ok_full = render_explanation(explain(SnapshotSource(EXAMPLE), ("prod", "db-1"), now=now))
    compact, ok_compact = render_explanation(explain(CompactSnapshot(EXAMPLE), ("prod", "db-1"), now=now))
    assert ok_full and ok_compact
    assert "members not kept (compact chain): root cp-001, latest cp-009" in compact
    assert "RESTORE COST" not in compact and "RESTORE COST" in full
    rows = [line for line in full.splitlines() if line.startswith("    ")]  # the member table, indented 4
    assert len(rows) == 10
    assert [line for line in compact.splitlines() if "members not kept" not in line] == [
        line for line in full.splitlines() if line not in rows
    ]


def test_python_m_and_version() -> None:
    """--version answers without a cluster."""
    code, _, _ = run("--version")
    assert code == 0
