"""A decided VM's storage against the TTL of the Schedule that runs next, and the plan's totals."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from reconciler.core.chain import Chain, compute_chain
from reconciler.core.cron import parse_cron
from reconciler.core.decide import ScheduleView, decide
from reconciler.core.model import DEFAULT_TTL, NO_INDEX, Policy
from reconciler.core.objects import parse_schedule, template_ttl
from reconciler.core.retention import retention, totals
from tests.builders import T0, bsl, index, linear, listing_for, schedule, vm

DAY = timedelta(days=1)
NOW = T0 + 10 * DAY + timedelta(hours=19)  # after ten nights: members finished T0+12m ... T0+9d+12m


def view(name: str, *, next_run_in: timedelta | None, ttl: timedelta | None) -> ScheduleView:
    sched = replace(schedule(name, last_backup=T0 + 10 * DAY), ttl=ttl)
    when = NOW + next_run_in if next_run_in is not None else None
    return ScheduleView(sched, parse_cron(sched.cron), when, Policy(interval=30), bsl())


def chain() -> Chain:
    cps = linear(9)  # 10 members of 100 bytes, one a day
    return compute_chain(index(*cps), listing_for(*cps))


def test_the_ttl_is_the_next_running_schedules() -> None:
    """Under two schedules, the one that runs next gives the TTL; a paused one is not considered."""
    views = (
        view("weekly", next_run_in=DAY, ttl=2 * DAY),
        view("nightly", next_run_in=timedelta(hours=6), ttl=5 * DAY),
        view("paused", next_run_in=None, ttl=timedelta(hours=1)),
    )
    found = retention(decide(vm(), views, chain(), now=NOW), now=NOW)
    assert found is not None and found.ttl == 5 * DAY
    # Cutoff NOW-5d = T0+5d+19h: members 0..5 finished before it, and newer ones still need them.
    assert found.past_ttl_bytes == 600


def test_an_unknown_ttl_leaves_only_the_ttl_figure_unknown() -> None:
    """An unparsable TTL: the other figures stand, past-TTL bytes are None and counted apart."""
    d = decide(vm(), (view("nightly", next_run_in=DAY, ttl=None),), chain(), now=NOW)
    found = retention(d, now=NOW)
    assert found is not None and (found.ttl, found.past_ttl_bytes) == (None, None)
    t = totals([d], now=NOW)
    assert (t.vms, t.past_ttl_unknown, t.past_ttl_bytes, t.chain_bytes) == (1, 1, 0, 1000)


def test_a_vm_without_figures_is_unknown_in_the_totals_not_zero() -> None:
    """No listing, no figures: the totals count the VM as unknown."""
    views = (view("nightly", next_run_in=DAY, ttl=DEFAULT_TTL),)
    d = decide(vm(), views, compute_chain(NO_INDEX), now=NOW)
    assert retention(d, now=NOW) is None
    assert (totals([d], now=NOW).vms, totals([d], now=NOW).unknown) == (0, 1)


def test_template_ttl_is_a_go_duration_with_velero_default() -> None:
    """Unset, empty or zero is 720h; Go durations parse; anything else is unknown."""
    assert template_ttl(None) == template_ttl("") == template_ttl("0s") == DEFAULT_TTL == timedelta(hours=720)
    assert template_ttl("72h0m0s") == 3 * DAY
    assert template_ttl("1h30m") == timedelta(minutes=90)
    assert template_ttl("7d") is None and template_ttl(7) is None


def test_parse_schedule_reads_the_template_ttl() -> None:
    """spec.template.ttl lands on the Schedule."""
    raw = {
        "metadata": {"namespace": "velero", "name": "n"},
        "spec": {"schedule": "@daily", "template": {"ttl": "168h"}},
    }
    assert parse_schedule(raw).ttl == 7 * DAY
    assert parse_schedule({"metadata": {"name": "m"}, "spec": {"schedule": "@daily"}}).ttl == DEFAULT_TTL
