"""Long work shows progress on a terminal, and nothing anywhere else; simulate warns of a scenario
that cannot mean what it seems to."""

from __future__ import annotations

import io
from pathlib import Path

from reconciler.cli import main
from reconciler.progress import Bar

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "snapshot"
NOW = "2026-11-24T20:00:00Z"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_when_stderr_is_not_a_terminal() -> None:
    err = io.StringIO()
    with Bar(err, label="work") as bar:
        bar(0, 10)
        bar(10, 10)
    assert err.getvalue() == ""


def test_a_bar_on_a_terminal() -> None:
    err = FakeTerminal()
    with Bar(err, label="work") as bar:
        bar(0, 10)
        bar(10, 10)
    assert "work" in err.getvalue() and "10/10" in err.getvalue()


def test_plan_draws_its_bar_on_a_terminal_only() -> None:
    """plan tells the bar of every VM chain read: drawn on a terminal's stderr, absent from a pipe's."""
    for err, drawn in [(FakeTerminal(), True), (io.StringIO(), False)]:
        out = io.StringIO()
        main(["plan", "--snapshot", str(EXAMPLE), "--now", NOW, "-o", "json"], environ={}, stdout=out, stderr=err)
        assert ("VM chains read" in err.getvalue()) is drawn
        assert "VM chains read" not in out.getvalue()


def simulate(*extra: str, stderr: io.StringIO | None = None) -> str:
    err = stderr or io.StringIO()
    code = main(["simulate", "--vms", "20", "--windows", "4", *extra], environ={}, stdout=io.StringIO(), stderr=err)
    assert code == 0
    return err.getvalue()


def test_simulate_draws_a_bar_on_a_terminal() -> None:
    err = FakeTerminal()
    simulate("--interval", "3", stderr=err)
    assert "windows simulated" in err.getvalue()


def test_simulate_warns_of_a_budget_below_the_load() -> None:
    """20 VMs, a full every 4 windows: 5 fulls a window at least; a budget of 2 cannot level that."""
    assert "budget-below-load" in simulate("--interval", "3", "--budget", "2")
    assert "budget-below-load" not in simulate("--interval", "3", "--budget", "5")


def test_simulate_warns_of_spread_windows_without_spread() -> None:
    assert "spread-windows-ignored" in simulate("--interval", "3", "--spread-windows", "3")
    assert "spread-windows-ignored" not in simulate("--interval", "3", "--spread-windows", "3", "--join", "spread")
