"""Run metrics: per-VM chain gauges and per-run counts, in a registry and through a real Pushgateway."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from reconciler.core import keys
from reconciler.core.chain import compute_chain
from reconciler.core.controller import GlobalLimit, Trackers, Upstream
from reconciler.core.model import NO_INDEX
from reconciler.core.plan import Plan, build_plan, targets, view_schedules
from reconciler.metrics import build_registry, grouping_key, push
from tests.builders import T0, bsl, index, linear, listing_for, schedule, vm

DAY = timedelta(days=1)
LAST = T0 + 10 * DAY
NOW = LAST + timedelta(hours=19)
PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"


def sample_plan() -> Plan:
    """db-1: 7 incrementals (forced); web-1: 2 (keep); new-1: no index; bad-1: a missing object; off-1: stopped."""
    views = view_schedules([schedule(annotations={keys.INTERVAL: "7"}, last_backup=LAST)], [bsl()], now=NOW)
    machines = [
        vm("db-1", "prod"),
        vm("web-1", "prod"),
        vm("new-1", "dev"),
        vm("bad-1", "dev"),
        vm("off-1", "dev", status="Stopped"),
    ]
    long_chain = linear(7, start=LAST - 7 * DAY)
    short = linear(2, start=LAST - 2 * DAY)
    broken = listing_for(*short)
    del broken[short[1].files[0].object_path]
    chains = {
        ("prod", "db-1"): compute_chain(index(*long_chain), listing_for(*long_chain)),
        ("prod", "web-1"): compute_chain(index(*short), listing_for(*short)),
        ("dev", "new-1"): compute_chain(NO_INDEX),
        ("dev", "bad-1"): compute_chain(index(*short), broken),
    }
    return build_plan(now=NOW, views=views, covered=targets(views, machines), chains=chains)


def test_registry_holds_per_vm_chain_gauges() -> None:
    """Chain length, incrementals, bytes, seconds since the last full and the broken flag, per VM."""
    registry = build_registry(sample_plan(), duration_s=1.5)

    def value(name: str, ns: str, vm_name: str) -> float | None:
        return registry.get_sample_value(f"full_backup_reconciler_{name}", {"namespace": ns, "name": vm_name})

    assert value("chain_length", "prod", "db-1") == 8
    assert value("chain_incrementals", "prod", "db-1") == 7
    assert value("chain_bytes", "prod", "db-1") == 800
    # The full ran 12 minutes into the window 7 days before LAST; the run decides 19 hours after LAST.
    since = 7 * DAY + timedelta(hours=19, minutes=-12)
    assert value("seconds_since_last_full", "prod", "db-1") == since.total_seconds()
    assert value("chain_broken", "prod", "db-1") == 0
    assert value("chain_broken", "dev", "bad-1") == 1
    assert value("chain_length", "dev", "new-1") == 0
    assert value("seconds_since_last_full", "dev", "new-1") is None  # no full to measure from
    assert value("chain_length", "dev", "off-1") is None  # skipped: its chain was never read


def test_registry_counts_warnings_and_the_controllers_limit() -> None:
    """Objects of another size per VM, VMs per warning code (zeros included), and the global limit when known."""
    plan = sample_plan()
    web = next(d for d in plan.decisions if d.vm.name == "web-1")
    short = linear(2, start=LAST - 2 * DAY)
    resized = listing_for(*short)
    resized[short[1].files[0].object_path] = 1
    chain = compute_chain(index(*short), resized)
    assert web.chain.mismatches == () and len(chain.mismatches) == 1
    again = build_plan(
        now=NOW,
        views=plan.schedules,
        covered=[(web.vm, web.views)],
        chains={web.vm.key: chain},
        upstream=Upstream(GlobalLimit(5, "deployment velero/c"), Trackers.of((), source="cluster")),
    )
    registry = build_registry(again, duration_s=1.0)
    assert (
        registry.get_sample_value(
            "full_backup_reconciler_size_mismatched_objects", {"namespace": "prod", "name": "web-1"}
        )
        == 1
    )
    assert registry.get_sample_value("full_backup_reconciler_warnings", {"code": "size-mismatch"}) == 1
    assert registry.get_sample_value("full_backup_reconciler_warnings", {"code": "two-bsls"}) == 0
    assert registry.get_sample_value("full_backup_reconciler_controller_max_incremental_backups") == 5
    unknown = build_registry(sample_plan(), duration_s=1.0)  # the default: the controller's 0, assumed
    assert unknown.get_sample_value("full_backup_reconciler_controller_max_incremental_backups") == 0
    blind = build_plan(
        now=NOW,
        views=plan.schedules,
        covered=[],
        chains={},
        upstream=Upstream(GlobalLimit(None, "unknown"), Trackers.unknown("403")),
    )
    assert (
        build_registry(blind, duration_s=1.0).get_sample_value(
            "full_backup_reconciler_controller_max_incremental_backups"
        )
        is None
    )


def test_registry_holds_per_run_counts() -> None:
    """VMs per action (every action, zeros included), duration, timestamp and the failed flag."""
    plan = sample_plan()
    registry = build_registry(plan, duration_s=1.5)

    def by_action(action: str) -> float | None:
        return registry.get_sample_value("full_backup_reconciler_decisions", {"action": action})

    assert by_action("force-full") == 1 and by_action("keep") == 1 and by_action("skip") == 1
    assert by_action("full-anyway") == 2 and by_action("error") == 0
    assert registry.get_sample_value("full_backup_reconciler_run_duration_seconds") == 1.5
    assert registry.get_sample_value("full_backup_reconciler_last_run_timestamp_seconds") == NOW.timestamp()
    assert registry.get_sample_value("full_backup_reconciler_run_failed") == 0
    assert grouping_key(plan) == {"velero_namespace": "velero"}


def test_a_failed_push_is_logged_not_raised() -> None:
    """A Pushgateway that cannot be reached costs a warning, never the run."""
    port = _free_port()
    with capture_logs() as logs:
        assert push(sample_plan(), f"http://127.0.0.1:{port}", duration_s=0.1, timeout=2) is False
    assert [entry["event"] for entry in logs] == ["metrics-push-failed"]


# --- against a real Pushgateway ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body.decode()


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """A Pushgateway on a free loopback port, started for this test and stopped after it."""
    binary = shutil.which("prometheus-pushgateway") or (PUSHGATEWAY if Path(PUSHGATEWAY).exists() else None)
    if binary is None:
        pytest.skip("prometheus-pushgateway is not installed (Debian/Ubuntu: apt-get install prometheus-pushgateway)")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "pushgateway.log").open("w")
    proc = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                _get(f"{url}/-/ready")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"pushgateway did not start: {(tmp_path / 'pushgateway.log').read_text()}")
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _series(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("full_backup_reconciler_")
    }


def test_push_to_a_real_pushgateway(pushgateway: str) -> None:
    """Pushed metrics are served by the gateway under job and velero_namespace, with the plan's values."""
    assert push(sample_plan(), pushgateway, duration_s=2.25) is True
    series = _series(_get(f"{pushgateway}/metrics"))
    group = {("job", "full_backup_reconciler"), ("velero_namespace", "velero"), ("instance", "")}

    def at(metric: str, **labels: str) -> float | None:
        return series.get((f"full_backup_reconciler_{metric}", frozenset(group | set(labels.items()))))

    assert at("chain_length", namespace="prod", name="db-1") == 8
    assert at("chain_incrementals", namespace="prod", name="db-1") == 7
    assert at("chain_bytes", namespace="prod", name="web-1") == 300
    assert at("chain_broken", namespace="dev", name="bad-1") == 1
    assert (
        at("seconds_since_last_full", namespace="prod", name="web-1")
        == (2 * DAY + timedelta(hours=19, minutes=-12)).total_seconds()
    )
    assert at("decisions", action="force-full") == 1
    assert at("decisions", action="full-anyway") == 2
    assert at("run_duration_seconds") == 2.25
    assert at("last_run_timestamp_seconds") == NOW.timestamp()
    assert at("run_failed") == 0


def test_a_second_push_replaces_the_group(pushgateway: str) -> None:
    """A VM gone from the next run's plan is gone from the gateway too (PUT replaces the whole group)."""
    plan = sample_plan()
    assert push(plan, pushgateway, duration_s=1)
    fewer = Plan(plan.now, plan.schedules, tuple(d for d in plan.decisions if d.vm.name != "db-1"))
    assert push(fewer, pushgateway, duration_s=1)
    text = _get(f"{pushgateway}/metrics")
    assert 'name="web-1"' in text and 'name="db-1"' not in text
