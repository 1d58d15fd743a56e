"""Shared scenario and checks for the reliability tests (faults, crashes, concurrent runs, secrets).

The scenario: one nightly Schedule with interval 4 and max-age 10d, four VMs whose own
`max-incremental-backups` values differ (none, a looser 30, a stricter 3, and junk the controller
ignores), five nights of backups taken by the upstream model. The first run then forces a full on
three of them and sets the baseline on the fourth: four patches and three Events.

`expected_state` computes the fault-free end state from a dry run's patches, so every test can
compare what a faulted run (plus a clean re-run) left behind with what an undisturbed run would.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.cli import main
from reconciler.core import keys
from reconciler.core.state import OwnerState, parse_state
from reconciler.simulate.upstream import Tracker, UpstreamController, append_checkpoint
from tests.cluster import BUCKET, DISKS, DM, World, iso, schedule_object, vm_object
from tests.fakekube.server import DEFAULT_CONTEXT, FakeKubeServer, RecordedRequest

WINDOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
NOW = WINDOW - timedelta(minutes=15)
ORIGINALS: dict[str, str | None] = {"plain": None, "loose": "30", "strict": "3", "junk": "not-a-number"}
VMS = [("apps", name) for name in ORIGINALS]

VMState = dict[str, tuple[dict[str, str], dict[str, str]]]  # name -> (job-owned annotations, job labels)
REPO = Path(__file__).resolve().parent.parent  # where a child `python -m reconciler` runs


def child_environment() -> dict[str, str]:
    """The environment of a child `python -m reconciler`: none of the caller's cloud or cluster settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "KUBERNETES_")) and k not in ("KUBECONFIG", "HYPOTHESIS_PROFILE")
    }
    env.update(
        {
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


def _annotations(name: str) -> dict[str, str]:
    original = ORIGINALS[name]
    return {keys.MAX_INCREMENTAL: original} if original is not None else {}


History = tuple[dict[tuple[str, str], dict[str, Any]], dict[str, int], dict[tuple[str, str], Tracker]]


@functools.cache
def _history(nights: int) -> History:
    """The indexes, objects and trackers `nights` backups leave, as `World.backup_window` would
    write them with no job running (the VMs keep their own values), computed once without any I/O."""
    controller = UpstreamController()
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    objects: dict[str, int] = {}
    trackers: dict[tuple[str, str], Tracker] = {}
    for n in range(nights, 0, -1):
        window = WINDOW - n * timedelta(days=1)
        backup = f"nightly-{window.strftime('%Y%m%d%H%M%S')}"
        for key in VMS:
            namespace, name = key
            doc, tracker = docs.get(key), trackers.get(key)
            decision = controller.decide(
                vm_name=name,
                index=json.dumps(doc).encode() if doc else None,
                objects=objects,
                vm_annotations=_annotations(name),
                trackers=[tracker] if tracker else [],
            )
            doc, written = append_checkpoint(
                doc,
                namespace=namespace,
                name=name,
                mode=decision.mode,
                at=window + timedelta(minutes=12),
                backup=backup,
                disk_sizes=DISKS,
            )
            docs[key] = doc
            trackers[key] = decision.tracker.after_backup(doc["checkpoints"][-1]["id"])
            objects.update(written)
    return docs, objects, trackers


def seed(world: World, *, nights: int = 5) -> None:
    """The scenario's objects in the API server and `nights` of backups in the bucket (bulk-written)."""
    world.kube.seed(
        schedule_object(
            "nightly", {keys.INTERVAL: "4", keys.MAX_AGE: "10d"}, last_backup=iso(WINDOW - timedelta(days=1))
        )
    )
    for name in ORIGINALS:
        world.kube.seed(vm_object(name, annotations=_annotations(name)))
    docs, objects, trackers = _history(nights)
    world.trackers.update(trackers)
    bodies = {f"{DM}/{key}": b"x" * size for key, size in objects.items()}
    for (namespace, name), doc in docs.items():
        bodies[f"{DM}/checkpoints/{namespace}/{name}/index.json"] = json.dumps(doc).encode()
        world.docs[(namespace, name)] = copy.deepcopy(doc)
    world.s3.put_many(BUCKET, bodies)


class Sleeps:
    """The injected sleep: records every backoff instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def argv(target: World | Path, command: str = "run", *extra: str, now: datetime = NOW) -> list[str]:
    """The command line of a run against a World's API server, or the one a kubeconfig names."""
    kubeconfig = target.kubeconfig if isinstance(target, World) else target
    return [
        command,
        "--kubeconfig",
        str(kubeconfig),
        "--context",
        DEFAULT_CONTEXT,
        "--velero-namespace",
        "velero",
        "--now",
        iso(now),
        "-o",
        "json",
        *extra,
    ]


def run(
    target: World | Path,
    command: str = "run",
    *extra: str,
    now: datetime = NOW,
    sleep: Callable[[float], None] | None = None,
    environ: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any] | None, str]:
    """The real CLI in-process: (exit status, the plan document or None, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(
        argv(target, command, *extra, now=now),
        environ=environ or {},
        stdout=out,
        stderr=err,
        sleep=sleep or (lambda _s: None),
    )
    text = out.getvalue()
    return code, (json.loads(text) if text else None), err.getvalue()


def owned(obj: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    meta = obj["metadata"]
    ann = {k: v for k, v in (meta.get("annotations") or {}).items() if k in (keys.MAX_INCREMENTAL, keys.STATE)}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k == keys.DUE_LABEL}
    return ann, labels


def vm_state(world: World) -> VMState:
    return {o["metadata"]["name"]: owned(o) for o in world.kube.objects("virtualmachines", "apps")}


def _merge(current: dict[str, str], changes: dict[str, str | None]) -> dict[str, str]:
    out = dict(current)
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def expected_state(world: World, *extra: str, now: datetime = NOW) -> VMState:
    """The end state an undisturbed `run` reaches: a dry run's patches applied to today's VMs."""
    _, plan, err = run(world, "plan", *extra, now=now)
    assert plan is not None, err
    state = vm_state(world)
    for vm in plan["vms"]:
        patch = vm["detail"]["patch"]
        if patch is None:
            continue
        ann, labels = state[vm["name"]]
        meta = patch["metadata"]
        state[vm["name"]] = (_merge(ann, meta.get("annotations") or {}), _merge(labels, meta.get("labels") or {}))
    return state


def original_of(ann: dict[str, str]) -> str | None:
    """The value the VM held before the job first wrote: from the VM alone."""
    text = ann.get(keys.STATE)
    if text is None:
        return ann.get(keys.MAX_INCREMENTAL)
    owner = parse_state(text)
    assert isinstance(owner, OwnerState), f"unreadable state annotation {text!r}"
    return owner.original


def assert_originals_recoverable(world: World, originals: dict[str, str | None] = ORIGINALS) -> None:
    for name, (ann, _) in vm_state(world).items():
        if name in originals:
            assert original_of(ann) == originals[name], f"{name}: original lost ({ann})"


def actions(plan: dict[str, Any] | None) -> dict[str, str]:
    assert plan is not None
    return {v["name"]: v["action"] for v in plan["vms"]}


def messages(plan: dict[str, Any] | None) -> dict[str, str]:
    assert plan is not None
    return {v["name"]: v["detail"]["message"] for v in plan["vms"]}


def converges(world: World, expected: VMState) -> None:
    """A re-run without faults exits 0 and reaches the fault-free end state; one more writes nothing."""
    code, plan, err = run(world)
    assert code == 0, (err, plan and messages(plan))
    assert vm_state(world) == expected
    before = world.patches()
    code, plan, _ = run(world, now=NOW + timedelta(minutes=1))
    assert code == 0 and world.patches() == before
    assert_originals_recoverable(world)


# Writes as the API server saw them, for the tests that interrupt a run mid-write (Ctrl-C, SIGTERM).
WRITES = ("PATCH", "POST")


def landed_writes(server: FakeKubeServer) -> list[tuple[str, str]]:
    """Writes that landed, in order: (method, VM name), an Event by the VM it is about."""
    out = []
    for r in server.requests():
        if r.method in WRITES and r.status is not None and r.status < 300:
            name = r.name if r.method == "PATCH" else (r.body or {}).get("involvedObject", {}).get("name")
            out.append((r.method, str(name)))
    return out


def undisturbed_writes(world: World, tmp_path: Path) -> list[tuple[str, str]]:
    """The writes of an uninterrupted run over the same objects, on an API server of its own."""
    with FakeKubeServer() as twin:
        twin.seed(
            *[
                o
                for kind in ("schedules", "backupstoragelocations", "secrets")
                for o in world.kube.objects(kind, "velero")
            ],
            *world.kube.objects("virtualmachines", "apps"),
        )
        out, err = io.StringIO(), io.StringIO()
        code = main(argv(twin.write_kubeconfig(tmp_path / "twin-kubeconfig")), environ={}, stdout=out, stderr=err)
        assert code == 0, err.getvalue()
        return landed_writes(twin)


def signal_on_write(server: FakeKubeServer, signum: int, *ks: int) -> None:
    """Send `signum` to this process as the k-th write arrives, before the server answers it."""
    seen = [0]

    def hook(record: RecordedRequest) -> None:
        if record.method in WRITES:
            seen[0] += 1
            if seen[0] in ks:
                os.kill(os.getpid(), signum)

    server.on_request(hook)


def interrupted_at_write(world: World, tmp_path: Path, signum: int, k: int) -> tuple[int, str, str]:
    """A run that gets `signum` as its k-th write arrives: (exit status, stdout, stderr), once checked
    that exactly the writes up to the end of that write's VM landed (none of its writes lost, none
    after it) and that a re-run completes what was left."""
    expected = expected_state(world)
    undisturbed = undisturbed_writes(world, tmp_path)
    assert len(undisturbed) == 7  # four patches, three Events
    world.kube.clear_requests()
    signal_on_write(world.kube, signum, k)
    out, err = io.StringIO(), io.StringIO()
    code = main(argv(world), environ={}, stdout=out, stderr=err, sleep=lambda _s: None)
    vm = undisturbed[k - 1][1]
    end = max(i for i, (_, name) in enumerate(undisturbed) if name == vm) + 1
    assert landed_writes(world.kube) == undisturbed[:end]
    converges(world, expected)
    return code, out.getvalue(), err.getvalue()
