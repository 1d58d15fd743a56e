"""The plan's `detail`: the decision's typed facts rendered as the documented camelCase keys, in order."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from reconciler.core.chain import Chain, compute_chain
from reconciler.core.cron import parse_cron
from reconciler.core.decide import Decision, ScheduleView, decide
from reconciler.core.decision import LastFull
from reconciler.core.model import Policy
from reconciler.report import decision_doc, facts_doc
from tests.builders import T0, bsl, index, linear, listing_for, schedule, vm

DAY = timedelta(days=1)
LAST = T0 + 10 * DAY  # the nightly schedule last ran here
NEXT = LAST + DAY  # so it runs next here, at 01:00
NOW = LAST + timedelta(hours=19)
# Every key the facts can render, in the plan's documented order (tests/golden/plan-example.json).
ORDER = (
    "incrementals",
    "length",
    "nextRun",
    "limit",
    "maxAgeSeconds",
    "lastFullAt",
    "lastFullWindow",
    "ageAtNextRunSeconds",
)


def view(policy: Policy, cron: str = "0 1 * * *") -> ScheduleView:
    return ScheduleView(schedule(cron=cron, last_backup=LAST), parse_cron(cron), NEXT, policy, bsl())


def chain_of(n_incrementals: int, *, start: datetime) -> Chain:
    cps = linear(n_incrementals, start=start)
    return compute_chain(index(*cps), listing_for(*cps))


def decided(policy: Policy, n_incrementals: int = 2, *, age_days: int = 3) -> Decision:
    """A VM whose last full ran 12 minutes into the window `age_days` before the next run."""
    return decide(vm(), [view(policy)], chain_of(n_incrementals, start=NEXT - age_days * DAY), now=NOW)


def test_facts_render_every_key_in_order() -> None:
    """Count and age policy, a timed full: all eight keys, with the values the typed facts hold."""
    d = decided(Policy(interval=7, max_age=7 * DAY))
    assert d.last_full == LastFull(NEXT - 3 * DAY + timedelta(minutes=12), NEXT - 3 * DAY, 3 * DAY)
    doc = facts_doc(d)
    assert list(doc) == list(ORDER)
    assert doc == {
        "incrementals": 2,
        "length": 3,
        "nextRun": "2026-11-12T01:00:00Z",
        "limit": 7,
        "maxAgeSeconds": 7 * 86400,
        "lastFullAt": "2026-11-09T01:12:00Z",
        "lastFullWindow": "2026-11-09T01:00:00Z",
        "ageAtNextRunSeconds": 3 * 86400,
    }


def test_detail_puts_the_facts_after_the_message_and_the_reasons_own_numbers_after_them() -> None:
    """A reason's numbers that repeat a fact keep the fact's place; its new ones follow; then bsl, warnings, patch."""
    d = decided(Policy(interval=2, max_age=7 * DAY))
    assert d.codes == ("count",)
    detail = decision_doc(d, now=NOW)["detail"]
    assert list(detail) == ["message", *ORDER, "bsl", "warnings", "patch"]
    assert detail["limit"] == 2 and detail["incrementals"] == 2


def test_a_decision_taken_before_the_chain_was_read_renders_no_facts() -> None:
    """A stopped VM is skipped without a next run: its detail is the message, warnings and patch alone."""
    d = decide(vm(status="Stopped"), [view(Policy(interval=7))], chain_of(2, start=LAST), now=NOW)
    assert facts_doc(d) == {}
    assert list(decision_doc(d)["detail"]) == ["message", "warnings", "patch"]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@given(
    interval=st.none() | st.integers(min_value=1, max_value=10),
    max_age_days=st.none() | st.integers(min_value=1, max_value=10),
    n_incrementals=st.integers(min_value=0, max_value=8),
    age_days=st.integers(min_value=0, max_value=12),
)
def test_facts_agree_with_each_other_and_with_the_policy(
    interval: int | None, max_age_days: int | None, n_incrementals: int, age_days: int
) -> None:
    """For any policy and chain: the keys come in the documented order, present exactly when their fact is,
    and the rendered age is the distance between the two rendered instants it is measured between."""
    max_age = None if max_age_days is None else max_age_days * DAY
    if interval is None and max_age is None:
        max_age = DAY  # a policy needs a rule; an empty one opts the VM out before any fact is measured
    d = decided(Policy(interval=interval, max_age=max_age), n_incrementals, age_days=age_days)
    doc = facts_doc(d)
    assert list(doc) == [k for k in ORDER if k in doc]
    assert ("limit" in doc) is (interval is not None) and doc.get("limit") == interval
    assert ("maxAgeSeconds" in doc) is (max_age is not None)
    assert (doc["incrementals"], doc["length"]) == (d.chain.incrementals, d.chain.length)
    assert _instant(doc["lastFullWindow"]) <= _instant(doc["lastFullAt"])
    age = _instant(doc["nextRun"]) - _instant(doc["lastFullWindow"])
    assert doc["ageAtNextRunSeconds"] == age.total_seconds() == age_days * 86400
