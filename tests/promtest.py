"""promtool unit tests fed with the job's own metrics.

`push_of(plan)` is what one run leaves on the Pushgateway: the job's registry
(`reconciler.metrics.build_registry`) in prometheus_client's text exposition, each sample with
the labels the gateway adds for the group `metrics.push` pushes to — `job` and the grouping key
(`velero_namespace`) — plus the gateway's own `push_time_seconds` and
`push_failure_time_seconds` for the group. The gateway also serves `instance=""`; Prometheus
scrapes it with honor_labels and drops empty labels on ingestion, so the series carry no
`instance`. (tests/test_metrics.py checks those group labels against a real Pushgateway.)

`input_series(pushes, end=...)` is what Prometheus holds after scraping the gateway every
`SCRAPE` seconds from promtool's time 0 (1970-01-01T00:00:00Z) on: at each scrape, the latest push at or before
it; a series that push lacks is marked stale at the first scrape without it, as Prometheus
marks a series gone from a target.

`unit_test(...)` writes promtool's unit-test file and `run_promtool` runs it. Alert expectations
are exact (labels and annotations); `annotations(rule, labels, values)` expands a rule's
annotation templates for the few forms the rules use, so the test names only the values.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.core.plan import Plan
from reconciler.metrics import JOB, build_registry, grouping_key

SeriesKey = tuple[str, frozenset[tuple[str, str]]]
PUSHGATEWAY_SERIES = ("push_time_seconds", "push_failure_time_seconds")
# Seconds between scrapes of the gateway, and between rule evaluations. Five minutes, not the usual
# 30 s: the pushed values change once a run, and promtool evaluates every rule at every step over
# days of series (at one minute a test of five days took a minute of CPU).
SCRAPE = 300
PROMTOOL = shutil.which("promtool")
INSTALL_HINT = "promtool is not installed (Debian/Ubuntu: apt-get install prometheus)"


@dataclass(frozen=True)
class Push:
    at: float  # when the gateway received it: its push_time_seconds
    samples: Mapping[SeriesKey, float]


def push_of(plan: Plan, *, duration_s: float = 3.0) -> Push:
    """The group one run pushes, as Prometheus scrapes it from the gateway (the push ends the run)."""
    text = generate_latest(build_registry(plan, duration_s=duration_s)).decode()
    group = {"job": JOB, **grouping_key(plan)}
    samples: dict[SeriesKey, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset({**sample.labels, **group}.items()))] = sample.value
    at = plan.now.timestamp() + duration_s
    samples[("push_time_seconds", frozenset(group.items()))] = at
    samples[("push_failure_time_seconds", frozenset(group.items()))] = 0.0
    return Push(at, samples)


def without_honor_labels(push: Push, *, scrape_job: str = "pushgateway") -> Push:
    """The push as a scrape without honor_labels stores it: the pushed `job` becomes `exported_job`."""
    return Push(
        push.at,
        {
            (
                name,
                frozenset({**{("exported_job" if k == "job" else k): v for k, v in labels}, "job": scrape_job}.items()),
            ): value
            for (name, labels), value in push.samples.items()
        },
    )


def series_name(key: SeriesKey) -> str:
    name, labels = key
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels))
    return f"{name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def input_series(pushes: Sequence[Push], *, end: float) -> list[dict[str, str]]:
    """Every series of the pushes, sampled at each scrape from 0 to `end` in promtool's notation."""
    ordered = sorted(pushes, key=lambda p: p.at)
    keys = sorted({k for p in ordered for k in p.samples}, key=series_name)
    steps = int(end // SCRAPE) + 1
    current: list[Push | None] = []
    i = -1
    for step in range(steps):
        while i + 1 < len(ordered) and ordered[i + 1].at <= step * SCRAPE:
            i += 1
        current.append(ordered[i] if i >= 0 else None)
    out = []
    for key in keys:
        tokens: list[str] = []
        seen = False
        for push in current:
            if push is not None and key in push.samples:
                tokens.append(repr(push.samples[key]))
                seen = True
            elif seen and tokens[-1] not in ("_", "stale"):
                tokens.append("stale")
            else:
                tokens.append("_")
        out.append({"series": series_name(key), "values": _compact(tokens)})
    return out


def _compact(tokens: list[str]) -> str:
    """Runs of one value as `v+0xN` (N+1 samples) and of missing samples as `_xN` (N samples)."""
    parts = []
    start = 0
    while start < len(tokens):
        end = start
        while end + 1 < len(tokens) and tokens[end + 1] == tokens[start]:
            end += 1
        count = end - start + 1
        token = tokens[start]
        if count == 1 or token == "stale":
            parts.extend([token] * count)
        elif token == "_":
            parts.append(f"_x{count}")
        else:
            parts.append(f"{token}+0x{count - 1}")
        start = end + 1
    return " ".join(parts)


# --- the rules and the unit-test file ------------------------------------------------------------


def rule_groups(prometheus_rule: Path) -> dict[str, Any]:
    """The PrometheusRule's spec: a Prometheus rule file (`groups:`) as promtool reads one."""
    doc = yaml.safe_load(prometheus_rule.read_text(encoding="utf-8"))
    assert doc["apiVersion"] == "monitoring.coreos.com/v1" and doc["kind"] == "PrometheusRule", doc.get("kind")
    assert set(doc["spec"]) == {"groups"}
    spec: dict[str, Any] = doc["spec"]
    return spec


def alert_rules(prometheus_rule: Path) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rule_groups(prometheus_rule)["groups"] for r in g["rules"] if "alert" in r}


