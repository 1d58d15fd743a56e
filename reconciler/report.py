"""Plan -> the documented JSON/YAML document, or the table a person reads at 2 a.m."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import yaml

from reconciler import termtable
from reconciler.core.controller import Upstream
from reconciler.core.decide import Decision, ScheduleView
from reconciler.core.model import Policy
from reconciler.core.plan import Plan
from reconciler.core.policy import format_duration, format_growth
from reconciler.core.retention import Totals, retention, totals
from reconciler.core.timefmt import format_time
from reconciler.textsafe import terminal_safe


def _policy(policy: Policy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    return {
        "interval": policy.interval,
        "maxAge": format_duration(policy.max_age) if policy.max_age is not None else None,
        "maxPerRun": policy.max_per_run,
        "days": str(policy.days) if policy.days is not None else None,
        "maxGrowth": format_growth(policy.max_growth) if policy.max_growth is not None else None,
    }


def schedule_doc(view: ScheduleView) -> dict[str, Any]:
    return {
        "namespace": view.schedule.namespace,
        "name": view.schedule.name,
        "nextRun": format_time(view.next_run),
        "paused": view.schedule.paused,
        "policy": _policy(view.policy),
        "bsl": f"{view.bsl.namespace}/{view.bsl.name}" if view.bsl is not None else None,
        "errors": list(view.errors),
    }


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def go_duration_text(value: timedelta) -> str:
    """A TTL as Velero prints a metav1.Duration: `720h0m0s`, `1h30m0s` (whole seconds)."""
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{sign}{hours}h{rest // 60}m{rest % 60}s"


def storage_doc(d: Decision, *, now: datetime | None) -> dict[str, Any] | None:
    """The VM folder's figures (design 10); None where its folder was not listed.

    Without `now` (a caller that has no plan instant) the TTL figure is null.
    """
    found = retention(d, now=now) if now is not None else None
    storage = found.storage if found is not None else d.chain.storage
    if storage is None:
        return None
    ttl = found.ttl if found is not None else None
    return {
        "chainBytes": storage.chain_bytes,
        "folderBytes": storage.folder_bytes,
        "outsideChainBytes": storage.outside_bytes,
        "pastTtlBytes": found.past_ttl_bytes if found is not None else None,
        "ttl": go_duration_text(ttl) if ttl is not None else None,
        "leakedObjects": storage.leaked_objects,
        "leakedBytes": storage.leaked_bytes,
        "unreferencedCheckpoints": storage.unreferenced,
        "partial": storage.partial,
    }


def totals_doc(t: Totals) -> dict[str, Any]:
    """The plan's `summary.storage`: sums over the VMs with figures, and how many have none."""
    return {
        "vms": t.vms,
        "vmsWithoutFigures": t.unknown,
        "chainBytes": t.chain_bytes,
        "folderBytes": t.folder_bytes,
        "outsideChainBytes": t.outside_bytes,
        "pastTtlBytes": t.past_ttl_bytes,
        "vmsWithoutTtl": t.past_ttl_unknown,
        "leakedObjects": t.leaked_objects,
        "leakedBytes": t.leaked_bytes,
        "unreferencedCheckpoints": t.unreferenced,
        "partialVms": t.partial,
    }


def facts_doc(d: Decision) -> dict[str, Any]:
    """The decision's own numbers, first in the plan's `detail`: its chain, next run, limits, last full.

    Empty for a decision taken before the chain was read (a skip, an error, a give-back): it has
    no next run, and nothing was measured.
    """
    if d.next_run is None:
        return {}
    doc: dict[str, Any] = {
        "incrementals": d.chain.incrementals,
        "length": d.chain.length,
        "nextRun": format_time(d.next_run),
    }
    if d.policy is not None and d.policy.interval is not None:
        doc["limit"] = d.policy.interval
    if d.policy is not None and d.policy.max_age is not None:
        doc["maxAgeSeconds"] = int(d.policy.max_age.total_seconds())
    if d.last_full is not None:
        doc["lastFullAt"] = format_time(d.last_full.at)
        doc["lastFullWindow"] = format_time(d.last_full.window)
        doc["ageAtNextRunSeconds"] = int(d.last_full.age.total_seconds())
    return doc


def decision_doc(d: Decision, *, now: datetime | None = None) -> dict[str, Any]:
    chain = d.chain
    detail: dict[str, Any] = {"message": d.message, **facts_doc(d)}
    for reason in d.reasons:
        detail.update(reason.numbers)
    if d.bsl is not None:
        detail["bsl"] = f"{d.bsl.namespace}/{d.bsl.name}"
    detail["warnings"] = [w.doc() for w in d.warnings]
    detail["patch"] = d.patch()
    return {
        "namespace": d.vm.namespace,
        "name": d.vm.name,
        "schedules": list(d.schedules),
        "chain": {
            "state": str(chain.state),
            "incrementals": chain.incrementals,
            "length": chain.length,
            "latest": chain.latest.id if chain.latest else None,
            "root": chain.root.id if chain.root else None,
            "lastFullAt": format_time(chain.last_full_at),
            "bytes": chain.bytes,
        },
        "action": str(d.action),
        "reasons": list(d.codes),
        "detail": detail,
        "storage": storage_doc(d, now=now),
    }


