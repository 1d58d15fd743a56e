"""What the controller decides by itself (design 2.1 rules 3, 4): its global limit, its trackers, and the rules."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core import keys
from reconciler.core.chain import compute_chain
from reconciler.core.controller import (
    GlobalLimit,
    Trackers,
    controller_limit_reason,
    flag_value,
    limit_from_deployment,
    parse_tracker,
    storage_warning,
    tracker_findings,
    vm_name_hash,
)
from tests.builders import bsl, index, linear, listing_for

FLAG = "--max-incremental-backups"


def deployment(
    args: list[str] | None = None,
    *,
    command: list[str] | None = None,
    container: str = "manager",
    name: str = "oadp-kubevirt-datamover-controller-manager",
    ns: str = "velero",
) -> dict[str, Any]:
    """The Deployment as OADP writes it: command /manager, flags in args."""
    c: dict[str, Any] = {
        "name": container,
        "command": command if command is not None else ["/manager"],
        "args": args if args is not None else ["--leader-elect", "--health-probe-bind-address=:8081"],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"template": {"spec": {"containers": [{"name": "kube-rbac-proxy", "args": [f"{FLAG}=1"]}, c]}}},
    }


def tracker(
    vm: str, checkpoint: str | None, *, ns: str = "ns", name: str | None = None, label: str | None = None
) -> dict[str, Any]:
    labels = {keys.VM_NAME_HASH: label if label is not None else vm_name_hash(vm)}
    obj: dict[str, Any] = {
        "apiVersion": "backup.kubevirt.io/v1alpha1",
        "kind": "VirtualMachineBackupTracker",
        "metadata": {"name": name or f"vmbt-{vm}-x7k2p", "namespace": ns, "labels": labels},
    }
    if checkpoint is not None:
        obj["status"] = {"latestCheckpoint": {"name": checkpoint}}
    return obj


# ------------------------------------------------------------------------ the global limit


def test_both_flag_forms_are_read_and_the_last_one_wins() -> None:
    """`--flag=N`, `--flag N` and one dash, as Go's flag package reads them; a repeated flag keeps the last."""
    assert flag_value([f"{FLAG}=5"]) == 5
    assert flag_value([FLAG, "5"]) == 5
    assert flag_value(["-max-incremental-backups=5"]) == 5
    assert flag_value(["--leader-elect", FLAG, "4", "--metrics-secure", f"{FLAG}=6"]) == 6
    assert flag_value(["--leader-elect", "--zap-log-level", "debug"]) is None


def test_a_bool_flag_takes_no_value_but_others_do() -> None:
    """After a bool flag the next argument is a flag; after a value flag it is that flag's value."""
    assert flag_value(["--leader-elect", FLAG, "3"]) == 3
    assert flag_value(["--zap-log-level", FLAG, f"{FLAG}=2"]) == 2  # the first FLAG is zap-log-level's value


def test_parsing_stops_where_go_stops() -> None:
    """At `--` and at the first argument that is not a flag, later flags are not parsed."""
    assert flag_value(["--", f"{FLAG}=5"]) is None
    assert flag_value(["serve", f"{FLAG}=5"]) is None


def test_values_are_read_as_strconv_base_0() -> None:
    """The flag package's int: base from the prefix, underscores between digits."""
    assert flag_value([f"{FLAG}=0x10"]) == 16
    assert flag_value([f"{FLAG}=010"]) == 8
    assert flag_value([f"{FLAG}=1_0"]) == 10


def test_a_value_the_controller_refuses_is_reported() -> None:
    """The controller exits on a bad or negative value: the job says why it cannot use it."""
    assert "not an integer" in str(flag_value([f"{FLAG}=five"]))
    assert "negative" in str(flag_value([f"{FLAG}=-1"]))
    assert "no value" in str(flag_value([FLAG]))
    assert "not an integer" in str(flag_value([f"{FLAG}=$(MAX)"]))  # an unexpanded reference


def test_the_deployment_gives_the_manager_containers_value() -> None:
    """Only the `manager` container counts; command[1:] and args are joined as the kubelet does."""
    limit = limit_from_deployment(
        deployment([*deployment()["spec"]["template"]["spec"]["containers"][1]["args"], f"{FLAG}=5"]),
        source="deployment velero/x",
    )
    assert (limit.value, limit.source) == (5, "deployment velero/x")
    assert limit_from_deployment(deployment([], command=["/manager", f"{FLAG}=4"]), source="d").value == 4


def test_no_flag_is_the_controllers_default_zero() -> None:
    """Absent = 0 (unlimited), known."""
    limit = limit_from_deployment(deployment(), source="d")
    assert limit.value == 0 and limit.known and "default 0" in limit.note


def test_a_deployment_without_its_manager_or_with_a_bad_value_is_unknown() -> None:
    """Unknown is not 0: no container named manager, or a value the controller would refuse."""
    for obj in (deployment(container="main"), deployment([f"{FLAG}=x"]), {"spec": "junk"}):
        limit = limit_from_deployment(obj, source="deployment velero/x")
        assert limit.value is None and limit.source == "unknown" and "deployment velero/x" in limit.note


# ----------------------------------------------------------------------------------- trackers


