"""Send what the plan decided: merge patches guarded by resourceVersion, then Events.

Decides nothing itself: on a 409 it re-reads the VM and asks the core again with the same
schedules and chain, so a concurrent writer's change is never overwritten blindly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog

from reconciler.core.decide import Decision, decide
from reconciler.core.events import EventSpec, schedule_events, vm_events
from reconciler.core.model import VM, Action
from reconciler.core.objects import parse_vm
from reconciler.core.plan import Plan
from reconciler.core.reason import Reason
from reconciler.core.stagger import STAGGERED, pull_forward
from reconciler.core.timefmt import format_time
from reconciler.errors import ConflictError, NotFoundError, SourceError
from reconciler.sources.kube import Kube

COMPONENT = "full-backup-reconciler"
log = structlog.get_logger("reconciler.apply")
Writing = Callable[[str], AbstractContextManager[object]]  # marks one VM's writes as a unit (Ctrl-C held)


def unguarded(_what: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


@dataclass
class Tally:
    patches: int = 0
    conflicts: int = 0
    events: int = 0
    event_failures: int = 0


def event_body(event: EventSpec, *, now: datetime, serial: int) -> dict[str, Any]:
    stamp = format_time(now)
    return {
        "apiVersion": "v1",
        "kind": "Event",
        # Named like client-go's recorder: object name plus a unique hex suffix.
        "metadata": {"name": f"{event.name}.{int(now.timestamp() * 1e9) + serial:x}", "namespace": event.namespace},
        "involvedObject": {
            "apiVersion": event.api_version,
            "kind": event.kind,
            "name": event.name,
            "namespace": event.namespace,
            "uid": event.uid,
        },
        "type": event.type,
        "reason": event.reason,
        "message": event.message,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def _apply_one(d: Decision, kube: Kube, *, now: datetime, tally: Tally, max_conflicts: int) -> Decision:
    decision = d
    for attempt in range(max_conflicts + 1):
        body = decision.patch()
        if body is None:
            return decision
        try:
            kube.patch_vm(decision.vm.namespace, decision.vm.name, body)
        except ConflictError:
            tally.conflicts += 1
            if attempt == max_conflicts:
                break  # no re-read whose result would go unused
            log.info("conflict", vm=d.vm.ref, note="VM changed since it was read; deciding again")
            try:
                fresh = parse_vm(kube.get_vm(d.vm.namespace, d.vm.name))
            except NotFoundError:
                return replace(
                    decision,
                    action=Action.SKIP,
                    desired=None,
                    reasons=(Reason("vm-deleted", "the VM was deleted during the run"),),
                )
            except SourceError as exc:
                return _failed(decision, str(exc))
            decision = _decide_again(d, fresh, now=now)
            continue
        except NotFoundError:
            return replace(
                decision,
                action=Action.SKIP,
                desired=None,
                reasons=(Reason("vm-deleted", "the VM was deleted during the run"),),
            )
        except SourceError as exc:
            return _failed(decision, str(exc))
        tally.patches += 1
        log.info("patched", vm=d.vm.ref, action=str(decision.action), patch=body)
        return decision
    return _failed(decision, f"still conflicting after {max_conflicts} re-reads")


def _decide_again(before: Decision, fresh: VM, *, now: datetime) -> Decision:
    """The core's decision for the re-read VM; a full this plan pulled forward stays pulled."""
    decision = decide(fresh, before.views, before.chain, now=now, upstream=before.upstream, signal=before.signal)
    if STAGGERED in before.codes and decision.action is Action.KEEP:
        reason = before.reasons[0]
        decision = pull_forward(decision, now=now, numbers=reason.numbers, text=reason.text)
    return decision


def _failed(d: Decision, message: str) -> Decision:
    return replace(d, action=Action.ERROR, desired=None, reasons=(*d.reasons, Reason("api-error", message)))


def _emit(kube: Kube, event: EventSpec, *, now: datetime, tally: Tally) -> None:
    try:
        kube.create_event(event.namespace, event_body(event, now=now, serial=tally.events + tally.event_failures))
        tally.events += 1
    except SourceError as exc:  # an Event is a report, not state: warn and go on
        tally.event_failures += 1
        log.warning("event-failed", object=f"{event.namespace}/{event.name}", reason=event.reason, error=str(exc))


def apply_plan(plan: Plan, kube: Kube, *, max_conflicts: int = 3, writing: Writing = unguarded) -> tuple[Plan, Tally]:
    """Carry out every decision's patch, then emit Events; returns the plan as it was carried out.

    Each VM's patch and its Events are one unit under `writing`, and so is each Schedule Event:
    the CLI holds Ctrl-C until the unit is complete, so an interrupted run leaves every VM either
    written with its Events or untouched.
    """
    tally = Tally()
    done: list[Decision] = []
    try:
        for d in plan.decisions:
            with writing(f"VirtualMachine {d.vm.ref}"):
                final = _apply_one(d, kube, now=plan.now, tally=tally, max_conflicts=max_conflicts)
                if "api-error" not in final.codes:
                    for event in vm_events(final):  # `final` still holds the VM as read before its write
                        _emit(kube, event, now=plan.now, tally=tally)
                done.append(final)
        for view in plan.schedules:
            for event in schedule_events(view):
                with writing(f"an Event on Schedule {view.ref}"):
                    _emit(kube, event, now=plan.now, tally=tally)
    except KeyboardInterrupt:
        log.warning(
            "run-interrupted",
            vms_done=len(done),
            vms_left=len(plan.decisions) - len(done),
            patches=tally.patches,
            events=tally.events,
        )
        raise
    return replace(plan, decisions=tuple(done)), tally
