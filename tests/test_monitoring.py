"""manifests/monitoring: the alerts, tested by promtool on the job's own pushes, and the kustomization.

The input of every promtool test is made by the metrics code (`tests/promtest.py`) from plans of
the real planning flow (`tests/promworld.py`, the example snapshot): a renamed metric or label
leaves an alert without data, and the exact expectations (labels, annotations, values) fail.
The dashboard has its own module, tests/test_monitoring_dashboard.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from reconciler.app import make_plan
from reconciler.cli import parser
from reconciler.core import keys
from reconciler.sources.snapshot import SnapshotSource
from tests.promtest import (
    INSTALL_HINT,
    PROMTOOL,
    Expect,
    Push,
    alert_rules,
    annotations,
    promtool_test,
    push_of,
    rule_groups,
    run_promtool,
    without_honor_labels,
)
from tests.promworld import Machine, World, at, drive, run_time

REPO = Path(__file__).resolve().parents[1]
MONITORING = REPO / "manifests" / "monitoring"
PROMETHEUS_RULE = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "full-backup-reconciler-dashboard.json"
EXAMPLE = REPO / "examples" / "snapshot"
EXAMPLE_NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
RULES = alert_rules(PROMETHEUS_RULE)
GROUP = {"job": "full_backup_reconciler", "velero_namespace": "velero"}  # the Pushgateway group of a push
VM_ALERTS = {"VMBackupChainBroken", "VMForcedFullNotLanded", "VMBackupChainTooLong"}  # one alert per VM
KUBECTL = shutil.which("kubectl")

needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason=INSTALL_HINT)


def firing(alertname: str, when: float, labels: dict[str, str], **values: str) -> Expect:
    """`alertname` fires at `when` for exactly one alert: these labels, its annotations expanded."""
    rule = RULES[alertname]
    values = {("" if k == "value" else k): v for k, v in values.items()}
    return Expect(when, alertname, (({**labels, **rule["labels"]}, annotations(rule, labels, values)),))


def quiet(when: float, *alertnames: str) -> list[Expect]:
    return [Expect(when, name) for name in alertnames or RULES]


def vm(namespace: str, name: str) -> dict[str, str]:
    return {**GROUP, "namespace": namespace, "name": name}


def assert_promtool(tmp_path: Path, pushes: list[Push], expect: list[Expect]) -> None:
    end = max(e.at for e in expect)
    result = promtool_test(PROMETHEUS_RULE, tmp_path, pushes=pushes, end=end, expect=expect)
    assert result.returncode == 0, result.stdout + result.stderr


def healthy_world() -> World:
    """Three VMs whose backups follow the job: fulls forced at interval 7 (3 for app-1) and landing."""
    return World(Machine("db-1"), Machine("web-1"), Machine("app-1", "dev", annotations={keys.INTERVAL: "3"}))


# --- the alerts, night by night ------------------------------------------------------------------


@needs_promtool
def test_no_alert_fires_while_fulls_are_forced_and_land(tmp_path: Path) -> None:
    """Nightly successful runs, forced fulls that land in their window: no alert at any hour."""
    pushes = drive(healthy_world(), last_day=3)
    actions = {
        dict(labels)["action"]
        for p in pushes
        for (name, labels), value in p.samples.items()
        if name == "full_backup_reconciler_decisions" and value and p.at >= 0
    }
    assert {"force-full", "release", "keep"} <= actions  # the quiet days do force and release
    expect = [e for hour in range(0, 4 * 24, 3) for e in quiet(at(0, hour))]
    assert_promtool(tmp_path, pushes, expect)


@needs_promtool
def test_each_alert_fires_after_its_for_and_clears(tmp_path: Path) -> None:
    """stuck-1's controller ignores the job, web-1 loses an object, db-1's annotation breaks a run, runs stop."""
    world = World(Machine("db-1"), Machine("stuck-1", backups="ignored"), Machine("web-1"))

    def lose(w: World) -> None:
        w.machines["web-1"].lose_object_of(-1)  # last night's incremental

    def break_annotation(w: World) -> None:
        w.machines["db-1"].annotations[keys.INTERVAL] = "five"

    def fix_annotation(w: World) -> None:
        del w.machines["db-1"].annotations[keys.INTERVAL]

    # Forced at day -1's run (7 incrementals), stuck-1 still takes incrementals: 8 on day 0, 9 on day 1.
    pushes = drive(
        world, last_day=5, runs=lambda day: day <= 3, before={1: lose, 2: break_annotation, 3: fix_annotation}
    )
    stuck, web = vm("prod", "stuck-1"), vm("prod", "web-1")
    forced_since = "1969-12-31 00:45:00 +0000 UTC"
    expect = [
        *quiet(at(0, 0, 40)),
        # Chain longer than its policy: from day 0's run (00:45) on, firing one hour later.
        *quiet(at(0, 1, 40), "VMBackupChainTooLong"),
        firing("VMBackupChainTooLong", at(0, 1, 55), stuck, value="8"),
        firing("VMBackupChainTooLong", at(1, 12), stuck, value="9"),
        # The forced full has missed one window on day 0, two from day 1's run on: firing 2 h later.
        *quiet(at(0, 23), "VMForcedFullNotLanded"),
        *quiet(at(1, 2, 40), "VMForcedFullNotLanded"),
        firing("VMForcedFullNotLanded", at(1, 2, 55), stuck, humanizeTimestamp=forced_since),
        # web-1's chain is broken from day 1's run until day 2's, after the controller's full.
        *quiet(at(0, 23), "VMBackupChainBroken"),
        *quiet(at(1, 0, 50), "VMBackupChainBroken"),
        firing("VMBackupChainBroken", at(1, 1), web),
        firing("VMBackupChainBroken", at(1, 23), web),
        *quiet(at(2, 1), "VMBackupChainBroken"),
        # Day 2's run leaves db-1 in error; day 3's succeeds again.
        *quiet(at(1, 12), "FullBackupReconcilerRunErrors"),
        *quiet(at(2, 0, 55), "FullBackupReconcilerRunErrors"),
        firing("FullBackupReconcilerRunErrors", at(2, 1, 5), GROUP, value="1"),
        *quiet(at(3, 1), "FullBackupReconcilerRunErrors"),
        # No success since day 1's run: over 26 h at day 2, 02:45, firing 15 minutes later.
        *quiet(at(2, 2, 59), "FullBackupReconcilerNotSucceeding"),
        firing("FullBackupReconcilerNotSucceeding", at(2, 3, 10), GROUP, humanizeDuration="1d 2h 25m 0s"),
        *quiet(at(3, 1), "FullBackupReconcilerNotSucceeding"),
        # The job stops after day 3's run: the gateway keeps its last push, which ages.
        *quiet(at(4, 2, 59), "FullBackupReconcilerNotSucceeding"),
        firing("FullBackupReconcilerNotSucceeding", at(4, 3, 10), GROUP, humanizeDuration="1d 2h 25m 0s"),
        firing("FullBackupReconcilerNotSucceeding", at(5, 12), GROUP, humanizeDuration="2d 11h 15m 0s"),
        *quiet(at(5, 12), "FullBackupReconcilerMetricsAbsent", "VMBackupChainBroken"),
    ]
    assert_promtool(tmp_path, pushes, expect)


@pytest.mark.slow
@needs_promtool
def test_a_week_of_failed_runs_keeps_not_succeeding_firing(tmp_path: Path) -> None:
    """A failed run pushes no success time; after 7 days the alert counts from the oldest push it holds."""
    world = World(Machine("db-1"), Machine("bad-1"))

    def break_annotation(w: World) -> None:
        w.machines["bad-1"].annotations[keys.INTERVAL] = "five"

    pushes = drive(world, last_day=9, before={1: break_annotation})
    day2_push = next(p.at for p in pushes if p.at > run_time(2) - 60)
    assert day2_push == run_time(2) + 3  # the push ends a 3-second run
    expect = [
        # The last success (day 0, 00:45) is still within 7 days.
        firing("FullBackupReconcilerNotSucceeding", at(7, 12), GROUP, humanizeDuration="7d 11h 15m 0s"),
        # It is not any more: counted from the push in effect 7 days ago (day 2's, at 00:45:03).
        firing("FullBackupReconcilerNotSucceeding", at(9, 12), GROUP, humanizeDuration="7d 11h 14m 57s"),
        firing("FullBackupReconcilerRunErrors", at(9, 12), GROUP, value="1"),
    ]
    assert_promtool(tmp_path, pushes, expect)


@needs_promtool
def test_metrics_absent_fires_after_26_hours_without_any_series(tmp_path: Path) -> None:
    """Nothing pushed (or lost by the gateway): only MetricsAbsent fires, once 26 hours have passed."""
    expect = [
        *quiet(at(1, 1, 59)),
        firing("FullBackupReconcilerMetricsAbsent", at(1, 2, 1), {"job": "full_backup_reconciler"}),
        *quiet(at(1, 2, 1), *(name for name in RULES if name != "FullBackupReconcilerMetricsAbsent")),
    ]
    assert_promtool(tmp_path, [], expect)


@needs_promtool
def test_a_scrape_without_honor_labels_is_seen_as_absent(tmp_path: Path) -> None:
    """Scraped without honor_labels the series carry job="pushgateway": MetricsAbsent tells."""
    world = World(Machine("db-1"), Machine("web-1"))
    world.machines["web-1"].backups = "failing"  # an alert every rule would raise, were its job label right
    pushes = [without_honor_labels(p) for p in drive(world, last_day=2)]
    expect = [
        firing("FullBackupReconcilerMetricsAbsent", at(1, 2, 1), {"job": "full_backup_reconciler"}),
        *quiet(at(2, 6), *(name for name in RULES if name != "FullBackupReconcilerMetricsAbsent")),
    ]
    assert_promtool(tmp_path, pushes, expect)


@needs_promtool
def test_the_example_snapshot_raises_its_broken_chains_long_chain_and_errors(tmp_path: Path) -> None:
    """The README's example: two broken chains, db-1 with 8 incrementals under interval 7, one VM in error.

    Its timestamps lie in 2026, far ahead of promtool's clock, so the time-based alerts stay quiet.
    """
    push = push_of(make_plan(SnapshotSource(EXAMPLE), now=EXAMPLE_NOW))
    pushes = [Push(0, push.samples)]  # received at promtool's time 0
    when = at(0, 2)
    broken = RULES["VMBackupChainBroken"]
    ledger, reports = vm("finance", "ledger"), vm("finance", "reports")
    expect = [
        Expect(
            when,
            "VMBackupChainBroken",
            tuple(({**labels, **broken["labels"]}, annotations(broken, labels, {})) for labels in (ledger, reports)),
        ),
        firing("VMBackupChainTooLong", when, vm("prod", "db-1"), value="8"),
        firing("FullBackupReconcilerRunErrors", when, GROUP, value="1"),
        *quiet(when, "VMForcedFullNotLanded", "FullBackupReconcilerNotSucceeding", "FullBackupReconcilerMetricsAbsent"),
    ]
    assert_promtool(tmp_path, pushes, expect)


@needs_promtool
def test_promtool_fails_a_wrong_expectation(tmp_path: Path) -> None:
    """The harness can fail: a broken chain expected on healthy data makes promtool exit non-zero."""
    pushes = drive(healthy_world(), last_day=1)
    wrong = firing("VMBackupChainBroken", at(1, 12), vm("prod", "web-1"))
    result = promtool_test(PROMETHEUS_RULE, tmp_path, pushes=pushes, end=at(1, 12), expect=[wrong])
    assert result.returncode != 0 and "VMBackupChainBroken" in result.stdout + result.stderr


# --- the rule file ---------------------------------------------------------------------------------


@needs_promtool
def test_rules_pass_promtool_check(tmp_path: Path) -> None:
    """`promtool check rules` accepts the PrometheusRule's spec as a rule file."""
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_groups(PROMETHEUS_RULE)), encoding="utf-8")
    result = run_promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULES)} rules found" in result.stdout


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_alert_says_what_to_do_and_where_to_read_more() -> None:
    """Severity, a `for`, summary, description naming the VM or Velero namespace, a runbook at a README heading."""
    anchors = _anchors((REPO / "README.md").read_text(encoding="utf-8"))
    for name, rule in RULES.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert re.fullmatch(r"\d+[mh]", rule["for"]), name
        assert set(rule["annotations"]) == {"summary", "description", "runbook"}, name
        file, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert file == "README.md" and anchor in anchors, (name, anchor)
        description = rule["annotations"]["description"]
        if name in VM_ALERTS:
            assert "full-backup-reconciler explain {{ $labels.namespace }}/{{ $labels.name }}" in description, name
        elif name != "FullBackupReconcilerMetricsAbsent":
            assert "{{ $labels.velero_namespace }}" in description, name


