"""`explain NAMESPACE/VM`: one VM's chain member by member, what restoring each costs, and the decision."""

from __future__ import annotations

import json
from datetime import datetime

from reconciler.core.chain import Chain
from reconciler.core.model import Action, VMKey
from reconciler.core.plan import build_plan, needs_index, targets, view_schedules
from reconciler.core.timefmt import format_time
from reconciler.errors import UsageError
from reconciler.report import format_duration_short
from reconciler.sources.base import Source


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def chain_rows(chain: Chain, now: datetime) -> list[str]:
    """One line per member, root first, with the cumulative cost of restoring up to it."""
    if not chain.has_members:
        # A compact chain keeps only its summary: say so rather than print a table without rows.
        root, latest = (c.id if c is not None else "-" for c in (chain.root, chain.latest))
        return [f"  members not kept (compact chain): root {root}, latest {latest}"]
    bad = {p.checkpoint for p in chain.problems}
    lines = [f"  {'#':>3}  {'CHECKPOINT':<28} {'TYPE':<12} {'FINISHED':<21} {'AGE':<8} "
             f"{'SIZE':>10} {'FILES':>5}  RESTORE COST (bytes, objects)"]
    total_bytes = total_objects = 0
    for i, m in enumerate(chain.members):
        total_bytes += m.bytes
        total_objects += len(m.files)
        age = format_duration_short(int((now - m.timestamp).total_seconds())) if m.timestamp else "-"
        flag = "  <- damaged" if m.id in bad else ""
        lines.append(f"  {i:>3}  {m.id:<28} {m.type:<12} {format_time(m.timestamp) or '-':<21} {age:<8} "
                     f"{human_bytes(m.bytes):>10} {len(m.files):>5}  "
                     f"{human_bytes(total_bytes)}, {total_objects}{flag}")
    return lines


def explain_vm(source: Source, key: VMKey, *, now: datetime) -> tuple[str, bool]:
    world = source.load()
    views = view_schedules(world.schedules, world.bsls, now=now)
    vm = next((v for v in world.vms if v.key == key), None)
    if vm is None:
        raise UsageError(f"VirtualMachine {key[0]}/{key[1]} not found")
    covered = [(v, mine) for v, mine in targets(views, [vm])] or [(vm, ())]
    _, mine = covered[0]
    bsl = needs_index(vm, mine)
    chains = source.chains(bsl, [key]) if bsl is not None else {}
    plan = build_plan(now=now, views=views, covered=covered, chains=chains)
    d = plan.decisions[0]
    out = [f"VirtualMachine {vm.ref}: status {vm.printable_status or '-'}, "
           f"changed-block tracking {vm.cbt_state or '-'}"]
    for view in mine:
        out.append(f"  schedule {view.ref}: next run {format_time(view.next_run) or 'paused'}")
    if not mine:
        out.append("  no policy schedule backs this VM up")
    if bsl is not None:
        out.append(f"  index: s3://{bsl.bucket}/{bsl.index_key(key)} (BSL {bsl.namespace}/{bsl.name})")
    chain = d.chain
    out.append(f"Chain: {chain.state}, {chain.length} member(s), {chain.incrementals} incremental(s), "
               f"{human_bytes(chain.bytes)}" + (f" — {chain.detail}" if chain.detail else ""))
    if chain.length:
        out += chain_rows(chain, now)
    for problem in chain.problems:
        out.append(f"  problem: {problem}")
    if chain.unrestorable:
        out.append(f"  backups that can no longer be restored: {', '.join(chain.unrestorable)}")
    out.append(f"Decision: {d.action} ({', '.join(d.codes) or '-'}): {d.message}")
    patch = d.patch()
    out.append("Patch: " + (json.dumps(patch, separators=(",", ":")) if patch else "none (nothing to write)"))
    return "\n".join(out) + "\n", d.action is not Action.ERROR