_TEMPLATE = re.compile(r"\{\{\s*(\$labels\.(\w+)|\$value(?:\s*\|\s*(\w+))?)\s*\}\}")


def annotations(rule: Mapping[str, Any], labels: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """The rule's annotations as Prometheus expands them for an alert with these labels.

    `values` gives `$value` as text per pipe ("" for a bare `{{ $value }}`, "humanizeDuration",
    "humanizeTimestamp"): the test states what the alert's value must read. Only the template
    forms the rules use are expanded; any other `{{ ... }}` fails the test here.
    """

    def expand(m: re.Match[str]) -> str:
        if m.group(2) is not None:
            return labels[m.group(2)]
        return values[m.group(3) or ""]

    out = {}
    for key, text in rule["annotations"].items():
        expanded = _TEMPLATE.sub(expand, text)
        assert "{{" not in expanded, f"{rule['alert']}: {key}: a template form the test cannot expand: {expanded}"
        out[key] = expanded
    return out


@dataclass(frozen=True)
class Expect:
    """At `at` seconds, exactly these alerts of `alertname` fire (none: `alerts` empty)."""

    at: float
    alertname: str
    alerts: tuple[tuple[Mapping[str, str], Mapping[str, str]], ...] = ()  # (labels, annotations)


def unit_test(rules: Path, *, series: list[dict[str, str]], expect: Sequence[Expect]) -> dict[str, Any]:
    """A promtool unit-test document for one group of input series."""
    return {
        "rule_files": [rules.name],
        "evaluation_interval": f"{SCRAPE}s",
        "tests": [
            {
                "interval": f"{SCRAPE}s",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": f"{int(e.at)}s",
                        "alertname": e.alertname,
                        "exp_alerts": [
                            {"exp_labels": dict(labels), "exp_annotations": dict(notes)} for labels, notes in e.alerts
                        ],
                    }
                    for e in expect
                ],
            }
        ],
    }


def write_rules(prometheus_rule: Path, directory: Path) -> Path:
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_groups(prometheus_rule), sort_keys=False), encoding="utf-8")
    return path


def run_promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None, INSTALL_HINT
    return subprocess.run([PROMTOOL, *map(str, args)], capture_output=True, text=True, timeout=300, check=False)


def promtool_test(
    prometheus_rule: Path, directory: Path, *, pushes: Sequence[Push], end: float, expect: Sequence[Expect]
) -> subprocess.CompletedProcess[str]:
    """Run `promtool test rules` on the rules with the pushes as input; the completed process."""
    rules = write_rules(prometheus_rule, directory)
    test = directory / "test.yaml"
    doc = unit_test(rules, series=input_series(pushes, end=end), expect=expect)
    test.write_text(yaml.safe_dump(doc, sort_keys=False, width=1_000_000), encoding="utf-8")
    return run_promtool("test", "rules", test)
