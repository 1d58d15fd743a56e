"""Live, through the CLI: the controller's Deployment and trackers read from the fake API server, sizes from moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.core import keys
from reconciler.core.controller import OADP_DEPLOYMENT
from reconciler.core.state import OwnerState
from tests.cluster import DM, World, controller_deployment, schedule_object, tracker_object, vm_object
from tests.fakekube.server import FakeKubeServer
from tests.s3fixtures import Seeder

WINDOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
NOW = WINDOW - timedelta(minutes=15)
OADP = f"/apis/apps/v1/namespaces/velero/deployments/{OADP_DEPLOYMENT}"


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> Iterator[World]:
    yield World(fake_kube, s3_seed, s3_endpoint, tmp_path)


def backed_up(world: World, nights: int, *, names: tuple[str, ...] = ("a", "b"), interval: str = "7") -> None:
    """VMs under a nightly interval policy with `nights` backups before WINDOW and no job run."""
    world.kube.seed(schedule_object("nightly", {keys.INTERVAL: interval}))
    for name in names:
        world.kube.seed(vm_object(name))
    for n in range(nights, 0, -1):
        world.backup_window(WINDOW - n * timedelta(days=1), [("apps", name) for name in names])


def by_name(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in plan["vms"]}


def latest(world: World, name: str) -> str:
    return str(world.docs[("apps", name)]["checkpoints"][-1]["id"])


# ------------------------------------------------------------------------ the global limit


def test_global_five_and_interval_seven_keep_chains_at_five(world: World) -> None:
    """With the controller at 5, night after night of run-then-backup never lets a chain pass 5 incrementals;
    a baseline of 7 on the VM would have overridden the global value and let it reach 7."""
    world.set_global_limit(5)
    backed_up(world, 1)
    for night in range(10):
        at = WINDOW + night * timedelta(days=1)
        code, plan = world.run(now=at - timedelta(minutes=15))
        assert code == 0
        assert plan["controller"]["maxIncrementalBackups"] == 5
        assert plan["controller"]["source"] == f"deployment velero/{OADP_DEPLOYMENT}"
        world.backup_window(at, [("apps", "a"), ("apps", "b")])
    assert world.annotations("a")[keys.MAX_INCREMENTAL] == "5"
    assert max(h["incrementals"] for h in world.history) == 5
    cycle = ["full"] + ["incremental"] * 5
    assert [h["mode"] for h in world.history if h["vm"] == "a"] == (cycle * 2)[:11]


def test_the_controllers_own_full_is_full_anyway(world: World) -> None:
    """Incrementals at the global limit: full-anyway (controller-limit), with the limit and its source."""
    world.set_global_limit(4)
    backed_up(world, 5)  # without the job the controller took a full at 4 incrementals: a full, then 4
    code, plan = world.run(now=NOW, command="plan")
    assert code == 0
    a = by_name(plan)["a"]
    assert (a["action"], a["reasons"]) == ("full-anyway", ["controller-limit"])
    assert a["detail"]["controllerLimit"] == 4 and OADP_DEPLOYMENT in a["detail"]["controllerLimitFrom"]
    assert a["detail"]["patch"] is None


def test_the_upstream_install_is_found_second(world: World) -> None:
    """No OADP Deployment beside Velero: the upstream install in kubevirt-datamover-system is read."""
    world.kube.delete("deployments", OADP_DEPLOYMENT, "velero")
    world.kube.seed(
        controller_deployment(
            "--max-incremental-backups",
            "3",
            namespace="kubevirt-datamover-system",
            name="kubevirt-datamover-controller-manager",
        )
    )
    backed_up(world, 2)
    world.kube.clear_requests()
    code, plan = world.run(now=NOW, command="plan")
    assert code == 0
    assert plan["controller"]["maxIncrementalBackups"] == 3
    assert plan["controller"]["source"] == "deployment kubevirt-datamover-system/kubevirt-datamover-controller-manager"
    assert [(r.path, r.status) for r in world.kube.requests("get", resource="deployments")] == [
        (OADP, 404),
        ("/apis/apps/v1/namespaces/kubevirt-datamover-system/deployments/kubevirt-datamover-controller-manager", 200),
    ]


def test_no_controller_found_writes_no_baseline_and_says_so_once(world: World) -> None:
    """Unknown global value: a managed VM gets its original back instead of a baseline, a new VM keeps its own
    value, a due full is still forced; one log line and the JSON say so, and the run is not an error."""
    world.kube.delete("deployments", OADP_DEPLOYMENT, "velero")
    backed_up(world, 3, names=("a", "b", "c"), interval="4")
    world.kube.modify(
        "virtualmachines",
        "b",
        lambda o: {
            **o,
            "metadata": {
                **o["metadata"],
                "annotations": {keys.MAX_INCREMENTAL: "4", keys.STATE: OwnerState(None).dump()},
            },
        },
        namespace="apps",
    )
    world.kube.modify(
        "virtualmachines",
        "c",
        lambda o: {**o, "metadata": {**o["metadata"], "annotations": {keys.INTERVAL: "2"}}},
        namespace="apps",
    )
    code, plan = world.run("--log-format", "json", now=NOW)
    assert code == 0
    assert plan["controller"]["maxIncrementalBackups"] is None and plan["controller"]["source"] == "unknown"
    assert "no controller Deployment" in plan["controller"]["note"]
    vms = by_name(plan)
    assert [vms[n]["action"] for n in "abc"] == ["keep", "keep", "force-full"]
    assert keys.MAX_INCREMENTAL not in world.annotations("a")  # never managed: its own value (none) stays
    assert keys.MAX_INCREMENTAL not in world.annotations("b")  # the baseline 4 gave way to the original (none)
    assert world.annotations("c")[keys.MAX_INCREMENTAL] == "2"  # due: forced with the current count
    lines = [json.loads(line) for line in world.last_stderr.splitlines()]
    assert [entry["event"] for entry in lines].count("controller-limit-unknown") == 1


def test_a_forbidden_deployment_is_unknown_and_an_error(world: World) -> None:
    """403 on the Deployment: unknown (not 0), named in the plan's errors, exit 1; nothing rests on it."""
    backed_up(world, 2)
    world.kube.add_fault("GET", "deployments", status=403, times=None)
    code, plan = world.run(now=NOW, command="plan")
    assert code == 1
    assert plan["controller"]["maxIncrementalBackups"] is None
    assert [e for e in plan["errors"] if "403" in e and "deployment" in e]