def test_the_vm_name_hash_is_the_controllers() -> None:
    """HashForLabel: the first 16 hex characters of sha256(VM name) (values from sha256sum)."""
    assert vm_name_hash("vm1") == "7b11e3d1b4ef77af"
    assert vm_name_hash("db-1") == "68150cfc45bd62a7"


def test_trackers_are_found_by_namespace_and_label_only() -> None:
    """A tracker without the label (an older controller's `vmbt-<vm>`) is not one the controller finds."""
    found = Trackers.of(
        [
            parse_tracker(tracker("vm1", "c1")),
            parse_tracker(tracker("vm1", "c9", ns="other")),
            parse_tracker(tracker("vm1", "c0", name="vmbt-vm1", label="")),
        ],
        source="cluster",
    )
    assert [t.ref for t in found.for_vm("ns", "vm1")] == ["ns/vmbt-vm1-x7k2p"]
    assert found.count == 2 and found.for_vm("ns", "vm2") == ()


def chain(n: int = 3) -> Any:
    cps = linear(n)
    return compute_chain(index(*cps), listing_for(*cps))


def trackers(*objs: dict[str, Any]) -> Trackers:
    return Trackers.of([parse_tracker(o) for o in objs], source="cluster")


def test_a_tracker_naming_the_latest_is_no_mismatch() -> None:
    """The tracker names the index's last entry: the controller may take an incremental."""
    assert tracker_findings("ns", "vm", chain(), trackers(tracker("vm", "c3"))) == (None, None)


def test_a_tracker_naming_another_checkpoint_is_a_mismatch() -> None:
    """The controller's step 3b: another checkpoint (or none) on the tracker means a full, with the numbers."""
    reason, warning = tracker_findings("ns", "vm", chain(), trackers(tracker("vm", "c2")))
    assert warning is None and reason is not None and reason.code == "tracker-mismatch"
    assert reason.numbers == {"trackers": [{"name": "ns/vmbt-vm-x7k2p", "checkpoint": "c2"}], "indexLatest": "c3"}
    reason, _ = tracker_findings("ns", "vm", chain(), trackers(tracker("vm", None)))
    assert reason is not None and "names no checkpoint" in reason.text


def test_no_tracker_and_unknown_trackers_predict_nothing() -> None:
    """A missing tracker is recreated from vmbt.json (no mismatch); unknown trackers are not checked."""
    assert tracker_findings("ns", "vm", chain(), trackers(tracker("other", "c0"))) == (None, None)
    assert tracker_findings("ns", "vm", chain(), Trackers.unknown("403")) == (None, None)


def test_disagreeing_trackers_warn_instead_of_predicting() -> None:
    """The controller takes one of several trackers in no defined order: only a warning when they differ."""
    both = trackers(tracker("vm", "c3", name="a"), tracker("vm", "c1", name="b"))
    reason, warning = tracker_findings("ns", "vm", chain(), both)
    assert reason is None and warning is not None and warning.code == "trackers-disagree"
    all_stale = trackers(tracker("vm", "c2", name="a"), tracker("vm", "c1", name="b"))
    reason, warning = tracker_findings("ns", "vm", chain(), all_stale)
    assert reason is not None and warning is None


# -------------------------------------------------------------------------------- the limit rule


def known(value: int) -> GlobalLimit:
    return GlobalLimit(value, "deployment velero/x")


@given(st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=12))
def test_the_global_limit_fires_at_incrementals_at_or_over_it(incrementals: int, limit: int) -> None:
    """incrementals >= limit > 0 is the controller's own full."""
    reason = controller_limit_reason(chain(incrementals), original=None, limit=known(limit))
    assert (reason is not None) == (0 < limit <= incrementals)


def test_the_vms_own_value_overrides_the_global_limit() -> None:
    """The VM's value as found before the job took over wins; "0" is unlimited; junk falls back to global."""
    reason = controller_limit_reason(chain(4), original="4", limit=known(0))
    assert reason is not None and reason.numbers["controllerLimit"] == 4
    assert "the VM's own" in reason.numbers["controllerLimitFrom"]
    assert controller_limit_reason(chain(9), original="0", limit=known(5)) is None
    reason = controller_limit_reason(chain(5), original="junk", limit=known(5))
    assert reason is not None and "deployment velero/x" in reason.numbers["controllerLimitFrom"]


def test_an_unknown_global_limit_predicts_only_from_the_vms_value() -> None:
    """Without the global value, only a VM's own number can predict the controller's full."""
    unknown = GlobalLimit(None, "unknown")
    assert controller_limit_reason(chain(40), original=None, limit=unknown) is None
    assert controller_limit_reason(chain(4), original="3", limit=unknown) is not None


# ------------------------------------------------------------------------------ two locations


def test_two_storage_locations_warn() -> None:
    """Schedules writing one VM to two BSLs: one tracker serves both, so a warning of its own."""
    warning = storage_warning([bsl("a", prefix="one"), bsl("b", prefix="two")])
    assert warning is not None and warning.numbers == {"bsls": ["velero/a", "velero/b"]}


def test_two_names_for_one_storage_do_not_warn() -> None:
    """Two BSL objects over the same bucket and prefix share one index: nothing alternates."""
    assert storage_warning([bsl("a"), bsl("b"), dataclasses.replace(bsl("a"))]) is None
