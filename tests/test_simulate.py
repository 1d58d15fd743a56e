"""`simulate`: the decisions and the controller model, window after window, and what they add up to."""

from __future__ import annotations

import argparse
import gc
import io
import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import UsageError
from reconciler.simulate import Scenario, add_parser, model, run


class _Ctx:
    def __init__(self) -> None:
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()


def simulate(*argv: str) -> tuple[int, str]:
    """`full-backup-reconciler simulate ARGV`, through the parser the CLI registers."""
    root = argparse.ArgumentParser(prog="full-backup-reconciler")
    add_parser(root.add_subparsers(dest="command", required=True))
    args = root.parse_args(["simulate", *argv])
    ctx = _Ctx()
    code = args.func(args, ctx)
    return code, ctx.stdout.getvalue()


def simulate_json(*argv: str) -> dict[str, Any]:
    code, out = simulate(*argv, "-o", "json")
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    return doc


@pytest.mark.slow
def test_300_vms_budget_42_levels_the_fulls() -> None:
    """300 VMs created the same day, nightly, interval 7, budget 42, 60 windows: from window 16 on no window
    has more than 42 fulls and no chain ever exceeds 8 members; without the budget, 300 every eighth window."""
    doc = simulate_json(
        "--vms", "300", "--schedule", "0 1 * * *", "--interval", "7", "--budget", "42", "--windows", "60"
    )
    windows = doc["windows"]
    assert len(windows) == 60 and doc["warmup_windows"] == 16
    assert max(w["fulls"] for w in windows[16:]) <= 42
    assert doc["peak_fulls_after_warmup"] <= 42
    assert max(w["max_chain"] for w in windows) <= 8 and doc["max_chain"] == 8
    assert doc["max_age_s"] == 7 * 86400
    # Levelled, not rotated: every window carries the average of 300 / 8, and every VM a full per cycle.
    assert {w["fulls"] for w in windows[16:]} == {37, 38}
    assert sum(w["fulls"] for w in windows[52:60]) == 300
    without = doc["without_budget"]
    assert without["fulls"] == [300 if t % 8 == 0 else 0 for t in range(60)]
    assert without["peak_fulls_after_warmup"] == 300 and without["max_chain"] == 8


def test_small_run_json_shape() -> None:
    """`-o json` has per-window fulls, bytes, max_chain, max_age_s and the run's peak, chain and age."""
    doc = simulate_json(
        "--vms", "6", "--interval", "2", "--windows", "9", "--disk-size", "10Gi", "--change-rate", "10%"
    )
    assert {"windows", "peak_fulls_after_warmup", "max_chain", "max_age_s"} <= doc.keys()
    assert "without_budget" not in doc
    first = doc["windows"][0]
    assert {"fulls", "bytes", "max_chain", "max_age_s", "at", "restore_bytes"} <= first.keys()
    # Window 0: every VM's first backup is a full (no index yet), 10 GiB each.
    assert first["fulls"] == 6 and first["bytes"] == 6 * 10 * 1024**3
    # Interval 2: full, two incrementals, full... so fulls in windows 0, 3, 6 and chains of at most 3.
    assert [w["fulls"] for w in doc["windows"]] == [6, 0, 0, 6, 0, 0, 6, 0, 0]
    # An incremental a day after the previous backup writes 10 % of the disk.
    assert doc["windows"][1]["bytes"] == 6 * 1024**3
    assert doc["max_chain"] == 3 and doc["max_age_s"] == 2 * 86400


def test_small_run_with_a_budget_staggers() -> None:
    """12 VMs, interval 3, budget 4: after two cycles every window carries the average, 3 fulls."""
    result = run(Scenario(vms=12, interval=3, budget=4, windows=24))
    assert result.warmup == 8
    assert [w.fulls for w in result.windows[:5]] == [12, 0, 4, 4, 4]  # the first cohort, spread
    assert [w.fulls for w in result.windows[8:]] == [3] * 16
    assert sum(w.staggered for w in result.windows) == 12 and result.max_chain == 4
    code, table = simulate("--vms", "12", "--interval", "3", "--budget", "4", "--windows", "24")
    assert code == 0
    assert "FULLS W/O BUDGET" in table
    assert "with budget: peak 3 fulls per window from window 8 on; longest chain 4" in table
    assert "without budget: peak 12 fulls per window from window 8 on; longest chain 4" in table


