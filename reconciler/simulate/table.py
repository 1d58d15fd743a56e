"""The simulation as a person reads it (one row per window, a summary line per run) and as `-o json`."""

from __future__ import annotations

from typing import Any

from reconciler.core.policy import format_duration
from reconciler.core.timefmt import format_time
from reconciler.report import format_duration_short
from reconciler.simulate.scenario import Result, Scenario, policy_text


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _scenario_doc(s: Scenario) -> dict[str, Any]:
    return {
        "vms": s.vms,
        "schedule": s.schedule,
        "interval": s.interval,
        "maxAge": format_duration(s.max_age) if s.max_age is not None else None,
        "days": str(s.days) if s.days is not None else None,
        "maxGrowth": s.max_growth,
        "budget": s.budget,
        "windows": s.windows,
        "changeRate": s.change_rate,
        "diskBytes": s.disk_bytes,
        "join": s.join,
        "spreadWindows": s.spread_windows,
        "failRate": s.fail_rate,
        "seed": s.seed,
        "start": format_time(s.start),
        "ttl": format_duration(s.ttl),
    }


def result_doc(result: Result, baseline: Result | None = None, unbounded: Result | None = None) -> dict[str, Any]:
    """The `-o json` document; `without_budget` holds the same run without a budget, when one was set,
    and `without_policy` the same fleet with no policy at all: what the bucket would hold then."""
    doc: dict[str, Any] = {
        "scenario": _scenario_doc(result.scenario),
        "warmup_windows": result.warmup,
        "windows": [w.doc() for w in result.windows],
        **result.summary(),
    }
    if baseline is not None:
        doc["without_budget"] = {
            **baseline.summary(),
            "fulls": [w.fulls for w in baseline.windows],
            "max_chain_per_window": [w.max_chain for w in baseline.windows],
            "held_bytes_per_window": [w.held_bytes for w in baseline.windows],
        }
    if unbounded is not None:
        doc["without_policy"] = {
            **unbounded.summary(),
            "held_bytes_per_window": [w.held_bytes for w in unbounded.windows],
            "peak_held_saving_bytes": unbounded.peak_held_bytes - result.peak_held_bytes,
        }
    return doc


def render_table(result: Result, baseline: Result | None = None, unbounded: Result | None = None) -> str:
    s = result.scenario
    budget = f"budget {s.budget}" if s.budget is not None else "no budget"
    out = [
        f"{s.vms} VMs, schedule {s.schedule!r}, {policy_text(s) or 'no policy'}, {budget}, {s.windows} windows, "
        f"change rate {s.change_rate:g}/day, disk {_size(s.disk_bytes)}, TTL {format_duration(s.ttl)}",
        "",
    ]
    head = [
        "WINDOW",
        "TIME",
        "VMS",
        "FULLS",
        "STAGGERED",
        "FAILED",
        "WRITTEN",
        "LONGEST CHAIN",
        "OLDEST FULL",
        "WORST RESTORE",
        "HELD",
    ]
    if baseline is not None:
        head.append("FULLS W/O BUDGET")
    if unbounded is not None:
        head.append("HELD W/O POLICY")
    rows = [head]
    for i, w in enumerate(result.windows):
        row = [
            str(w.window),
            format_time(w.at) or "-",
            str(w.vms),
            str(w.fulls),
            str(w.staggered),
            str(w.failed),
            _size(w.bytes),
            str(w.max_chain),
            format_duration_short(w.max_age_s),
            _size(w.restore_bytes),
            _size(w.held_bytes),
        ]
        if baseline is not None:
            row.append(str(baseline.windows[i].fulls))
        if unbounded is not None:
            row.append(_size(unbounded.windows[i].held_bytes))
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out += ["  ".join(c.ljust(n) for c, n in zip(r, widths, strict=True)).rstrip() for r in rows]
    out += ["", _summary_line("with budget" if s.budget is not None else "result", result)]
    if baseline is not None:
        out.append(_summary_line("without budget", baseline))
    if unbounded is not None:
        saving = unbounded.peak_held_bytes - result.peak_held_bytes
        out.append(
            f"without policy: longest chain {unbounded.max_chain}; worst restore "
            f"{_size(unbounded.worst_restore_bytes)}; held peak {_size(unbounded.peak_held_bytes)}, "
            f"at the end {_size(unbounded.end_held_bytes)}; the policy holds {_size(abs(saving))} "
            f"{'less' if saving >= 0 else 'more'} at the peak"
        )
    return "\n".join(out) + "\n"


def _summary_line(label: str, r: Result) -> str:
    peak = r.peak_fulls_after_warmup
    load = (
        f"peak {peak} fulls per window from window {r.warmup} on"
        if peak is not None
        else f"no window after the warm-up of {r.warmup} windows"
    )
    return (
        f"{label}: {load}; "
        f"longest chain {r.max_chain}; oldest full {format_duration_short(r.max_age_s)}; "
        f"worst restore {_size(r.worst_restore_bytes)}; {r.total_fulls} fulls, {_size(r.total_bytes)} written; "
        f"held peak {_size(r.peak_held_bytes)}, at the end {_size(r.end_held_bytes)}"
    )
