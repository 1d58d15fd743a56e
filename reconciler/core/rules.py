"""The policy rules (design 4): small pure functions returning a Reason with its numbers, or None.

Count: due once the chain has `interval` incrementals since its last full (the controller's own
rule). Age: due once, at the next run, the last full's window is at least max-age old; the facts
it weighs (`decision.LastFull`) are the decision's own, so the plan and the stagger projection read
the same.

Calendar and growth (design 4.2, 4.3) fire only on a chain with at least one incremental. A
chain whose head is a full already holds the newest full there is: its next backup builds on that
full, so neither the day nor the chain's growth asks for another one, and neither rule reports
`blocked`.

Calendar: a window falls on a day in the time zone of the schedule that takes the VM's next
backup (`CRON_TZ=`/`TZ=`, else UTC). At most one full per listed local day: a window is not due
when the last full's own window already fell on that same local day (a schedule that fires
hourly takes one full on a Saturday, not 24).

Growth: the bytes of the incrementals since the last full (`files[].size` of the members after
the root) against the root's bytes. A full of 0 bytes makes any incremental that carries a byte
due (the ratio is unbounded); incrementals of 0 bytes on it are not (nothing grew).
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from reconciler.core.calendar import WEEKDAYS
from reconciler.core.chain import Chain
from reconciler.core.cron import VeleroCron
from reconciler.core.decision import LastFull
from reconciler.core.model import Policy
from reconciler.core.policy import format_duration, format_growth
from reconciler.core.reason import Reason
from reconciler.core.timefmt import format_time


def count_rule(chain: Chain, policy: Policy) -> Reason | None:
    """Due once the chain has `interval` incrementals since its last full (the controller's rule)."""
    if policy.interval is None or chain.incrementals < policy.interval:
        return None
    return Reason(
        "count",
        f"{chain.incrementals} incrementals since the last full, interval {policy.interval}",
        {"incrementals": chain.incrementals, "limit": policy.interval},
    )


def age_rule(policy: Policy, last_full: LastFull | None) -> Reason | None:
    """Due if, at the next run, the last full's window is at least max-age old (inclusive).

    `last_full` None: the chain has no timed full, so its age is unknown and the rule fires.
    """
    if policy.max_age is None:
        return None
    max_age = format_duration(policy.max_age)
    limit = {"maxAgeSeconds": int(policy.max_age.total_seconds())}
    if last_full is None:
        return Reason("age", f"the last full has no timestamp; max-age {max_age}", limit)
    if last_full.age < policy.max_age:
        return None
    return Reason(
        "age",
        f"last full (window {format_time(last_full.window)}) will be "
        f"{format_duration(last_full.age)} old at the next run, max-age {max_age}",
        {
            "lastFullAt": format_time(last_full.at),
            "lastFullWindow": format_time(last_full.window),
            "ageAtNextRunSeconds": int(last_full.age.total_seconds()),
            **limit,
        },
    )


def calendar_due(policy: Policy, *, window: datetime, cron: VeleroCron, last_full_window: datetime | None) -> bool:
    """The window falls on a listed local day, and no earlier full's window fell on that same day."""
    if policy.days is None:
        return False
    day = cron.local_date(window)
    if day is None or not policy.days.falls_on(day):
        return False  # a day past 9999 is on no calendar
    return last_full_window is None or cron.local_date(last_full_window) != day


def calendar_rule(
    chain: Chain, policy: Policy, *, window: datetime, cron: VeleroCron, last_full_window: datetime | None
) -> Reason | None:
    """Due when the next run falls on a listed day in its schedule's zone and the chain has an incremental."""
    if policy.days is None or chain.incrementals < 1:
        return None
    if not calendar_due(policy, window=window, cron=cron, last_full_window=last_full_window):
        return None
    day = cron.local_date(window)
    assert day is not None  # calendar_due found it on a listed day
    weekday = WEEKDAYS[day.weekday()].capitalize()
    return Reason(
        "calendar",
        f"the next run {format_time(window)} falls on {weekday} {day.isoformat()} in {cron.location}, "
        f"a listed day ({policy.days})",
        {"windowDate": day.isoformat(), "windowWeekday": weekday, "days": str(policy.days), "timeZone": cron.location},
    )


def growth_ratio(chain: Chain) -> float | None:
    """Incremental bytes over the full's bytes; None for a full of 0 bytes (unbounded or undefined)."""
    return chain.incremental_bytes / chain.full_bytes if chain.full_bytes > 0 else None


def growth_rule(chain: Chain, policy: Policy) -> Reason | None:
    """Due once the incrementals since the last full weigh at least max-growth times that full."""
    g = policy.max_growth
    if g is None or chain.incrementals < 1:
        return None
    grown, full = chain.incremental_bytes, chain.full_bytes
    if full > 0:
        # Exact: 30% of 10 bytes is 3 bytes, where 0.3 * 10 in floats is a hair more.
        if grown < Fraction(repr(g)) * full:
            return None
    elif grown <= 0:
        return None
    ratio = growth_ratio(chain)
    share = "an empty full" if ratio is None else f"{format_growth(round(ratio, 4))} of the full's {full} bytes"
    return Reason(
        "growth",
        f"{chain.incrementals} incrementals since the last full add up to {grown} bytes, {share}; "
        f"max-growth {format_growth(g)}",
        {"incrementalBytes": grown, "fullBytes": full, "growthRatio": ratio, "maxGrowth": g},
    )


def within_policy(chain: Chain, policy: Policy, last_full: LastFull | None) -> Reason:
    """The `keep` reason: where the chain stands against each rule of its policy."""
    parts = []
    if policy.interval is not None:
        parts.append(f"{chain.incrementals}/{policy.interval} incrementals")
    if policy.max_age is not None and last_full is not None:
        age, max_age = format_duration(last_full.age), format_duration(policy.max_age)
        parts.append(f"last full {age} old at the next run, max-age {max_age}")
    if policy.days is not None:
        parts.append(f"next run not on a listed day ({policy.days}) or not due that day")
    if policy.max_growth is not None:
        ratio = growth_ratio(chain)
        grown = "no base to weigh" if ratio is None else f"{format_growth(round(ratio, 4))} of the full"
        parts.append(f"incrementals {grown}, max-growth {format_growth(policy.max_growth)}")
    return Reason("within-policy", ", ".join(parts) or "within policy")
