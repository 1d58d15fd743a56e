"""The figures of each size: `summarize` (the numbers, also the `BENCH` line's), `report` (the
block printed per size) and `table` (one line per size, at the end)."""

from __future__ import annotations

import os
from typing import Any

from bench.generate import Spec, vm_identity


def _objects(spec: Spec) -> int:
    """Objects in the bucket, from the generator's kinds (no folder is built)."""
    total = 0
    for i in range(spec.vms):
        kind = vm_identity(spec, i)[2]
        if kind == "absent":
            continue
        total += spec.checkpoints * (spec.disks + 2) + (0 if kind == "no-index" else 1) - (kind == "missing")
    return total


def _ops(requests: dict[str, int]) -> str:
    return " ".join(f"{k}={v:,}" for k, v in sorted(requests.items())) or "-"


def _per_vm(ms: dict[str, float], pages_per_vm: float) -> float:
    """A breakdown's milliseconds per VM: the listing's per page, times pages per VM."""
    return ms["get_ms"] + ms["parse_ms"] + ms["list_page_ms"] * pages_per_vm + ms["verify_ms"]


def summarize(r: dict[str, Any], latency_s: float, concurrency: int) -> dict[str, Any]:
    spec = Spec(**r["spec"])
    a, b, c = r["a"], r["b"], r["c"]
    scale = b["scale"]
    req_a = sum(a["requests"].values())
    req_b = round(sum(b["requests"].values()) * scale)
    sec_b = b["seconds"] * scale
    retained = (a["rss_after_mb"] or a["peak_rss_mb"]) - r["rss_base_mb"]
    return {
        "vms": spec.vms,
        "checkpoints": spec.checkpoints,
        "disks": spec.disks,
        "objects": _objects(spec),
        "requests_a": req_a,
        "requests_b": req_b,
        "requests_floor": sum(c["requests"].values()),
        "requests_a_by_op": a["requests"],
        "requests_b_by_op": {k: round(v * scale) for k, v in b["requests"].items()},
        "seconds_a": round(a["seconds"], 2),
        "seconds_b": round(sec_b, 2),
        "seconds_floor": round(c["seconds"], 2),
        "seconds_a_chains": round(a["seconds_chains"], 2),
        "cpu_s_a": round(a["cpu_s"], 2),
        "cpu_s_b": round(b["cpu_s"] * scale, 2),
        "cpu_s_floor": round(c["cpu_s"], 2),
        "peak_rss_mb_a": round(a["peak_rss_mb"], 1),
        "rss_base_mb": round(r["rss_base_mb"], 1),
        "rss_after_mb_a": round(a["rss_after_mb"] or 0, 1),
        "retained_kb_per_vm": round(retained * 1024 / max(1, r["vms_requested"]), 1),
        "ratio_requests_b_a": round(req_b / req_a, 1),
        "ratio_seconds_b_a": round(sec_b / a["seconds"], 1),
        "ratio_seconds_a_floor": round(a["seconds"] / c["seconds"], 2),
        "b_sampled_vms": b["sampled_vms"],
        "latency_ms": latency_s * 1000,
        "concurrency": concurrency,
        "endpoint_cpu_s_a": round(r["endpoint"]["a"]["cpu_s"], 2),
        "endpoint_cpu_s_floor": round(r["endpoint"]["c"]["cpu_s"], 2),
        "endpoint_cpu_s_b": round(r["endpoint"]["b"]["cpu_s"] * scale, 2),
        "disagreements": r["check"]["disagreement_count"],
        "load_average": [round(x, 2) for x in r["load"]],
        "cpu_ms_per_vm_a": round(a["cpu_s"] * 1000 / max(1, r["vms_requested"]), 2),
        "breakdown_ms": {k: round(v, 3) for k, v in r["breakdown"]["steps"].items()},
        "breakdown_gc_ms": {k: round(v, 3) for k, v in r["breakdown"]["gc"].items()},
        "pages_per_vm_a": round(a["requests"].get("ListObjectsV2", 0) / max(1, r["vms_requested"]), 4),
    }


