"""`python -m bench [--quick] [--vms N ...]`: the job's LIST-based plan against a HEAD-per-object verifier.

For each size, a synthetic bucket (`bench.generate`) is served by the in-memory S3 endpoint
(`bench.s3server`) in a process of its own, with a fixed latency injected into every request. One
worker process then runs, on that endpoint and in this order:

(a) the job's plan: `make_plan` over a `LiveSource` whose cluster is a stub (one policy Schedule,
    one BSL pointing at the endpoint, the VMs), so index GETs, the listing and the verification
    are the production code's;
(c) the floor: a bare loop issuing only the requests (a) issued (the index GETs and the listing
    pages), at the same concurrency, over plain keep-alive HTTP, reading every body and nothing
    more;
(b) a HEAD-per-object verifier, as the datamover controller checks a chain: per VM, the index
    GET (the job's reader), the parent walk, then one HeadObject per data file of every chain
    member through a plain botocore client, at the same concurrency.

(a) runs first in a fresh process so its peak RSS (`ru_maxrss`) is the plan's, never the
endpoint's (another process) or (b)'s. The chains of (a) and (b) are compared VM by VM, and
against what the generator planted.

(b) costs one GET and one HEAD per object for every VM, with nothing shared between VMs, so
above `--heads-max-vms` VMs it runs on that many (spread evenly over the bucket) and its
figures are scaled to the whole: a full run stays in minutes instead of half an hour.

The last line is `BENCH {json}`: the largest size's figures at the top level, every size's under
"runs".

This module is the command line; the rest, one job each: `cluster` (the stub cluster), `runs`
((a), (b) and (c)), `breakdown` ((a)'s steps timed alone), `check` ((a)'s chains against the
planted damage and (b)'s), `measure` (the endpoint and worker processes of one size) and
`report` (the figures and their printing).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
from datetime import UTC, datetime

from bench.generate import Spec
from bench.measure import measure
from bench.report import report, summarize, table

FULL_SIZES = (1000, 3000, 10000)
QUICK_SIZES = (200,)
QUICK_HEADS_MAX_VMS = 100
HEADS_MAX_VMS = 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help=f"one small size ({QUICK_SIZES[0]} VMs), under a minute")
    p.add_argument("--vms", type=int, nargs="+", help=f"sizes to run (default {' '.join(map(str, FULL_SIZES))})")
    p.add_argument("--checkpoints", type=int, default=30)
    p.add_argument("--disks", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=16, help="the job's default")
    p.add_argument("--latency-ms", type=float, default=3.0, help="injected per request (default 3)")
    p.add_argument(
        "--heads-max-vms",
        type=int,
        default=None,
        help=f"run (b) on at most this many VMs and scale its figures (default {HEADS_MAX_VMS}, "
        f"{QUICK_HEADS_MAX_VMS} with --quick; 0: all)",
    )
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    sizes = args.vms or (QUICK_SIZES if args.quick else FULL_SIZES)
    if args.heads_max_vms is None:
        args.heads_max_vms = QUICK_HEADS_MAX_VMS if args.quick else HEADS_MAX_VMS
    latency = args.latency_ms / 1000
    print(
        f"bench: {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}, Python {sys.version.split()[0]}, "
        f"{mp.cpu_count()} CPUs; endpoint: bench.s3server (in-memory, its own process), "
        f"{args.latency_ms:g} ms injected per request"
    )
    summaries = []
    for n in sizes:
        spec = Spec(vms=n, checkpoints=args.checkpoints, disks=args.disks, seed=args.seed)
        load = os.getloadavg()[0]
        result = measure(spec, latency_s=latency, concurrency=args.concurrency, heads_max_vms=args.heads_max_vms)
        result["load"] = (load, os.getloadavg()[0])
        s = summarize(result, latency, args.concurrency)
        report(result, s)
        summaries.append(s)
    table(summaries)
    last = dict(summaries[-1])
    last["runs"] = summaries
    print("BENCH " + json.dumps(last, separators=(",", ":")))
    return 0 if all(s["disagreements"] == 0 for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
