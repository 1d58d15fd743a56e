"""Kubernetes Events as data (design 6): which decision deserves which Event, with what message."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.core import keys
from reconciler.core.decide import Decision, ScheduleView
from reconciler.core.model import Action, ChainState


@dataclass(frozen=True)
class EventSpec:
    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str
    type: str  # Normal | Warning
    reason: str
    message: str


def _on_vm(d: Decision, type_: str, reason: str, message: str) -> EventSpec:
    return EventSpec(
        "kubevirt.io/v1", "VirtualMachine", d.vm.namespace, d.vm.name, d.vm.uid, type_, reason, message[:1024]
    )


def vm_events(d: Decision) -> list[EventSpec]:
    """Events for one decision, and a size-mismatch warning beside it when the chain has one."""
    sizes = [w.text for w in d.warnings if w.code == "size-mismatch"]
    mismatch = (
        [
            _on_vm(
                d,
                "Warning",
                keys.EVENT_SIZE_MISMATCH,
                f"{len(sizes)} backup object(s) with another size in the bucket than in the index "
                "(the controller checks existence only, so no decision changes): " + "; ".join(sizes),
            )
        ]
        if sizes
        else []
    )
    return [*_decision_events(d), *mismatch]


def _decision_events(d: Decision) -> list[EventSpec]:
    """Forced/landed only when this run writes the change, so re-runs stay quiet."""
    writes = d.patch() is not None
    if d.action is Action.FORCE_FULL and writes:
        return [_on_vm(d, "Normal", keys.EVENT_FORCED, f"next backup will be full: {d.message}")]
    if d.action is Action.RELEASE and "landed" in d.codes:
        return [_on_vm(d, "Normal", keys.EVENT_LANDED, d.message)]
    if d.action is Action.FULL_ANYWAY and d.chain.state is ChainState.BROKEN:
        return [_on_vm(d, "Warning", keys.EVENT_BROKEN, d.message)]
    if d.action is Action.BLOCKED:
        return [_on_vm(d, "Warning", keys.EVENT_BLOCKED, d.message)]
    if d.action is Action.ERROR and "invalid-annotation" in d.codes:
        return [_on_vm(d, "Warning", keys.EVENT_INVALID_POLICY, d.message)]
    return []


def schedule_events(view: ScheduleView) -> list[EventSpec]:
    if not view.errors:
        return []
    s = view.schedule
    return [
        EventSpec(
            "velero.io/v1",
            "Schedule",
            s.namespace,
            s.name,
            s.uid,
            "Warning",
            keys.EVENT_INVALID_POLICY,
            "; ".join(view.errors)[:1024],
        )
    ]
