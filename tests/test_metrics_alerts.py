"""The gauges the alerts read: last success, each VM's count policy, and how long a forced full is pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.app import make_plan
from reconciler.core import keys
from reconciler.core.plan import Plan, view_schedules
from reconciler.metrics import WINDOWS_COUNTED, build_registry, windows_between
from reconciler.sources.snapshot import SnapshotSource
from tests.builders import T0, bsl, schedule
from tests.promworld import Machine, World, drive, run_time

DAY = timedelta(days=1)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "snapshot"
EXAMPLE_NOW = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)


def value(plan: Plan, metric: str, **labels: str) -> float | None:
    return build_registry(plan, duration_s=1).get_sample_value(f"full_backup_reconciler_{metric}", labels)


def stuck_world() -> World:
    """db-1's backups follow the job; stuck-1's controller takes incrementals whatever the job asks."""
    return World(
        Machine("db-1"),
        Machine("stuck-1", backups="ignored"),
        Machine("app-1", "dev", annotations={keys.INTERVAL: "3"}),
    )


def test_last_success_is_pushed_only_by_a_run_that_did_not_fail() -> None:
    """A failed run's push leaves it out, so the gateway's group loses the success time until the next one."""
    world = stuck_world()
    drive(world, last_day=-2)
    ok = world.plan(-1)
    assert not ok.failed and value(ok, "last_success_timestamp_seconds") == run_time(-1)
    failed = make_plan(SnapshotSource(EXAMPLE), now=EXAMPLE_NOW)
    assert failed.failed and value(failed, "last_success_timestamp_seconds") is None
    assert value(failed, "last_run_timestamp_seconds") == EXAMPLE_NOW.timestamp()


def test_policy_interval_is_the_vms_effective_count_policy() -> None:
    """The schedule's interval, or the VM's own override; absent where no chain was read or no interval is set."""
    world = stuck_world()
    drive(world, last_day=-2)
    plan = world.plan(-1)
    assert value(plan, "policy_interval", namespace="prod", name="db-1") == 7
    assert value(plan, "policy_interval", namespace="dev", name="app-1") == 3
    example = make_plan(SnapshotSource(EXAMPLE), now=EXAMPLE_NOW)
    assert value(example, "policy_interval", namespace="prod", name="db-1") == 7
    assert value(example, "policy_interval", namespace="prod", name="cache-1") is None  # skipped: not read
    assert value(example, "policy_interval", namespace="dev", name="dev-3") is None  # in error


def test_a_forced_full_carries_its_start_and_the_windows_since() -> None:
    """From the run that forces it: forcedAt, and one more window each night it does not land."""
    world = stuck_world()
    drive(world, last_day=-2)
    plans = {}
    for day in (-1, 0, 1):
        plans[day] = world.plan(day)
        world.back_up(day)
    forced = run_time(-1)
    for day, windows in ((-1, 0), (0, 1), (1, 2)):
        plan = plans[day]
        assert value(plan, "forced_since_timestamp_seconds", namespace="prod", name="stuck-1") == forced
        assert value(plan, "windows_since_forced", namespace="prod", name="stuck-1") == windows
    # db-1 was forced on day -1 too; its full landed in that window, so day 0 gives it back.
    assert value(plans[-1], "windows_since_forced", namespace="prod", name="db-1") == 0
    assert value(plans[0], "forced_since_timestamp_seconds", namespace="prod", name="db-1") is None
    assert value(plans[0], "windows_since_forced", namespace="prod", name="db-1") is None


def test_windows_are_counted_once_per_instant_and_up_to_the_cap() -> None:
    """Two schedules firing together are one window; a paused one has none; an hourly one stops at the cap."""
    now = T0 + 3 * DAY + timedelta(minutes=20)  # T0 is a 01:00 window; now is 01:20 three days on
    last = T0 + 3 * DAY
    policy = {keys.INTERVAL: "7"}

    def count(*crons: str, after: datetime = T0, paused: bool = False, last_backup: datetime = last) -> int:
        schedules = [
            schedule(f"s{i}", cron=c, annotations=policy, paused=paused, last_backup=last_backup)
            for i, c in enumerate(crons)
        ]
        return windows_between(view_schedules(schedules, [bsl()], now=now), after=after, until=now)

    assert count("0 1 * * *") == 3  # days 1, 2 and 3 at 01:00: T0 itself is not after T0
    assert count("0 1 * * *", "0 1 * * *") == 3
    assert count("0 1 * * *", "30 1 * * *") == 6  # and 01:30 on days 0, 1 and 2
    assert count("0 1 * * *", after=T0 - timedelta(seconds=1)) == 4
    assert count("0 1 * * *", after=now) == 0
    assert count("0 2 * * *", paused=True) == 0
    assert count("0 * * * *") == WINDOWS_COUNTED
    # @every: the grid anchored at the last backup, 00:55 on day 3: 00:55 and 12:55 back to day 0's 12:55.
    assert count("@every 12h", last_backup=last - timedelta(minutes=5)) == 6
