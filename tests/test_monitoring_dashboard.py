"""The Grafana dashboard: it queries only what the job pushes, in valid PromQL, and the README describes it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from reconciler.app import make_plan
from reconciler.core.model import Action
from reconciler.core.plan import Plan
from reconciler.metrics import build_registry
from reconciler.sources.snapshot import SnapshotSource
from tests.promtest import PUSHGATEWAY_SERIES, push_of, run_promtool
from tests.promworld import drive
from tests.test_monitoring import DASHBOARD, EXAMPLE, EXAMPLE_NOW, REPO, RULES, healthy_world, needs_promtool


def _dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return doc


def _exprs() -> list[str]:
    panels = [p for p in _dashboard()["panels"] if p["type"] != "row"]
    return [t["expr"] for p in panels for t in p["targets"]]


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_MATCHERS = re.compile(r"\{([^}]*)\}")
_KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "inf",
    "nan",
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions, keywords or labels."""
    text = _STRING.sub('""', expr)
    text = _LABEL_LIST.sub(" ", text)
    text = _MATCHERS.sub("{}", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    names = re.findall(r"(?<![\w$.])([a-zA-Z_:][\w:]*)(?=\s*(?:[{\[),]|$|[-+*/%^=!<>]|(?:and|or|unless)\b))", text)
    return {n for n in names if n.lower() not in _KEYWORDS}


def label_names(expr: str) -> set[str]:
    """Labels named in matchers and in by/on/... lists."""
    text = _STRING.sub('""', expr)
    out = {n for _, names in _LABEL_LIST.findall(text) for n in re.findall(r"\w+", names)}
    out |= {n for body in _MATCHERS.findall(text) for n in re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", body)}
    return out


def test_metric_names_reads_selectors_not_functions_or_labels() -> None:
    """The checker below finds the selected metrics and the labels, never a function or a keyword."""
    expr = (
        'time() - max by (velero_namespace) (max_over_time(a_b{job="x", name=~"$vm"}[7d])) '
        "> 26 * 3600 or on (job) c_d unless e == 1"
    )
    assert metric_names(expr) == {"a_b", "c_d", "e"}
    assert label_names(expr) == {"velero_namespace", "job", "name"}


def _plans() -> list[Plan]:
    """Plans that leave every metric with samples: the example (a failed run) and a successful one."""
    world = healthy_world()
    drive(world, last_day=-2)
    return [make_plan(SnapshotSource(EXAMPLE), now=EXAMPLE_NOW), world.plan(-1)]


def test_dashboard_and_rules_query_only_what_the_job_pushes() -> None:
    """Every metric, label and action the dashboard and the rules name is one the job's pushes carry."""
    plans = _plans()
    pushes = [push_of(plan) for plan in plans]
    emitted = {family.name for plan in plans for family in build_registry(plan, duration_s=1).collect()}
    emitted |= set(PUSHGATEWAY_SERIES)
    sampled = {name for p in pushes for name, _ in p.samples}
    assert emitted == sampled  # each metric has samples in one of the plans, so each is tested below
    labels = {k for p in pushes for _, ls in p.samples for k, _ in ls}
    variables = [v["definition"] for v in _dashboard()["templating"]["list"] if v["type"] == "query"]
    selectors = [m.group(1) for v in variables if (m := re.fullmatch(r"label_values\((.+), (\w+)\)", v))]
    assert len(selectors) == len(variables) == 1
    exprs = _exprs() + [r["expr"] for r in RULES.values()] + selectors
    for expr in exprs:
        assert metric_names(expr) <= emitted, expr
        assert label_names(expr) <= labels, expr
    actions = {a for e in exprs for m in re.findall(r'action=~?"([^"]*)"', e) for a in m.split("|")}
    assert actions and actions <= {str(a) for a in Action}  # "restore" is "release" now


@needs_promtool
def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Each query, its Grafana variables filled in, passes promtool as the expression of a recording rule."""
    fill = {"$velero_namespace": ".*", "${velero_namespace}": ".*"}
    rules = []
    for i, query in enumerate(_exprs()):
        expr = query
        for var, value in fill.items():
            expr = expr.replace(var, value)
        assert "$" not in expr, query
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    result = run_promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_panels_are_complete_and_documented() -> None:
    """Unique ids, the datasource variable everywhere, and each panel described in the README."""
    dash = _dashboard()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    panels = dash["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert dash["uid"] == "full-backup-reconciler"
    for p in panels:
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
        assert f"**{p['title']}**" in readme, p["title"]
