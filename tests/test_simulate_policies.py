"""`simulate` with the calendar and growth policies, and the storage the bucket holds under the TTL."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from datetime import timedelta
from typing import cast
from zoneinfo import ZoneInfo

import pytest

from reconciler.core.calendar import DAYS_HELP, parse_days
from reconciler.core.policy import GROWTH_HELP
from reconciler.errors import UsageError
from reconciler.simulate import Scenario, add_parser, compare, render_table, result_doc, run, scenario_from_args
from reconciler.simulate.scenario import GIB


def parse(*argv: str) -> argparse.Namespace:
    root = argparse.ArgumentParser(prog="full-backup-reconciler")
    add_parser(root.add_subparsers(dest="command", required=True))
    return root.parse_args(["simulate", *argv])


# --------------------------------------------------------------------------- options


def test_days_and_max_growth_take_the_annotation_values() -> None:
    """--days and --max-growth accept what the Schedule annotations accept, and reach the scenario."""
    s = scenario_from_args(parse("--days", "sat, Sunday,1-3,L", "--max-growth", "50%", "--ttl", "7d"))
    assert s.days == parse_days("Sat,Sun,1,2,3,L") and s.max_growth == 0.5 and s.ttl == timedelta(days=7)
    assert s.interval is None and s.max_age is None
    assert scenario_from_args(parse("--max-growth", "0.25")).max_growth == 0.25
    assert scenario_from_args(parse("--max-growth", "150%")).max_growth == 1.5
    # The TTL defaults to Velero's 720h.
    assert scenario_from_args(parse("--days", "Sun")).ttl == timedelta(hours=720)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--days", "Funday", DAYS_HELP),
        ("--days", "", DAYS_HELP),
        ("--days", "5-3", DAYS_HELP),
        ("--max-growth", "0", GROWTH_HELP),
        ("--max-growth", "-50%", GROWTH_HELP),
        ("--max-growth", "1e-1", GROWTH_HELP),
        ("--ttl", "forever", "not a duration"),
    ],
)
def test_bad_policy_values_are_usage_errors(
    capsys: pytest.CaptureFixture[str], option: str, value: str, expected: str
) -> None:
    """A value the annotation would reject stops the command with argparse's usual error (exit 2)."""
    with pytest.raises(SystemExit) as exc:
        parse(f"{option}={value}")  # one word, so that -50% is taken as a value
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: {value!r}: {expected}" in err, err


def test_a_policy_is_required_and_the_message_names_all_four() -> None:
    with pytest.raises(UsageError, match="--interval N, --max-age DURATION, --days DAYS and/or --max-growth SHARE"):
        scenario_from_args(parse("--vms", "3"))


# --------------------------------------------------------------------------- calendar and growth


def test_calendar_fulls_land_on_the_listed_local_days() -> None:
    """`Wed,Sat` on a schedule in New York's zone at 23:00: a full in every window whose New York date
    is a Wednesday or a Saturday (a Thursday or a Sunday in UTC), and in no other after the first."""
    zone = ZoneInfo("America/New_York")
    result = run(
        Scenario(
            vms=3, schedule="CRON_TZ=America/New_York 0 23 * * *", interval=None, days=parse_days("Wed,Sat"), windows=22
        )
    )
    listed = {w.window for w in result.windows if w.at.astimezone(zone).weekday() in (2, 5)}
    assert len(listed) == 7 and 0 in listed  # the first window falls on a Saturday in New York
    for w in result.windows[1:]:
        assert w.fulls == (3 if w.window in listed else 0), (w.window, w.at)
    # UTC says otherwise: none of these windows falls on a Wednesday or Saturday there.
    assert all(result.windows[t].at.weekday() not in (2, 5) for t in listed)


def _first_growth_full(change_rate: float) -> int:
    result = run(Scenario(vms=2, interval=None, max_growth=0.5, change_rate=change_rate, windows=40))
    return next(w.window for w in result.windows[1:] if w.fulls)


def test_growth_fulls_come_earlier_at_a_higher_change_rate() -> None:
    """max-growth 50 % on daily backups: the incrementals reach half the full after 0.5 / rate of them
    (their sizes are read back from the index the model writes), so the full is in the window after."""
    slow, fast = _first_growth_full(0.02), _first_growth_full(0.05)
    assert slow == math.ceil(0.5 / 0.02) + 1 == 26
    assert fast == math.ceil(0.5 / 0.05) + 1 == 11
    result = run(Scenario(vms=2, interval=None, max_growth=0.5, change_rate=0.05, windows=40))
    # Once due, again every 11 windows; the longest chain is the full and its 10 incrementals.
    assert [w.window for w in result.windows if w.fulls] == [0, 11, 22, 33]
    assert result.max_chain == 11


# --------------------------------------------------------------------------- storage held


