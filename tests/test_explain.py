"""explain shows the decision the whole plan makes for one VM, and a plain sentence for a VM no policy covers."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import yaml

from reconciler.app import explain, make_plan
from reconciler.cli import main
from reconciler.core import keys
from reconciler.core.chain import Chain, compute_chain
from reconciler.core.model import Bsl, VMKey
from reconciler.core.stagger import STAGGERED
from reconciler.explain import render_explanation
from reconciler.sources.base import World
from tests.builders import T0, bsl, index, linear, listing_for, schedule, vm

DAY = timedelta(days=1)
LAST = T0 + 10 * DAY
NOW = LAST + timedelta(hours=19)
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "snapshot"


class Fleet:
    """A source of 12 VMs under one nightly schedule with a budget: 10 due in two windows, 2 due later."""

    def __init__(self) -> None:
        annotations = {keys.INTERVAL: "7", keys.MAX_PER_RUN: "3"}
        self.vms = [vm(f"vm-{i:02d}", annotations={}) for i in range(12)] + [vm("idle", ns="other")]
        self.world = World(
            (schedule(annotations=annotations, last_backup=LAST, included_namespaces=("ns",)),),
            (bsl(),),
            tuple(self.vms),
        )
        self.incrementals = {v.key: 5 if i < 10 else 6 for i, v in enumerate(self.vms[:12])}

    def load(self) -> World:
        return self.world

    def chains(self, bsl: Bsl, vms: Sequence[VMKey]) -> Mapping[VMKey, Chain]:
        out = {}
        for key in vms:
            n = self.incrementals[key]
            cps = linear(n, start=LAST - n * DAY)
            out[key] = compute_chain(index(*cps), listing_for(*cps))
        return out

    def close(self) -> None:
        pass

    def stats(self) -> dict[str, object]:
        return {}


def test_a_vm_the_budget_pulls_forward_is_explained_as_plan_decides_it() -> None:
    """A VM that plan pulls forward (staggered) is force-full in explain too, not keep."""
    plan = make_plan(Fleet(), now=NOW)
    pulled = [d for d in plan.decisions if STAGGERED in d.codes]
    assert pulled, "the fleet must have a staggered VM for this test to mean anything"
    target = pulled[0]
    found = explain(Fleet(), target.vm.key, now=NOW)
    assert found.decision is not None
    assert found.decision.action == target.action
    assert found.decision.codes == target.codes
    text, ok = render_explanation(found)
    assert ok and f"Decision: {target.action} ({STAGGERED})" in text


def test_a_running_vm_no_policy_covers_gets_a_sentence_and_exit_0() -> None:
    """A VM outside every policy's scope is not an error: one plain sentence, no decision."""
    found = explain(Fleet(), ("other", "idle"), now=NOW)
    assert found.decision is None
    text, ok = render_explanation(found)
    assert ok
    assert text == (
        "VirtualMachine other/idle: no policy Schedule backs this VM up and the job has never "
        "managed it; nothing to decide.\n"
    )


def test_explain_json_is_the_plan_element_plus_members() -> None:
    """explain -o json prints the plan's vms[] element for the VM, with the chain's members root first."""
    now = "2026-11-24T20:00:00Z"
    out_plan, out_explain, out_yaml = io.StringIO(), io.StringIO(), io.StringIO()
    assert (
        main(["plan", "--snapshot", str(EXAMPLE), "--now", now, "-o", "json"], stdout=out_plan, environ={}) == 1
    )  # the example holds objects in error on purpose
    assert (
        main(
            ["explain", "prod/db-1", "--snapshot", str(EXAMPLE), "--now", now, "-o", "json"],
            stdout=out_explain,
            environ={},
        )
        == 0
    )
    element = next(v for v in json.loads(out_plan.getvalue())["vms"] if v["name"] == "db-1")
    doc = json.loads(out_explain.getvalue())
    members = doc.pop("members")
    assert doc == element
    assert [m["id"] for m in members] == [f"cp-{i:03d}" for i in range(1, 10)]
    assert members[0]["type"] == "Full" and members[0]["parent"] is None
    assert sum(m["bytes"] for m in members) == element["chain"]["bytes"]

    assert (
        main(
            ["explain", "prod/db-1", "--snapshot", str(EXAMPLE), "--now", now, "-o", "yaml"],
            stdout=out_yaml,
            environ={},
        )
        == 0
    )
    assert yaml.safe_load(out_yaml.getvalue()) == {**doc, "members": members}


def test_explain_of_an_uncovered_vm_through_the_cli_exits_0(tmp_path: Path) -> None:
    """The CLI prints the sentence and exits 0 for a running VM that no Schedule covers."""
    shutil.copytree(EXAMPLE, tmp_path / "snap")
    (tmp_path / "snap" / "cluster" / "sandbox.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachine",
                "metadata": {"name": "scratch", "namespace": "sandbox", "uid": "u-1", "resourceVersion": "1"},
                "status": {"printableStatus": "Running", "changedBlockTracking": {"state": "Enabled"}},
            }
        )
    )
    out = io.StringIO()
    code = main(
        ["explain", "sandbox/scratch", "--snapshot", str(tmp_path / "snap"), "--now", "2026-11-24T20:00:00Z"],
        stdout=out,
        environ={},
    )
    assert code == 0
    assert out.getvalue().startswith("VirtualMachine sandbox/scratch: no policy Schedule backs this VM up")
