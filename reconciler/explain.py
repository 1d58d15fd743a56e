"""`explain NAMESPACE/VM`: one VM's chain member by member, what restoring each costs, and the decision.

Renders what the application layer found; the decision is the whole plan's (`app.explain`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from reconciler.core.chain import Chain
from reconciler.core.decide import Decision
from reconciler.core.model import VM, Action
from reconciler.core.plan import Plan
from reconciler.core.timefmt import format_time
from reconciler.report import (
    controller_line,
    counted,
    decision_doc,
    format_duration_short,
    human_bytes,
    storage_doc,
)
from reconciler.textsafe import terminal_safe


@dataclass(frozen=True)
class Explanation:
    """One VM as the whole plan saw it: its decision, or None when no policy covers it."""

    vm: VM
    plan: Plan
    decision: Decision | None


def chain_rows(chain: Chain, now: datetime) -> list[str]:
    """One line per member, root first, with the cumulative cost of restoring up to it."""
    if not chain.has_members:
        # A compact chain keeps only its summary: say so rather than print a table without rows.
        root, latest = (c.id if c is not None else "-" for c in (chain.root, chain.latest))
        return [f"  members not kept (compact chain): root {root}, latest {latest}"]
    bad = {p.checkpoint for p in chain.problems}
    lines = [
        f"  {'#':>3}  {'CHECKPOINT':<28} {'TYPE':<12} {'FINISHED':<21} {'AGE':<8} "
        f"{'SIZE':>10} {'FILES':>5}  RESTORE COST (bytes, objects)"
    ]
    total_bytes = total_objects = 0
    for i, m in enumerate(chain.members):
        total_bytes += m.bytes
        total_objects += len(m.files)
        age = format_duration_short(int((now - m.timestamp).total_seconds())) if m.timestamp else "-"
        flag = "  <- damaged" if m.id in bad else ""
        lines.append(
            f"  {i:>3}  {m.id:<28} {m.type:<12} {format_time(m.timestamp) or '-':<21} {age:<8} "
            f"{human_bytes(m.bytes):>10} {len(m.files):>5}  "
            f"{human_bytes(total_bytes)}, {total_objects}{flag}"
        )
    return lines


def member_doc(chain: Chain) -> list[dict[str, Any]]:
    """Every kept member, root first, as the index records it."""
    bad = {p.checkpoint for p in chain.problems}
    return [
        {
            "id": m.id,
            "type": m.type,
            "parent": m.parent or None,
            "timestamp": format_time(m.timestamp),
            "bytes": m.bytes,
            "referencedBy": list(m.referenced_by),
            "damaged": m.id in bad,
            "files": [{"diskName": f.disk, "objectPath": f.object_path, "size": f.size} for f in m.files],
        }
        for m in chain.members
    ]


def storage_lines(d: Decision, *, now: datetime) -> list[str]:
    """Explain's storage section: the VM folder's figures, or why there are none."""
    doc = storage_doc(d, now=now)
    if doc is None:
        return ["Storage: unknown (the VM folder was not listed: no chain whose root is a full, or the listing failed)"]
    ttl = doc["ttl"]
    past = (
        f"{human_bytes(doc['pastTtlBytes'])} held past the TTL ({ttl}) by newer backups of the chain"
        if ttl is not None
        else "TTL unknown: bytes held past it not computed"
    )
    return [
        f"Storage: folder {human_bytes(doc['folderBytes'])}, current chain {human_bytes(doc['chainBytes'])}, "
        f"outside it {human_bytes(doc['outsideChainBytes'])}"
        + (" (partial: objects of unknown size count as 0)" if doc["partial"] else ""),
        f"  {past}",
        f"  leaked: {counted(doc['leakedObjects'], 'object')} ({human_bytes(doc['leakedBytes'])}) no index entry names;"
        f" {counted(doc['unreferencedCheckpoints'], 'checkpoint')} no backup references",
    ]


def _lines(lines: list[str]) -> str:
    """Each line escaped on its own: what came from the cluster cannot add lines or move the cursor."""
    return "".join(terminal_safe(line) + "\n" for line in lines)


def _uncovered(vm: VM) -> str:
    return _lines(
        [
            f"VirtualMachine {vm.ref}: no policy Schedule backs this VM up and the job has never "
            "managed it; nothing to decide."
        ]
    )


def _text(vm: VM, d: Decision, now: datetime) -> str:
    out = [
        f"VirtualMachine {vm.ref}: status {vm.printable_status or '-'}, changed-block tracking {vm.cbt_state or '-'}"
    ]
    for view in d.views:
        out.append(f"  schedule {view.ref}: next run {format_time(view.next_run) or 'paused'}")
    if not d.views:
        out.append("  no policy schedule backs this VM up")
    if d.bsl is not None:
        out.append(f"  index: s3://{d.bsl.bucket}/{d.bsl.index_key(vm.key)} (BSL {d.bsl.namespace}/{d.bsl.name})")
    chain = d.chain
    out.append(
        f"Chain: {chain.state}, {chain.length} member(s), {chain.incrementals} incremental(s), "
        f"{human_bytes(chain.bytes)}" + (f" — {chain.detail}" if chain.detail else "")
    )
    if chain.length:
        out += chain_rows(chain, now)
    for problem in chain.problems:
        out.append(f"  problem: {problem}")
    out += storage_lines(d, now=now)
    for warning in d.warnings:
        out.append(f"  warning ({warning.code}): {warning.text}")
    if chain.unrestorable:
        out.append(f"  backups that can no longer be restored: {', '.join(chain.unrestorable)}")
    out.append(controller_line(d.upstream))
    out.append(f"Decision: {d.action} ({', '.join(d.codes) or '-'}): {d.message}")
    patch = d.patch()
    out.append("Patch: " + (json.dumps(patch, separators=(",", ":")) if patch else "none (nothing to write)"))
    return _lines(out)


def render_explanation(found: Explanation, *, output: str = "text") -> tuple[str, bool]:
    """The text (or the plan's vms[] element plus the chain members), and whether it is not an error."""
    d = found.decision
    if output == "text":
        text = _uncovered(found.vm) if d is None else _text(found.vm, d, found.plan.now)
        return text, d is None or d.action is not Action.ERROR
    doc: dict[str, Any] | None = None
    if d is not None:
        doc = {**decision_doc(d, now=found.plan.now), "members": member_doc(d.chain)}
    text = (
        json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        if output == "json"
        else yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    )
    return text, d is None or d.action is not Action.ERROR