def test_storage_held_on_a_small_case_by_hand() -> None:
    """2 VMs, 10 GiB disks, 10 %/day (1 GiB incrementals), interval 1, TTL 2 days, daily.

    Chains per VM: A = F0+I1, B = F2+I3, C = F4+I5 (11 GiB each once complete). A chain is held whole
    while its newest backup is at most the TTL old, measured as the window's uploads finish:
      window 0: F0                          10
      window 1: A                           11
      window 2: F2 + A (I1 is 1 day old)    21
      window 3: B + A (I1 is 2 days old)    22
      window 4: F4 + B (A's I1 expired)     21
      window 5: C + B                       22
    Without a policy a single chain grows by 1 GiB a day and is never let go: 10, 11, ... 15."""
    scenario = Scenario(vms=2, interval=1, windows=6, disk_bytes=10 * GIB, change_rate=0.1, ttl=timedelta(days=2))
    result, baseline, unbounded = compare(scenario)
    assert baseline is None and unbounded is not None
    assert [w.held_bytes for w in result.windows] == [2 * g * GIB for g in (10, 11, 21, 22, 21, 22)]
    assert [w.chain_bytes for w in result.windows] == [2 * g * GIB for g in (10, 11, 10, 11, 10, 11)]
    assert [w.held_bytes for w in unbounded.windows] == [2 * g * GIB for g in (10, 11, 12, 13, 14, 15)]
    assert result.peak_held_bytes == 44 * GIB and result.end_held_bytes == 44 * GIB
    doc = result_doc(result, baseline, unbounded)
    assert doc["peak_held_bytes"] == 44 * GIB and doc["windows"][2]["held_bytes"] == 42 * GIB
    assert doc["without_policy"]["held_bytes_per_window"][-1] == 30 * GIB
    assert doc["without_policy"]["peak_held_saving_bytes"] == (30 - 44) * GIB
    assert doc["scenario"]["ttl"] == "2d"
    table = render_table(result, baseline, unbounded)
    assert "HELD W/O POLICY" in table.splitlines()[2]
    assert "held peak 44.0 GiB, at the end 44.0 GiB" in table
    assert "without policy: longest chain 6; worst restore 15.0 GiB; held peak 30.0 GiB" in table
    assert "the policy holds 14.0 GiB more at the peak" in table
    json.dumps(doc)  # plain JSON types only


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(vms=5, interval=3, windows=30, ttl=timedelta(days=4)),
        Scenario(vms=5, interval=None, days=parse_days("Mon,Thu"), windows=30, ttl=timedelta(hours=36)),
        Scenario(vms=5, interval=None, max_growth=0.2, change_rate=0.05, windows=30, ttl=timedelta(days=1)),
        Scenario(vms=6, interval=2, budget=2, windows=30, join="spread", ttl=timedelta(days=5)),
    ],
    ids=["count", "calendar", "growth", "budget-spread"],
)
def test_storage_held_never_drops_below_the_current_chains(scenario: Scenario) -> None:
    """With every backup succeeding, each VM's newest backup is kept, so its whole chain is held."""
    result = run(scenario)
    for w in result.windows:
        assert w.chain_bytes <= w.held_bytes, w
        assert w.restore_bytes <= w.chain_bytes


def test_a_policy_holds_less_than_no_policy_over_a_long_run() -> None:
    """Without a policy the one chain never expires and grows by the daily change forever; with one,
    old chains expire a TTL after their last backup, so the held bytes level off and fall below."""
    _, _, unbounded = compare(Scenario(vms=3, interval=7, windows=120, ttl=timedelta(days=7)))
    result = run(Scenario(vms=3, interval=7, windows=120, ttl=timedelta(days=7)))
    assert unbounded is not None
    assert result.end_held_bytes < unbounded.end_held_bytes
    assert result.peak_held_bytes < unbounded.peak_held_bytes
    # Without a policy: 3 fulls of 50 GiB and 119 incrementals of 1 GiB each, all held at the end.
    assert unbounded.end_held_bytes == 3 * (50 + 119) * GIB
    assert unbounded.total_fulls == 3 and unbounded.max_chain == 120


def test_the_plot_draws_the_storage_held() -> None:
    """The third panel plots held bytes per window in TiB, with the policy and without it."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure  # noqa: PLC0415 - optional

    from reconciler.simulate import plot  # noqa: PLC0415

    result, baseline, unbounded = compare(Scenario(vms=4, interval=2, budget=2, windows=12, ttl=timedelta(days=3)))
    assert baseline is not None and unbounded is not None
    fig = Figure()
    plot._panels(fig, result, baseline, unbounded)
    held = fig.axes[2]
    lines = {line.get_label(): list(cast("Sequence[float]", line.get_ydata())) for line in held.get_lines()}
    tib = 1024 * GIB
    assert lines["held, budget 2"] == [w.held_bytes / tib for w in result.windows]
    assert lines["held, without budget"] == [w.held_bytes / tib for w in baseline.windows]
    assert lines["held, without policy"] == [w.held_bytes / tib for w in unbounded.windows]


def test_without_policy_the_vms_join_as_with_it() -> None:
    """VMs joining over one cycle of the policy join the same way in the run without it, which has no
    cycle of its own: the two runs compare the same fleet window by window."""
    result, _, unbounded = compare(Scenario(vms=16, interval=7, windows=10, join="spread"))
    assert unbounded is not None
    assert [w.vms for w in unbounded.windows] == [w.vms for w in result.windows] == [2, 4, 6, 8, 10, 12, 14, 16, 16, 16]
