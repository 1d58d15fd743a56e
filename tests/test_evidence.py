"""Missing evidence is never "no policy" (design 9): the core's rules for unusable Schedules."""

from __future__ import annotations

from datetime import timedelta

from reconciler.core import keys
from reconciler.core.chain import Chain
from reconciler.core.decide import decide
from reconciler.core.model import VM, Action, ChainState, Schedule
from reconciler.core.objects import unparsed_schedule
from reconciler.core.plan import Plan, build_plan, targets, view_schedules
from reconciler.core.state import OwnerState
from reconciler.report import decision_doc, render_table
from tests.builders import T0, bsl, schedule, vm

NOW = T0 + timedelta(days=10, hours=19)
POLICY = {keys.INTERVAL: "7"}
FORCED = OwnerState("14", "2026-11-05T20:00:00Z", "c0", ("count",))
MANAGED = {keys.MAX_INCREMENTAL: "3", keys.STATE: FORCED.dump()}


def plan(schedules: list[Schedule], vms: list[VM]) -> Plan:
    views = view_schedules(schedules, [bsl()], now=NOW)
    return build_plan(now=NOW, views=views, covered=targets(views, vms), chains={})


def only(p: Plan) -> tuple[str, tuple[str, ...], object]:
    [d] = p.decisions
    return str(d.action), d.codes, d.patch()


def test_a_vm_under_a_malformed_policy_is_an_error_and_stays_forced() -> None:
    """A managed VM whose one Schedule has a bad policy value is error schedule-invalid: nothing written."""
    bad = schedule(annotations={keys.INTERVAL: "seven"}, included_namespaces=("ns",))
    p = plan([bad], [vm(annotations=MANAGED)])
    assert only(p) == ("error", ("schedule-invalid",), None)
    reason = p.decisions[0].reasons[0]
    assert "velero/nightly" in reason.text and '"seven"' in reason.text
    assert list(reason.numbers["invalidSchedules"]) == ["velero/nightly"]


def test_cron_typo_and_missing_bsl_are_unusable_schedules() -> None:
    """A cron typo or a storage location that does not exist makes the Schedule's VMs error, not released."""
    for sched in (
        schedule(cron="61 * * * *", annotations=POLICY),
        schedule(annotations=POLICY, storage_location="gone"),
    ):
        assert only(plan([sched], [vm(annotations=MANAGED)]))[:2] == ("error", ("schedule-invalid",))


def test_one_unusable_schedule_is_enough() -> None:
    """A VM under a usable and an unusable Schedule is an error: its strictest policy is unknown."""
    good = schedule("good", annotations=POLICY)
    bad = schedule("bad", annotations={keys.MAX_AGE: "7x"})
    p = plan([good, bad], [vm()])
    assert only(p)[:2] == ("error", ("schedule-invalid",))
    assert p.decisions[0].schedules == ("velero/bad", "velero/good")


def test_a_vm_error_and_a_schedule_error_are_both_reasons() -> None:
    """A malformed VM annotation under an unusable Schedule reports both reasons."""
    bad = schedule(annotations={keys.INTERVAL: "0"})
    assert only(plan([bad], [vm(annotations={keys.MAX_AGE: "soon"})]))[:2] == (
        "error",
        ("invalid-annotation", "schedule-invalid"),
    )


def test_an_unparsable_schedule_covers_what_it_may_cover() -> None:
    """A policy Schedule whose selectors cannot be read holds every VM of its namespaces: none is released."""
    raw = {
        "metadata": {"name": "broken", "namespace": "velero", "annotations": POLICY},
        "spec": {
            "schedule": "0 1 * * *",
            "template": {
                "includedNamespaces": ["ns"],
                "labelSelector": {"matchExpressions": [{"key": "a", "operator": "Has"}]},
            },
        },
    }
    broken = unparsed_schedule(raw, "velero/broken: spec.template.labelSelector: bad operator")
    inside, outside = vm("a", annotations=MANAGED), vm("b", ns="other", annotations=MANAGED)
    p = plan([broken], [inside, outside])
    decided = {d.vm.name: (str(d.action), d.codes) for d in p.decisions}
    assert decided == {"a": ("error", ("schedule-invalid",)), "b": ("release", ("left-policy",))}
    assert p.schedules[0].errors[0] == "velero/broken: spec.template.labelSelector: bad operator"


def test_a_vm_leaves_the_policy_only_when_every_schedule_was_read() -> None:
    """With every Schedule usable and none covering it, a managed VM is given back its original value."""
    p = plan([schedule(annotations=POLICY, included_namespaces=("elsewhere",))], [vm(annotations=MANAGED)])
    action, codes, patch = only(p)
    assert (action, codes) == ("release", ("left-policy",))
    assert isinstance(patch, dict) and patch["metadata"]["annotations"][keys.MAX_INCREMENTAL] == "14"


def test_schedule_only_key_on_a_vm_is_a_warning() -> None:
    """max-per-run on a VM changes nothing but is reported in the decision, its detail and the table."""
    sched = schedule(annotations=POLICY)
    plain = plan([sched], [vm()]).decisions[0]
    warned = plan([sched], [vm(annotations={keys.MAX_PER_RUN: "5"})])
    d = warned.decisions[0]
    assert d.action is plain.action and d.codes == plain.codes
    text = f'ns/vm: annotation {keys.MAX_PER_RUN}="5": applies to Schedules only; ignored on a VirtualMachine'
    assert [(w.code, w.text) for w in d.warnings] == [("schedule-only-key", text)]
    assert decision_doc(d)["detail"]["warnings"] == [
        {"code": "schedule-only-key", "message": text, "key": keys.MAX_PER_RUN}
    ]
    assert decision_doc(plain)["detail"]["warnings"] == []  # always a list, empty when nothing is noticed
    assert "[warnings: schedule-only-key]" in render_table(warned)  # the table names the code; the JSON has the text


def test_an_unread_chain_names_why() -> None:
    """A chain the source could not read is an error under the source's reason code, or index-fetch-failed."""
    view = view_schedules([schedule(annotations=POLICY)], [bsl()], now=NOW)
    missing = Chain(ChainState.UNKNOWN, detail="no bucket", error_code="bucket-missing")
    assert decide(vm(), view, missing, now=NOW).codes == ("bucket-missing",)
    assert decide(vm(), view, Chain(ChainState.UNKNOWN, detail="503"), now=NOW).codes == ("index-fetch-failed",)
    assert decide(vm(), view, missing, now=NOW).action is Action.ERROR
