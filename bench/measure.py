"""One size, measured: the endpoint in a process of its own, then one fresh worker process running (a), (c), (b).

`measure` starts both processes and returns the worker's figures. The worker is fresh so that
(a)'s peak RSS (`ru_maxrss`) is the plan's alone: never the endpoint's (another process) nor
(b)'s (run after it). The endpoint's own request and CPU counters are read between runs, so each
run's share of the endpoint's work is known.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import threading
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.breakdown import run_breakdown
from bench.check import check
from bench.cluster import bsl_object
from bench.generate import Spec, SyntheticBucket, vm_identity
from bench.runs import run_floor, run_heads, run_plan
from bench.s3server import S3Server, fetch_stats
from reconciler.core.objects import parse_bsl
from reconciler.sources.live import listing_plan


def endpoint(spec: Spec, latency_s: float, conn: Any) -> None:
    """The endpoint process: serves the synthetic bucket until told to stop."""
    bucket = SyntheticBucket(spec)
    bucket.warm()  # every folder built and packed before anything is timed
    server = S3Server({spec.bucket: bucket}, latency_s=latency_s)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.url)
    conn.recv()  # any message, or the parent going away, stops the endpoint
    server.stop()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_now_mb() -> float | None:
    """Resident memory right now (Linux), as opposed to the peak."""
    try:
        statm = Path("/proc/self/statm").read_text(encoding="ascii")
        return int(statm.split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return None


def _streams(spec: Spec, url: str, vms: list[tuple[str, str]], concurrency: int) -> int:
    """How many listings the job runs at once for these VMs."""
    return listing_plan(parse_bsl(bsl_object(spec, url)), vms, concurrency)[1]


def _timed(fn: Any, *args: Any) -> tuple[Any, ...]:
    """fn(*args), with the process's CPU seconds (every thread) added to its figures."""
    cpu = time.process_time()
    result = fn(*args)
    figures = result[0] if isinstance(result, tuple) else result
    figures["cpu_s"] = time.process_time() - cpu
    return result if isinstance(result, tuple) else (result,)


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The endpoint's work between two readings of its counters."""
    req = Counter(after["requests"])
    req.subtract(before["requests"])
    req.pop("stats", None)
    lists = Counter(after["lists"])
    lists.subtract(before["lists"])
    return {
        "requests": {k: v for k, v in req.items() if v},
        "lists": {k: v for k, v in lists.items() if v},
        "busy_s": after["busy_s"] - before["busy_s"],
        "cpu_s": after["cpu_s"] - before["cpu_s"],
    }


def worker(spec: Spec, url: str, concurrency: int, heads_max_vms: int, conn: Any) -> None:
    """The worker process: (a), (c) with exactly (a)'s requests, the breakdown, then (b)."""
    # Everything (a) runs is imported with this module (the process's target), before the baseline.
    base_rss = _rss_mb()
    out: dict[str, Any] = {"rss_base_mb": base_rss}
    s0 = fetch_stats(url)
    a, chains_a = _timed(run_plan, spec, url, concurrency)
    a["peak_rss_mb"] = _rss_mb()
    a["rss_after_mb"] = _rss_now_mb()  # the plan (every chain) still alive
    s1 = fetch_stats(url)
    requested = [(ns, name) for i in range(spec.vms) for ns, name, kind in [vm_identity(spec, i)] if kind != "orphan"]
    (c,) = _timed(
        run_floor,
        spec,
        url,
        concurrency,
        requested,
        _delta(s0, s1)["lists"],
        _streams(spec, url, requested, concurrency),
    )
    s2 = fetch_stats(url)
    out["breakdown"] = run_breakdown(spec, url, requested[:: max(1, len(requested) // 300)][:300])
    sample = requested
    if heads_max_vms and len(requested) > heads_max_vms:
        step = len(requested) / heads_max_vms
        sample = [requested[int(k * step)] for k in range(heads_max_vms)]
    b, chains_b = _timed(run_heads, spec, url, concurrency, sample)
    s3 = fetch_stats(url)
    scale = len(requested) / len(sample)
    b["sampled_vms"] = len(sample)
    b["scale"] = scale
    out.update(a=a, b=b, c=c, endpoint={"a": _delta(s0, s1), "c": _delta(s1, s2), "b": _delta(s2, s3)})
    out["check"] = check(spec, chains_a, chains_b)
    out["vms_requested"] = len(requested)
    conn.send(out)


def measure(spec: Spec, *, latency_s: float, concurrency: int, heads_max_vms: int) -> dict[str, Any]:
    # A spawned child finds its target by module and name: both targets live in this module, not
    # in `bench.__main__`, which `python -m bench` runs as `__main__` and no child can import.
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=endpoint, args=(spec, latency_s, child), daemon=True)
    server.start()
    url = parent.recv()
    try:
        got, sent = ctx.Pipe(duplex=False)
        process = ctx.Process(target=worker, args=(spec, url, concurrency, heads_max_vms, sent))
        process.start()
        result: dict[str, Any] = got.recv()
        process.join()
    finally:
        parent.send("stop")
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
    result["spec"] = asdict(spec)
    return result