def test_an_unparsable_flag_is_unknown(world: World) -> None:
    """A value the controller itself would refuse gives no limit to rely on."""
    world.kube.seed(controller_deployment("--max-incremental-backups=$(MAX)"))
    backed_up(world, 2)
    code, plan = world.run(now=NOW, command="plan")
    assert code == 0 and plan["controller"]["source"] == "unknown"
    assert "not an integer" in plan["controller"]["note"]


def test_the_flags_point_at_the_controller_or_state_its_value(world: World) -> None:
    """--controller-deployment reads that one (missing: an error); --controller-max-incremental reads none."""
    world.kube.seed(controller_deployment("--max-incremental-backups=6", namespace="backup", name="dm"))
    backed_up(world, 2)
    code, plan = world.run("--controller-deployment", "backup/dm", now=NOW, command="plan")
    assert code == 0 and plan["controller"]["maxIncrementalBackups"] == 6
    code, plan = world.run("--controller-deployment", "backup/nope", now=NOW, command="plan")
    assert code == 1 and plan["controller"]["source"] == "unknown" and "backup/nope" in plan["errors"][0]
    world.kube.clear_requests()
    code, plan = world.run("--controller-max-incremental", "2", now=NOW, command="plan")
    assert code == 0 and plan["controller"]["source"] == "flag --controller-max-incremental"
    assert world.kube.count("get", resource="deployments") == 0


# ----------------------------------------------------------------------------------- trackers


def test_a_stale_tracker_is_full_anyway_and_nothing_is_written(world: World) -> None:
    """The tracker names the checkpoint before the index's latest: the controller takes a full by itself."""
    backed_up(world, 8)  # interval 7: both are due, but for "a" the controller's tracker check comes first
    previous = str(world.docs[("apps", "a")]["checkpoints"][-2]["id"])
    world.kube.seed(tracker_object("a", previous), tracker_object("b", latest(world, "b")))
    code, plan = world.run(now=NOW)
    assert code == 0
    a, b = by_name(plan)["a"], by_name(plan)["b"]
    assert (a["action"], a["reasons"]) == ("full-anyway", ["tracker-mismatch"])
    assert a["detail"]["trackers"] == [{"name": "apps/vmbt-a-x7k2p", "checkpoint": previous}]
    assert a["detail"]["indexLatest"] == latest(world, "a")
    assert keys.STATE not in world.annotations("a")
    assert b["action"] == "force-full"
    assert plan["controller"]["trackers"] == {"source": "cluster", "count": 2, "note": None}