def test_a_budget_below_the_average_cannot_level() -> None:
    """Due fulls are never postponed: with 300 VMs on a cycle of 8 and a budget of 20, a peak remains."""
    result = run(Scenario(vms=300, interval=7, budget=20, windows=24))
    assert result.peak_fulls_after_warmup > 20 and result.max_chain == 8
    assert all(w.fulls <= 20 for w in result.windows[16:] if w.window % 8)


def test_age_policy_and_failed_backups() -> None:
    """Under max-age 3d a failed backup never lets a full be older than the policy plus the failed windows."""
    result = run(Scenario(vms=20, interval=None, max_age=timedelta(days=3), windows=20, fail_rate=0.1, seed=3))
    assert sum(w.failed for w in result.windows) > 0
    assert result.warmup == 6
    assert max(w.fulls for w in result.windows) == 20
    # Fulls are due when the last one is 3 days old; failures delay some by a window or two.
    assert 3 * 86400 <= result.max_age_s <= 6 * 86400


def test_vms_joining_spread_start_levelled() -> None:
    """VMs joining over one cycle bring their first fulls with them, so the load is level from the start."""
    result = run(Scenario(vms=80, interval=7, windows=24, join="spread"))
    assert [w.vms for w in result.windows[:9]] == [10, 20, 30, 40, 50, 60, 70, 80, 80]
    assert max(w.fulls for w in result.windows) == 10


def test_deterministic() -> None:
    """The same scenario gives the same figures (no clock, no randomness outside the seeded hash)."""
    scenario = Scenario(vms=15, interval=4, budget=4, windows=15, fail_rate=0.2)
    assert run(scenario) == run(scenario)


def test_plot_writes_a_png(tmp_path: Path) -> None:
    """--plot draws the two panels into a PNG file."""
    pytest.importorskip("matplotlib")
    target = tmp_path / "sim.png"
    code, _ = simulate("--vms", "10", "--interval", "2", "--budget", "2", "--windows", "12", "--plot", str(target))
    assert code == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_policy_is_required() -> None:
    """Without --interval or --max-age there is nothing to simulate: a usage error."""
    with pytest.raises(UsageError, match="needs a policy"):
        simulate("--vms", "3")


def test_bad_schedule_is_a_usage_error() -> None:
    """A schedule robfig would reject is reported as a usage error naming it."""
    with pytest.raises(UsageError, match="--schedule"):
        simulate("--interval", "3", "--schedule", "61 * * * *")


def test_a_run_shorter_than_the_warm_up_has_no_peak() -> None:
    """With no window after the warm-up there is no peak to report: null in JSON, said so in the table."""
    doc = simulate_json("--vms", "5", "--interval", "2", "--windows", "4")
    assert doc["peak_fulls_after_warmup"] is None and doc["warmup_windows"] == 6
    _, table = simulate("--vms", "5", "--interval", "2", "--windows", "4")
    assert "no window after the warm-up of 6 windows" in table


def test_plot_without_matplotlib_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without matplotlib, --plot is a usage error that names the package; nothing is drawn."""
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(UsageError, match="pip install matplotlib"):
        simulate("--vms", "2", "--interval", "2", "--windows", "2", "--plot", str(tmp_path / "x.png"))
    assert not (tmp_path / "x.png").exists()


def test_the_collector_is_left_alone_and_the_heap_stays_flat(monkeypatch: pytest.MonkeyPatch) -> None:
    """A simulation never switches the cyclic collector off or retunes it, and what it keeps per VM does
    not grow with the windows: as many live objects after window 40 as after window 10."""

    def refuse(*_args: object) -> None:
        raise AssertionError("simulate changed the process-wide collector")

    monkeypatch.setattr(gc, "disable", refuse)
    monkeypatch.setattr(gc, "set_threshold", refuse)
    monkeypatch.setattr(gc, "freeze", refuse)

    counts: dict[int, int] = {}
    real = model._World.window

    def counting(self: Any, t: int, *rest: Any) -> Any:
        out = real(self, t, *rest)
        if t in (10, 40):
            gc.collect()
            counts[t] = len(gc.get_objects())
        return out

    monkeypatch.setattr(model._World, "window", counting)
    run(Scenario(vms=200, interval=7, windows=41))
    # 30 windows of 200 VMs with the whole index history kept: 24,000 more containers at least.
    assert counts[40] - counts[10] < 2_000, counts