def report(r: dict[str, Any], s: dict[str, Any]) -> None:
    b = r["b"]
    print(
        f"\n== {s['vms']:,} VMs x {s['checkpoints']} checkpoints x {s['disks']} disks = {s['objects']:,} objects; "
        f"{s['latency_ms']:g} ms injected per request; concurrency {s['concurrency']}"
    )
    print(
        f"  (machine load average {s['load_average'][0]:.1f} before, {s['load_average'][1]:.1f} after, "
        f"on {os.cpu_count()} CPUs)"
    )
    print(f"  {'':<27} {'wall s':>8} {'CPU s':>7} {'peak RSS':>9}  requests")
    rss = f"{s['peak_rss_mb_a']:.0f} MB"
    rows = [
        ("(a) plan, LIST-verified", s["seconds_a"], s["cpu_s_a"], rss, s["requests_a_by_op"]),
        ("(b) HEAD per object", s["seconds_b"], s["cpu_s_b"], "", s["requests_b_by_op"]),
        ("(c) floor, bare requests", s["seconds_floor"], s["cpu_s_floor"], "", r["c"]["requests"]),
    ]
    for name, sec, cpu, rss, ops in rows:
        print(f"  {name:<27} {sec:>8.2f} {cpu:>7.2f} {rss:>9}  {_ops(ops)}")
    if b["scale"] != 1:
        print(
            f"  (b) ran on {b['sampled_vms']:,} of the VMs (evenly spread); its figures are scaled by "
            f"{b['scale']:.2f}: it has no shared part, every VM costs one GET and one HEAD per object"
        )
    print(
        f"  (a) reading chains {s['seconds_a_chains']:.2f} s of {s['seconds_a']:.2f} s; "
        f"RSS {s['rss_base_mb']:.0f} MB before (interpreter, libraries), {s['peak_rss_mb_a']:.0f} MB peak, "
        f"{s['rss_after_mb_a']:.0f} MB after with the plan still held ({s['retained_kb_per_vm']:.0f} KiB per VM); "
        f"actions {r['a']['actions']}"
    )
    print(
        f"  endpoint process CPU: {s['endpoint_cpu_s_a']:.2f} s during (a), {s['endpoint_cpu_s_floor']:.2f} s "
        f"during (c), {s['endpoint_cpu_s_b']:.2f} s during (b)"
    )
    bd, gc = s["breakdown_ms"], s["breakdown_gc_ms"]
    pages = s["pages_per_vm_a"]
    print(
        f"  (a) CPU per VM {s['cpu_ms_per_vm_a']:.2f} ms; its steps one at a time: index GET {bd['get_ms']:.2f}, "
        f"parse {bd['parse_ms']:.2f}, listing {bd['list_page_ms']:.1f} per "
        f"page x {pages:.3f} pages = {bd['list_page_ms'] * pages:.2f}, "
        f"verification and compacting {bd['verify_ms']:.2f}: {_per_vm(bd, pages):.2f} ms; the rest: the plan "
        f"around it, threads, the collector, the endpoint on the other CPU"
    )
    print(
        f"  the cyclic collector during those steps, not counted in them: index GET {gc['get_ms']:.2f}, "
        f"parse {gc['parse_ms']:.2f}, listing {gc['list_page_ms']:.1f} per page, verification "
        f"{gc['verify_ms']:.2f}: {_per_vm(gc, pages):.2f} ms per VM"
    )
    print(
        f"  ratios: requests (b)/(a) {s['ratio_requests_b_a']:.1f}; time (b)/(a) {s['ratio_seconds_b_a']:.1f}; "
        f"(a)/(c) {s['ratio_seconds_a_floor']:.2f}"
    )
    chk = r["check"]
    print(f"  chains: {chk['states']}; disagreements with the planted damage or with (b): {chk['disagreement_count']}")
    for line in chk["disagreements"]:
        print(f"    {line}")


def table(summaries: list[dict[str, Any]]) -> None:
    """Every size on one line each."""
    print(
        f"\n  {'VMs':>6} {'objects':>10} {'req (a)':>8} {'req (b)':>8} {'s (a)':>7} {'s (b)':>8} {'s (c)':>6} "
        f"{'CPU (a)':>7} {'RSS (a)':>7}  {'b/a req':>7} {'b/a time':>8} {'a/c':>5}"
    )
    for s in summaries:
        print(
            f"  {s['vms']:>6,} {s['objects']:>10,} {s['requests_a']:>8,} {s['requests_b']:>8,} "
            f"{s['seconds_a']:>7.1f} {s['seconds_b']:>8.1f} {s['seconds_floor']:>6.1f} {s['cpu_s_a']:>7.1f} "
            f"{s['peak_rss_mb_a']:>7.0f}  "
            f"{s['ratio_requests_b_a']:>7.1f} {s['ratio_seconds_b_a']:>8.1f} {s['ratio_seconds_a_floor']:>5.2f}"
        )