# --- the kustomization ---------------------------------------------------------------------------


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: it renders the kustomization")
def test_kustomization_renders_the_rule_and_a_dashboard_configmap_of_the_json_file() -> None:
    """`kubectl kustomize manifests/monitoring`: the PrometheusRule, and a ConfigMap holding exactly the JSON file."""
    objects = {o["kind"]: o for o in _kustomize(MONITORING)}
    assert set(objects) == {"ConfigMap", "PrometheusRule"}
    rule, configmap = objects["PrometheusRule"], objects["ConfigMap"]
    assert rule["spec"] == yaml.safe_load(PROMETHEUS_RULE.read_text(encoding="utf-8"))["spec"]
    assert configmap["metadata"]["name"] == "full-backup-reconciler-dashboard"
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["data"] == {DASHBOARD.name: DASHBOARD.read_text(encoding="utf-8")}
    kubernetes_validate.validate(configmap, "1.37", strict=True)
    for obj in objects.values():
        assert "namespace" not in obj["metadata"]  # -n chooses where Prometheus and Grafana look
    base = yaml.safe_load((REPO / "manifests" / "base" / "kustomization.yaml").read_text(encoding="utf-8"))
    assert not any("monitoring" in r for r in base["resources"])  # opt-in


def _readme_yaml(containing: str) -> str:
    (block,) = [
        b
        for b in re.findall(r"```yaml\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), flags=re.DOTALL)
        if containing in b
    ]
    return block


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return [o for o in yaml.safe_load_all(result.stdout) if o]


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: it renders the kustomization")
def test_readme_monitoring_overlay_renders_as_written(tmp_path: Path) -> None:
    """The README's kustomization beside a clone: the namespace and the release label on both objects."""
    block = _readme_yaml("../full-backup-reconciler/manifests/monitoring")
    shutil.copytree(MONITORING, tmp_path / "full-backup-reconciler" / "manifests" / "monitoring")
    (tmp_path / "monitoring").mkdir()
    (tmp_path / "monitoring" / "kustomization.yaml").write_text(block, encoding="utf-8")
    objects = _kustomize(tmp_path / "monitoring")
    assert {o["kind"] for o in objects} == {"ConfigMap", "PrometheusRule"}
    for obj in objects:
        assert obj["metadata"]["namespace"] == "monitoring"
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed: it renders the kustomization")
def test_readme_pushgateway_patch_gives_the_cronjob_a_flag_it_accepts(tmp_path: Path) -> None:
    """The README's patch, added to an overlay, ends the CronJob's args with a --pushgateway the CLI parses."""
    patch = yaml.safe_load(_readme_yaml("--pushgateway="))
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    overlay = tmp_path / "manifests" / "overlays" / "velero" / "kustomization.yaml"
    doc = yaml.safe_load(overlay.read_text(encoding="utf-8"))
    doc["patches"] = [*(doc.get("patches") or []), *patch["patches"]]
    overlay.write_text(yaml.safe_dump(doc), encoding="utf-8")
    (cronjob,) = [o for o in _kustomize(overlay.parent) if o["kind"] == "CronJob"]
    args = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    parsed = parser().parse_args(args)
    assert parsed.pushgateway == "http://prometheus-pushgateway.monitoring.svc:9091"