def test_no_tracker_crd_is_normal(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> None:
    """A cluster without the tracker CRD answers 404: no trackers, no error."""
    world = World(fake_kube, s3_seed, s3_endpoint, tmp_path, tracker_crd=False)
    backed_up(world, 2)
    code, plan = world.run(now=NOW, command="plan")
    assert code == 0 and plan["errors"] == []
    assert plan["controller"]["trackers"]["source"] == "not served"
    assert world.kube.requests("list", resource="virtualmachinebackuptrackers")[0].status == 404


def test_forbidden_trackers_are_unknown_not_absent(world: World) -> None:
    """403 on the tracker list: the check is skipped with one warning and an error; no tracker is assumed."""
    backed_up(world, 2)
    world.kube.add_fault(verb="list", resource="virtualmachinebackuptrackers", status=403, times=None)
    code, plan = world.run("--log-format", "json", now=NOW, command="plan")
    assert code == 1
    assert plan["controller"]["trackers"] == {
        "source": "unknown",
        "count": None,
        "note": plan["controller"]["trackers"]["note"],
    }
    assert "403" in plan["controller"]["trackers"]["note"]
    assert [e for e in plan["errors"] if "tracker check skipped" in e]
    assert [json.loads(x)["event"] for x in world.last_stderr.splitlines()].count("trackers-unknown") == 1


# ------------------------------------------------------------------------------------- sizes


def resize(world: World, name: str, index: int = 1) -> str:
    key = str(world.docs[("apps", name)]["checkpoints"][index]["files"][0]["objectPath"])
    world.s3.put("backups", f"{DM}/{key}", b"y" * 17)
    return key


def test_a_resized_object_warns_and_changes_no_decision(world: World) -> None:
    """Live: the chain stays valid, detail.warnings names the object and both sizes, a Warning Event is raised."""
    backed_up(world, 3)
    key = resize(world, "a")
    code, plan = world.run(now=NOW)
    assert code == 0
    a = by_name(plan)["a"]
    assert (a["chain"]["state"], a["action"]) == ("valid", by_name(plan)["b"]["action"])
    assert [(w["code"], w["objectPath"], w["bucketBytes"], w["indexBytes"]) for w in a["detail"]["warnings"]] == [
        ("size-mismatch", key, 17, 3000)
    ]
    assert plan["warnings"] == {"size-mismatch": 1} and set(plan["summary"]) == {"keep", "storage"}
    events = [e for e in world.kube.objects("events", "apps") if e["reason"] == keys.EVENT_SIZE_MISMATCH]
    assert [(e["involvedObject"]["name"], e["type"]) for e in events] == [("a", "Warning")]


def snapshot_and_plan(world: World, out: Path) -> tuple[int, dict[str, Any]]:
    snapped, code, doc = world.snapshot_then_plan(out, now=NOW)
    assert snapped == 0
    return code, doc


def test_snapshot_round_trip_keeps_limit_trackers_and_sizes(world: World, tmp_path: Path) -> None:
    """snapshot --out records the Deployment (command and args only), the trackers and the differing sizes:
    the offline plan decides and warns exactly as the live one."""
    world.set_global_limit(3)
    backed_up(world, 2, names=("a", "b", "c"))
    world.kube.seed(tracker_object("b", "gone"))
    resize(world, "c")
    code_live, live = world.run(now=NOW, command="plan")
    code, offline = snapshot_and_plan(world, tmp_path / "snap")
    assert code == code_live == 0
    assert offline["vms"] == live["vms"] and offline["warnings"] == live["warnings"] == {"size-mismatch": 1}
    assert {v["name"]: v["reasons"] for v in live["vms"]} == {
        "a": ["within-policy"],
        "b": ["tracker-mismatch"],
        "c": ["within-policy"],
    }
    assert offline["controller"]["maxIncrementalBackups"] == 3
    assert offline["controller"]["source"] == f"snapshot: deployment velero/{OADP_DEPLOYMENT}"
    assert offline["controller"]["trackers"]["count"] == live["controller"]["trackers"]["count"] == 1
    recorded = yaml.safe_load((tmp_path / "snap" / "cluster" / "objects.yaml").read_text())["items"]
    (dep,) = [o for o in recorded if o["kind"] == "Deployment"]
    assert dep["spec"] == {
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "manager",
                        "command": ["/manager"],
                        "args": [
                            *controller_deployment()["spec"]["template"]["spec"]["containers"][0]["args"],
                            "--max-incremental-backups=3",
                        ],
                    }
                ]
            }
        }
    }  # no env, image or the rest of the pod


# ----------------------------------------------------------------------------------- providers


def test_an_azure_location_is_a_schedule_error(world: World) -> None:
    """A Schedule on a BSL whose provider is not S3-compatible is an error naming the provider; nothing is read."""
    backed_up(world, 2)
    world.kube.modify(
        "backupstoragelocations",
        "default",
        lambda o: {**o, "spec": {**o["spec"], "provider": "velero.io/azure"}},
        namespace="velero",
    )
    code, plan = world.run(now=NOW, command="plan")
    assert code == 1
    (schedule,) = plan["schedules"]
    assert "spec.provider 'velero.io/azure' is not S3-compatible" in schedule["errors"][0]
    assert world.kube.count("get", resource="secrets") == 0
