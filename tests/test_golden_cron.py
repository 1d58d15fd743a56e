"""The project's cron agrees with robfig/cron v3 itself, case by case.

tests/golden/cron.json was written once by the Go program in tests/golden/gen, which calls
robfig/cron v3.0.1 ``ParseStandard`` and ``Schedule.Next`` (what Velero runs); these tests read
it and never need Go. See tests/golden/README.md for how it was made.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.cron import CronError, CronNeverFiresError, parse_cron

GOLDEN: dict[str, Any] = json.loads((Path(__file__).parent / "golden" / "cron.json").read_text())
CASES: list[dict[str, Any]] = GOLDEN["cases"]
RUNS = [(case, run) for case in CASES if case["ok"] for run in case["runs"]]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def instant(value: dict[str, Any]) -> datetime:
    """A golden instant (Unix seconds and nanoseconds) as an aware UTC datetime."""
    return EPOCH + timedelta(seconds=value["unix"], microseconds=value["nanos"] // 1000)


def test_the_golden_data_is_there() -> None:
    """The data covers accepted and rejected specs, several zones, and runs that never fire."""
    assert GOLDEN["provenance"]["go"].startswith("go1.")
    assert sum(c["ok"] for c in CASES) >= 60
    assert sum(not c["ok"] for c in CASES) >= 25
    assert any(r["never"] for _, r in RUNS if "never" in r)
    assert sum(len(r["next"]) for _, r in RUNS) >= 700


@pytest.mark.parametrize("case", CASES, ids=[repr(c["spec"]) for c in CASES])
def test_parse_agrees_with_robfig(case: dict[str, Any]) -> None:
    """A spec robfig's ParseStandard accepts is accepted; one it rejects raises CronError."""
    if case["ok"]:
        parse_cron(case["spec"])
    else:
        with pytest.raises(CronError):
            parse_cron(case["spec"])


@pytest.mark.parametrize(("case", "run"), RUNS, ids=[f"{c['spec']!r} from {r['start']}" for c, r in RUNS])
def test_next_agrees_with_robfig(case: dict[str, Any], run: dict[str, Any]) -> None:
    """Next, applied again and again from the start, gives robfig's activations in order; where
    robfig returns its zero time (nothing within five years) the project raises
    CronNeverFiresError. Where robfig never returns at all (Pacific/Apia's skipped day), the
    project's search gives up with the same error instead of hanging Velero's way."""
    cron = parse_cron(case["spec"])
    t = datetime.fromisoformat(run["start"])
    for expected in run["next"]:
        t = cron.next_after(t)
        assert t == instant(expected)
    if run.get("never") or run.get("hang"):
        with pytest.raises(CronNeverFiresError):
            cron.next_after(t)