def controller_doc(upstream: Upstream) -> dict[str, Any]:
    """What the plan knew of the controller: its global limit (null: unknown) and its trackers."""
    limit, trackers = upstream.limit, upstream.trackers
    return {
        "maxIncrementalBackups": limit.value,
        "source": limit.source,
        "note": limit.note or None,
        "trackers": {
            "source": trackers.source,
            "count": trackers.count if trackers.known else None,
            "note": trackers.note or None,
        },
    }


def plan_doc(plan: Plan) -> dict[str, Any]:
    return {
        "now": format_time(plan.now),
        "controller": controller_doc(plan.upstream),
        "schedules": [schedule_doc(v) for v in plan.schedules],
        "vms": [decision_doc(d, now=plan.now) for d in plan.decisions],
        # The contract puts the storage totals in the summary, beside the counts by action.
        "summary": {**plan.summary, "storage": totals_doc(totals(plan.decisions, now=plan.now))},
        "warnings": plan.warnings,
        "errors": list(plan.errors),
    }


def render_json(plan: Plan) -> str:
    return json.dumps(plan_doc(plan), indent=2, ensure_ascii=False) + "\n"


def render_yaml(plan: Plan) -> str:
    return yaml.safe_dump(plan_doc(plan), sort_keys=False, allow_unicode=True)


