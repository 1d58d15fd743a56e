"""The storage report (design 10) as a user meets it offline: plan JSON, table footer, explain, metrics."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest

from reconciler.app import make_plan
from reconciler.cli import main
from reconciler.core.model import Action
from reconciler.metrics import build_registry
from reconciler.sources.snapshot import SnapshotSource

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "snapshot"
NOW = "2026-11-24T20:00:00Z"
GiB = 1024**3


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), environ={}, stdout=out, stderr=io.StringIO())
    return code, out.getvalue()


def plan_doc() -> dict[str, Any]:
    _, out = run("plan", "--snapshot", str(EXAMPLE), "--now", NOW, "-o", "json")
    doc: dict[str, Any] = json.loads(out)
    return doc


def storage_of(doc: dict[str, Any], ref: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = next(v for v in doc["vms"] if f"{v['namespace']}/{v['name']}" == ref)["storage"]
    return found


def test_every_vm_has_the_documented_storage_shape_or_null() -> None:
    """A listed VM has every field; a VM whose folder was not listed has null, never zeros."""
    doc = plan_doc()
    fields = {
        "chainBytes",
        "folderBytes",
        "outsideChainBytes",
        "pastTtlBytes",
        "ttl",
        "leakedObjects",
        "leakedBytes",
        "unreferencedCheckpoints",
        "partial",
    }
    for v in doc["vms"]:
        assert v["storage"] is None or set(v["storage"]) == fields
    assert storage_of(doc, "prod/api-1") is None  # no index
    assert storage_of(doc, "finance/reports") is None  # root not a full: not listed live either
    assert storage_of(doc, "prod/cache-1") is None  # skipped: nothing read


def test_the_example_shows_a_leak_an_older_chain_and_bytes_past_the_ttl() -> None:
    """web-1 has a leaked 2 GiB object; payroll keeps an older chain; dev-5's chain outlives its 24h TTL."""
    doc = plan_doc()
    web1 = storage_of(doc, "prod/web-1")
    assert web1 is not None
    assert (web1["leakedObjects"], web1["leakedBytes"], web1["outsideChainBytes"]) == (1, 2 * GiB, 2 * GiB)
    payroll = storage_of(doc, "finance/payroll")
    assert payroll is not None
    assert payroll["outsideChainBytes"] > payroll["chainBytes"] / 2 and payroll["leakedObjects"] == 0
    assert payroll["unreferencedCheckpoints"] == 1
    dev5 = storage_of(doc, "dev/dev-5")
    assert dev5 is not None and dev5["ttl"] == "24h0m0s"
    assert 0 < dev5["pastTtlBytes"] < dev5["chainBytes"]
    db1 = storage_of(doc, "prod/db-1")  # under nightly-prod (runs next, 720h) and weekly-db
    assert db1 is not None and (db1["ttl"], db1["pastTtlBytes"]) == ("720h0m0s", 0)


def test_totals_are_in_the_summary_beside_the_counts_by_action() -> None:
    """`summary.storage` holds the sums over the listed VMs; every other summary key is an action's count."""
    doc = plan_doc()
    listed = [v["storage"] for v in doc["vms"] if v["storage"] is not None]
    totals = doc["summary"]["storage"]
    assert totals["vms"] == len(listed) and totals["vmsWithoutFigures"] == len(doc["vms"]) - len(listed)
    for key in (
        "chainBytes",
        "folderBytes",
        "outsideChainBytes",
        "pastTtlBytes",
        "leakedObjects",
        "leakedBytes",
        "unreferencedCheckpoints",
    ):
        assert totals[key] == sum(s[key] for s in listed)
    assert totals["partialVms"] == 0 and totals["vmsWithoutTtl"] == 0
    counts = {k: n for k, n in doc["summary"].items() if k != "storage"}
    assert counts and set(counts) <= {str(a) for a in Action}
    assert all(isinstance(n, int) for n in counts.values())


def test_table_footer_has_the_totals_in_human_bytes() -> None:
    """The table's footer: a storage line, then the summary (the errors follow them)."""
    _, out = run("plan", "--snapshot", str(EXAMPLE), "--now", NOW)
    lines = out.rstrip().splitlines()
    (at,) = [i for i, line in enumerate(lines) if line.startswith("Storage (")]
    assert lines[at].startswith("Storage (12 VMs listed, 9 without figures): chains 758.3 GiB, ")
    assert "leaked 1 object (2.0 GiB), 1 unreferenced checkpoint" in lines[at]
    assert lines[at + 1].startswith("Summary: ")


def test_explain_has_a_storage_section_in_text_and_json() -> None:
    """explain says what the VM folder holds, and its JSON carries the plan's storage object."""
    code, text = run("explain", "prod/web-1", "--snapshot", str(EXAMPLE), "--now", NOW)
    assert code == 0
    assert "Storage: folder 45.0 GiB, current chain 43.0 GiB, outside it 2.0 GiB" in text
    assert "  leaked: 1 object (2.0 GiB) no index entry names; 0 checkpoints no backup references" in text
    _, out = run("explain", "prod/web-1", "--snapshot", str(EXAMPLE), "--now", NOW, "-o", "json")
    assert json.loads(out)["storage"] == storage_of(plan_doc(), "prod/web-1")
    _, none = run("explain", "prod/api-1", "--snapshot", str(EXAMPLE), "--now", NOW)
    assert "Storage: unknown (the VM folder was not listed" in none


def test_metrics_carry_the_storage_gauges_for_listed_vms_only() -> None:
    """folder, past-TTL and leaked bytes per listed VM; no sample at all for a VM without figures."""
    plan = make_plan(SnapshotSource(EXAMPLE), now=datetime(2026, 11, 24, 20, tzinfo=UTC))
    text = generate_latest(build_registry(plan, duration_s=1.0)).decode()
    prefix = "full_backup_reconciler_"
    assert f'{prefix}leaked_bytes{{name="web-1",namespace="prod"}} 2.147483648e+09' in text
    assert f'{prefix}leaked_objects{{name="web-1",namespace="prod"}} 1.0' in text
    assert f'{prefix}past_ttl_bytes{{name="dev-5",namespace="dev"}}' in text
    assert f'{prefix}folder_bytes{{name="payroll",namespace="finance"}} 9.6637054623e+10' in text
    assert 'name="api-1"' not in "\n".join(line for line in text.splitlines() if "folder_bytes" in line)


def test_the_readme_example_is_the_demos_output() -> None:
    """The README's plan JSON shows the demo's storage figures, per VM and in total."""
    readme = (EXAMPLE.parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Plan output", 1)[1].split("```json\n", 1)[1].split("```", 1)[0]
    shown = json.loads(block)
    doc = plan_doc()
    assert shown["summary"]["storage"] == doc["summary"]["storage"]
    for v in shown["vms"]:
        assert v["storage"] == storage_of(doc, f"{v['namespace']}/{v['name']}")