def _ago(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "-"
    seconds = int((now - then).total_seconds())
    if seconds < 0:
        return "in the future"
    return format_duration_short(seconds) + " ago"


def format_duration_short(seconds: int) -> str:
    """The two most significant units, for a table cell: `8d4h`, `3h12m`, `45s`."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts[:2]) or "0s"


def controller_line(upstream: Upstream) -> str:
    """The table's header line: the global limit the decisions used and where it came from."""
    limit, trackers = upstream.limit, upstream.trackers
    if limit.value is None:
        head = (
            f"Controller: --max-incremental-backups unknown ({limit.note or limit.source}): no baseline "
            "written where it would depend on it; only due fulls forced"
        )
    else:
        head = f"Controller: --max-incremental-backups={limit.value} ({limit.source})"
    tail = (
        f"trackers: {trackers.count} ({trackers.source})"
        if trackers.known
        else f"trackers: unknown ({trackers.note}): tracker check skipped"
    )
    return f"{head}; {tail}"


@dataclass(frozen=True)
class TableView:
    """How the table is shown; what is decided never depends on it."""

    width: int | None = None  # the terminal's columns: DETAIL is cut to fit (None: never cut)
    wide: bool = False  # DETAIL in full, NEXT RUN as a time
    headers: bool = True  # False: the VM rows alone, for scripts
    namespaces: tuple[str, ...] = ()  # only VMs in these namespaces (empty: all)
    actions: tuple[str, ...] = ()  # only VMs with these actions (empty: all)


def shown(plan: Plan, view: TableView) -> list[Decision]:
    """The decisions the filters let through, in the plan's order."""
    return [
        d
        for d in plan.decisions
        if (not view.namespaces or d.vm.namespace in view.namespaces)
        and (not view.actions or str(d.action) in view.actions)
    ]


def _until(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "-"
    seconds = int((then - now).total_seconds())
    return "now" if seconds <= 0 else "in " + format_duration_short(seconds)


def _problem(view: ScheduleView, error: str) -> str:
    """A Schedule's problem without the Schedule's name, which its row already shows."""
    for prefix in (f"{view.ref}: ", f"Schedule {view.ref}: "):
        if error.startswith(prefix):
            return error[len(prefix) :]
    return error


def _schedule_rows(plan: Plan, view: TableView) -> list[list[str]]:
    rows = [["SCHEDULE", "POLICY", "NEXT RUN", "BSL", "PROBLEM"]]
    for v in plan.schedules:
        pol = _policy(v.policy) or {}
        policy = ", ".join(f"{k}={val}" for k, val in pol.items() if val is not None) or "-"
        nxt = (
            "paused"
            if v.schedule.paused
            else (format_time(v.next_run) or "-" if view.wide else _until(plan.now, v.next_run))
        )
        bsl = f"{v.bsl.name}" if v.bsl else "-"
        rows.append([v.ref, policy, nxt, bsl, "; ".join(_problem(v, e) for e in v.errors) or "-"])
    return rows


def _vm_rows(plan: Plan, view: TableView) -> list[list[str]]:
    rows = [["VM", "ACTION", "REASONS", "INCR", "LAST FULL", "NEXT RUN", "DETAIL"]]
    for d in shown(plan, view):
        incr = "-"
        if d.chain.length:  # not `members`: a compact chain keeps none
            limit = d.policy.interval if d.policy and d.policy.interval else None
            incr = f"{d.chain.incrementals}/{limit}" if limit else str(d.chain.incrementals)
        warned = f" [warnings: {', '.join(dict.fromkeys(w.code for w in d.warnings))}]" if d.warnings else ""
        nxt = format_time(d.next_run) or "-" if view.wide else _until(plan.now, d.next_run)
        rows.append(
            [
                d.vm.ref,
                str(d.action),
                ",".join(d.codes) or "-",
                incr,
                _ago(plan.now, d.chain.last_full_at),
                nxt,
                d.message.removeprefix(f"{d.vm.ref}: ") + warned,
            ]
        )
    return rows


def errors_lines(plan: Plan) -> list[str]:
    """Every error of the plan, one a line: Schedules, VMs in error, objects that could not be read."""
    lines = [f"Schedule {v.ref}: {_problem(v, e)}" for v in plan.schedules for e in v.errors]
    lines += [
        f"VM {d.vm.ref}: {d.message.removeprefix(f'{d.vm.ref}: ')}" for d in plan.decisions if str(d.action) == "error"
    ]
    return lines + list(plan.errors)


def render_table(plan: Plan, view: TableView = TableView()) -> str:
    """The plan for a person: a header, the Schedules, the VMs, then footer lines (the summary, the
    errors). With `headers` off, the VM rows alone."""
    width = None if view.wide else view.width
    vm_rows = _vm_rows(plan, view)
    if not view.headers:
        lines = termtable.table(vm_rows, width=width)[1:]
        return "".join(line + "\n" for line in lines)
    out = [f"Plan as of {format_time(plan.now)}", *termtable.wrap(controller_line(plan.upstream), width), ""]
    if plan.schedules:
        out += [*termtable.table(_schedule_rows(plan, view), width=width), ""]
    else:
        out += ["No Velero Schedule carries a full-backup policy annotation.", ""]
    if len(vm_rows) > 1:
        lines = termtable.table(vm_rows, width=width)
        out += [*lines, ""]
        if not lines[0].endswith("DETAIL"):
            out += ["DETAIL needs a wider terminal: -o wide, or explain NAMESPACE/VM.", ""]
    elif plan.decisions:
        out += ["No VM matches --vm-namespace/--action.", ""]
    out += [wrapped for line in footer_lines(plan) for wrapped in termtable.wrap(line, width, indent="    ")]
    return "\n".join(out) + "\n"


def footer_lines(plan: Plan) -> list[str]:
    """What follows the tables: the summary, then the errors, a line each (wrapped to the terminal
    when printed). Another section (storage) appends its lines here."""
    summary = ", ".join(f"{n} {a}" for a, n in plan.summary.items()) or "nothing to decide"
    if plan.warnings:
        summary += "; warnings: " + ", ".join(f"{n} {code}" for code, n in plan.warnings.items())
    storage = storage_line(totals(plan.decisions, now=plan.now))
    lines = [*([storage] if storage else []), f"Summary: {summary}"]
    errors = errors_lines(plan)
    if errors:
        lines += ["", "Errors:", *(f"  {terminal_safe(e)}" for e in errors)]
    return lines


def render_names(plan: Plan, view: TableView = TableView()) -> str:
    """`-o name`: one NAMESPACE/NAME a line, what `explain` takes."""
    return "".join(terminal_safe(d.vm.ref) + "\n" for d in shown(plan, view))


def render(plan: Plan, output: str, view: TableView) -> str:
    """The plan in the chosen output. JSON and YAML are the whole plan, byte for byte the documented
    document: the filters and the width shape only what a person reads (table, wide, name)."""
    if output in ("table", "wide"):
        return render_table(plan, replace(view, wide=output == "wide"))
    if output == "name":
        return render_names(plan, view)
    return RENDERERS[output](plan)


def counted(n: int, what: str) -> str:
    """`1 VM`, `3 VMs`."""
    return f"{n} {what}" + ("" if n == 1 else "s")


def storage_line(t: Totals) -> str:
    """The table's storage footer: totals in human bytes; "" when no VM folder was listed."""
    if not t.vms:
        return ""
    ttl = f"held past TTL {human_bytes(t.past_ttl_bytes)}"
    if t.past_ttl_unknown:
        ttl += f" ({t.past_ttl_unknown} VM(s) without a known TTL)"
    parts = [
        f"chains {human_bytes(t.chain_bytes)}",
        f"folders {human_bytes(t.folder_bytes)}",
        f"outside the current chains {human_bytes(t.outside_bytes)}",
        ttl,
        f"leaked {counted(t.leaked_objects, 'object')} ({human_bytes(t.leaked_bytes)})",
        f"{counted(t.unreferenced, 'unreferenced checkpoint')}",
    ]
    line = f"Storage ({counted(t.vms, 'VM')} listed"
    line += f", {t.unknown} without figures): " if t.unknown else "): "
    line += ", ".join(parts)
    if t.partial:
        line += f"; partial for {counted(t.partial, 'VM')} (objects of unknown size count as 0)"
    return line


RENDERERS = {"json": render_json, "yaml": render_yaml}
OUTPUTS = ("table", "wide", "name", "json", "yaml")
