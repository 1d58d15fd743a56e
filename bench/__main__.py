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
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import multiprocessing as mp
import os
import re
import resource
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import botocore.session
from botocore.exceptions import ClientError

from bench.generate import FIRST_WINDOW, SCHEDULE, Spec, SyntheticBucket, build_folder, expected_state, vm_identity
from bench.s3server import S3Server, fetch_stats
from reconciler.app import make_plan
from reconciler.core.chain import Chain, compute_chain, walk
from reconciler.core.index import parse_index
from reconciler.core.model import NO_INDEX, Index
from reconciler.core.objects import parse_bsl
from reconciler.sources.live import LiveSource, group_listing, listing_plan, senders
from reconciler.sources.s3 import BucketReader, client_options

FULL_SIZES = (1000, 3000, 10000)
QUICK_SIZES = (200,)
QUICK_HEADS_MAX_VMS = 100
HEADS_MAX_VMS = 1000
CREDENTIALS = "[default]\naws_access_key_id = AKIABENCHBENCHBENCH0\naws_secret_access_key = bench/secret\n"
ENVIRON = {"AWS_EC2_METADATA_DISABLED": "true"}
VELERO_NS = "velero"
P = "kubevirt-datamover.io/"


# --------------------------------------------------------------------------- endpoint process


def _endpoint(spec: Spec, latency_s: float, conn: Any) -> None:

    bucket = SyntheticBucket(spec)
    bucket.warm()  # every folder built and packed before anything is timed
    server = S3Server({spec.bucket: bucket}, latency_s=latency_s)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn.send(server.url)
    conn.recv()  # any message, or the parent going away, stops the endpoint
    server.stop()


# --------------------------------------------------------------------------- the job's plan (a)


def _raw_objects(spec: Spec, url: str) -> list[dict[str, Any]]:
    meta = {"namespace": VELERO_NS, "uid": "uid", "resourceVersion": "1", "creationTimestamp": "2026-08-01T00:00:00Z"}
    bsl = {
        "apiVersion": "velero.io/v1",
        "kind": "BackupStorageLocation",
        "metadata": {**meta, "name": "default"},
        "spec": {
            "provider": "aws",
            "default": True,
            "objectStorage": {"bucket": spec.bucket, "prefix": spec.prefix},
            "config": {"region": "us-east-1", "s3Url": url, "s3ForcePathStyle": "true"},
            "credential": {"name": "cloud-credentials", "key": "cloud"},
        },
    }
    last = FIRST_WINDOW + timedelta(days=spec.checkpoints - 1)
    schedule = {
        "apiVersion": "velero.io/v1",
        "kind": "Schedule",
        "metadata": {
            **meta,
            "name": SCHEDULE,
            "annotations": {P + "force-full-backup-interval": "7", P + "force-full-backup-max-age": "7d"},
        },
        "spec": {
            "schedule": "0 1 * * *",
            "paused": False,
            "template": {"snapshotMoveData": True, "storageLocation": "default"},
        },
        "status": {"phase": "Enabled", "lastBackup": last.strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    return [schedule, bsl]


class _Kube:
    """The few reads LiveSource makes of the cluster; VMs are produced page by page, as listed."""

    def __init__(self, spec: Spec, url: str) -> None:
        self.spec, self.url = spec, url

    def list_velero(self, plural: str, namespace: str) -> Iterator[dict[str, Any]]:
        kind = {"schedules": "Schedule", "backupstoragelocations": "BackupStorageLocation"}[plural]
        yield from (o for o in _raw_objects(self.spec, self.url) if o["kind"] == kind)

    def list_vms(self, *, label_selector: str = "") -> Iterator[dict[str, Any]]:
        for i in range(self.spec.vms):
            ns, name, kind = vm_identity(self.spec, i)
            if kind == "orphan":
                continue
            yield {
                "apiVersion": "kubevirt.io/v1",
                "kind": "VirtualMachine",
                "metadata": {
                    "name": name,
                    "namespace": ns,
                    "uid": f"uid-{i}",
                    "resourceVersion": "5",
                    "labels": {"app": name.rsplit("-", 1)[0]},
                    "annotations": {},
                },
                "spec": {"runStrategy": "Always"},
                "status": {"printableStatus": "Running", "ready": True, "changedBlockTracking": {"state": "Enabled"}},
            }

    def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        return CREDENTIALS

    def get_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        """The controller as OADP deploys it, at its default global limit (0: unlimited)."""
        manager = {"name": "manager", "command": ["/manager"], "args": ["--leader-elect"]}
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"template": {"spec": {"containers": [manager]}}},
        }

    def list_trackers(self) -> Iterator[dict[str, Any]]:
        return iter(())


def run_plan(spec: Spec, url: str, concurrency: int) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:

    source = LiveSource(
        _Kube(spec, url),  # type: ignore[arg-type]
        velero_namespace=VELERO_NS,
        concurrency=concurrency,
        reader_factory=lambda bsl, creds: BucketReader(
            bsl, credentials=creds, environ=ENVIRON, max_connections=senders(concurrency)
        ),
    )
    chain_s = 0.0
    inner = source.chains

    def timed(bsl: Any, vms: Any) -> Any:
        nonlocal chain_s
        began = time.perf_counter()
        try:
            return inner(bsl, vms)
        finally:
            chain_s += time.perf_counter() - began

    source.chains = timed  # type: ignore[method-assign]
    now = FIRST_WINDOW + timedelta(days=spec.checkpoints - 1, hours=19)
    began = time.perf_counter()
    plan = make_plan(source, now=now)
    seconds = time.perf_counter() - began
    stats = source.s3_stats()
    source.close()
    chains = {d.vm.key: d.chain for d in plan.decisions}
    return {"seconds": seconds, "seconds_chains": chain_s, "requests": stats, "actions": dict(plan.summary)}, chains


# --------------------------------------------------------------------------- the floor (c)


_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
_TRUNCATED = re.compile(rb"<IsTruncated>true</IsTruncated>")


class _Http:
    """One keep-alive connection per thread."""

    def __init__(self, url: str) -> None:
        self.host = url.removeprefix("http://")
        self.local = threading.local()

    def get(self, path: str) -> bytes:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, timeout=60)
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.read()


def run_floor(
    spec: Spec, url: str, concurrency: int, vms: list[tuple[str, str]], lists: dict[str, int], streams: int
) -> dict[str, Any]:
    """The index GETs in a pool of `concurrency`; the listings (prefix -> pages, as (a) sent them) in
    `streams` threads, each following its continuation tokens."""
    http_ = _Http(url)
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    chains = iter(list(lists.items()))

    def get_index(vm: tuple[str, str]) -> None:
        http_.get(f"/{spec.bucket}/" + quote(f"{spec.root}checkpoints/{vm[0]}/{vm[1]}/index.json", safe="/~"))
        with lock:
            counts["GetObject"] += 1

    def listing() -> None:
        while True:
            with lock:
                prefix, pages = next(chains, ("", 0))
            if not pages:
                return
            token = b""
            for _ in range(pages):
                query = f"list-type=2&prefix={quote(prefix, safe='')}&max-keys=1000&encoding-type=url"
                if token:
                    query += "&continuation-token=" + quote(token.decode(), safe="")
                body = http_.get(f"/{spec.bucket}?{query}")
                with lock:
                    counts["ListObjectsV2"] += 1
                m = _TOKEN.search(body)
                if not _TRUNCATED.search(body) or m is None:
                    break
                token = m.group(1)

    began = time.perf_counter()
    listers = [threading.Thread(target=listing) for _ in range(streams)]
    for t in listers:
        t.start()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(get_index, vms))
    for t in listers:
        t.join()
    return {"seconds": time.perf_counter() - began, "requests": dict(counts)}


# --------------------------------------------------------------------------- HEAD per object (b)


def run_heads(
    spec: Spec, url: str, concurrency: int, vms: list[tuple[str, str]]
) -> tuple[dict[str, Any], dict[Any, Any]]:

    bsl = parse_bsl(_raw_objects(spec, url)[1])
    reader = BucketReader(bsl, credentials=CREDENTIALS, environ=ENVIRON)
    opts = client_options(bsl, environ=ENVIRON, ca_bundle_path=None)  # the reader's own settings
    client = botocore.session.Session().create_client(
        "s3",
        region_name=opts.region_name,
        endpoint_url=opts.endpoint_url,
        verify=opts.verify,
        config=opts.config,
        aws_access_key_id="AKIABENCHBENCHBENCH0",
        aws_secret_access_key="bench/secret",
    )
    heads = Counter[str]()
    lock = threading.Lock()
    root = bsl.datamover_prefix + "/"

    def one(vm: tuple[str, str]) -> Any:
        data = reader.get_index(vm)
        result = NO_INDEX if data is None else parse_index(data)
        if not isinstance(result, Index) or not result.checkpoints:
            return compute_chain(result)
        members, _, _ = walk(result.checkpoints)
        if not members[0].is_full:
            return compute_chain(result)
        seen: dict[str, int | None] = {}
        for m in members:
            for f in m.files:
                if not f.object_path:
                    continue
                try:
                    head = client.head_object(Bucket=bsl.bucket, Key=root + f.object_path)
                    seen[f.object_path] = head["ContentLength"]
                except ClientError as exc:
                    if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                        raise
                with lock:
                    heads["HeadObject"] += 1
        return compute_chain(result, seen)

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        chains = dict(zip(vms, pool.map(one, vms), strict=True))
    seconds = time.perf_counter() - began
    requests = {**reader.stats(), **heads}
    reader.close()
    client.close()
    return {"seconds": seconds, "requests": requests}, chains


# --------------------------------------------------------------------------- where (a)'s CPU goes


def run_breakdown(spec: Spec, url: str, vms: list[tuple[str, str]], pages: int = 40) -> dict[str, float]:
    """CPU milliseconds of each step of (a), one at a time in one thread, on a sample of VMs.

    The cyclic collector is off meanwhile: with (a)'s plan still in memory, its full collections
    would be charged to whichever step happens to trigger them.
    """
    gc.collect()
    gc.disable()
    try:
        return _breakdown(spec, url, vms, pages)
    finally:
        gc.enable()


def _breakdown(spec: Spec, url: str, vms: list[tuple[str, str]], pages: int) -> dict[str, float]:
    bsl = parse_bsl(_raw_objects(spec, url)[1])
    reader = BucketReader(bsl, credentials=CREDENTIALS, environ=ENVIRON)
    cpu = time.process_time
    t = cpu()
    docs = [(vm, reader.get_index(vm)) for vm in vms]
    get_ms = (cpu() - t) * 1000 / len(vms)
    t = cpu()
    parsed = [(vm, parse_index(d)) for vm, d in docs if d is not None]
    parse_ms = (cpu() - t) * 1000 / len(parsed)
    t = cpu()
    listed: dict[Any, Any] = {}
    for vm, listing in group_listing(reader.iter_objects("checkpoints/")):
        listed[vm] = listing
        if reader.stats().get("ListObjectsV2", 0) >= pages:
            break
    page_ms = (cpu() - t) * 1000 / reader.stats()["ListObjectsV2"]
    t = cpu()
    for vm, result in parsed:
        compute_chain(result, listed.get(vm, {})).compact()
    verify_ms = (cpu() - t) * 1000 / len(parsed)
    reader.close()
    return {"get_ms": get_ms, "parse_ms": parse_ms, "list_page_ms": page_ms, "verify_ms": verify_ms}


# --------------------------------------------------------------------------- one size


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _streams(spec: Spec, url: str, vms: list[tuple[str, str]], concurrency: int) -> int:
    """How many listings the job runs at once for these VMs."""

    return listing_plan(parse_bsl(_raw_objects(spec, url)[1]), vms, concurrency)[1]


def _rss_now_mb() -> float | None:
    """Resident memory right now (Linux), as opposed to the peak."""
    try:
        statm = Path("/proc/self/statm").read_text(encoding="ascii")
        return int(statm.split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return None


def _timed(fn: Any, *args: Any) -> tuple[Any, ...]:
    """fn(*args), with the process's CPU seconds (every thread) added to its figures."""
    cpu = time.process_time()
    result = fn(*args)
    figures = result[0] if isinstance(result, tuple) else result
    figures["cpu_s"] = time.process_time() - cpu
    return result if isinstance(result, tuple) else (result,)


def _worker(spec: Spec, url: str, concurrency: int, heads_max_vms: int, conn: Any) -> None:
    # Everything (a) runs is imported with this module, before the baseline.
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
    out["check"] = _check(spec, chains_a, chains_b)
    out["vms_requested"] = len(requested)
    conn.send(out)


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
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


def _unmeasured(chain: Chain) -> Chain:
    return replace(chain.compact(), storage=None)


def _check(spec: Spec, chains_a: dict[Any, Any], chains_b: dict[Any, Any]) -> dict[str, Any]:
    """(a) against the planted kinds, and against (b) where (b) ran."""
    wrong: list[str] = []
    states: Counter[str] = Counter()
    for i in range(spec.vms):
        ns, name, kind = vm_identity(spec, i)
        if kind == "orphan":
            continue
        chain = chains_a.get((ns, name))
        state = str(chain.state) if chain is not None else "missing from plan"
        states[state] += 1
        if state != expected_state(kind):
            wrong.append(f"{ns}/{name}: {kind} but {state}")
            continue
        if kind == "missing":
            damaged = build_folder(spec, i).damaged
            if not any(p.object_path == damaged and "missing" in p.problem for p in chain.problems):
                wrong.append(f"{ns}/{name}: problems {[str(p) for p in chain.problems]} do not name {damaged}")
        if kind == "size":
            damaged = build_folder(spec, i).damaged
            if not any(m.object_path == damaged for m in chain.mismatches):
                wrong.append(f"{ns}/{name}: size warnings {[str(m) for m in chain.mismatches]} do not name {damaged}")
        other = chains_b.get((ns, name))
        # The plan keeps compact chains (summary, root, latest, problems): compare those. Not their
        # storage: (b) sees only the chain's own objects, never the folder, so it has no folder figures.
        if other is not None and (other.state, other.problems, _unmeasured(other)) != (
            chain.state,
            chain.problems,
            _unmeasured(chain),
        ):
            wrong.append(f"{ns}/{name}: (a) {chain.state} {chain.problems} but (b) {other.state} {other.problems}")
    return {"states": dict(states), "disagreements": wrong[:10], "disagreement_count": len(wrong)}


def measure(spec: Spec, *, latency_s: float, concurrency: int, heads_max_vms: int) -> dict[str, Any]:
    # Spawned children find a target by module and name; `python -m bench` runs this file as
    # `__main__`, which a child cannot import, so the targets are taken from `bench.__main__`.
    import bench.__main__ as harness  # noqa: PLC0415, PLW0406 - see above

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    endpoint = ctx.Process(target=harness._endpoint, args=(spec, latency_s, child), daemon=True)
    endpoint.start()
    url = parent.recv()
    try:
        got, sent = ctx.Pipe(duplex=False)
        worker = ctx.Process(target=harness._worker, args=(spec, url, concurrency, heads_max_vms, sent))
        worker.start()
        result = got.recv()
        worker.join()
    finally:
        parent.send("stop")
        endpoint.join(timeout=10)
        if endpoint.is_alive():
            endpoint.terminate()
    result["spec"] = asdict(spec)
    return result


# --------------------------------------------------------------------------- report


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
        "breakdown_ms": {k: round(v, 3) for k, v in r["breakdown"].items()},
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
    bd = s["breakdown_ms"]
    steps = bd["get_ms"] + bd["parse_ms"] + bd["list_page_ms"] * s["pages_per_vm_a"] + bd["verify_ms"]
    print(
        f"  (a) CPU per VM {s['cpu_ms_per_vm_a']:.2f} ms; its steps one at a time: index GET {bd['get_ms']:.2f}, "
        f"parse {bd['parse_ms']:.2f}, listing {bd['list_page_ms']:.1f} per "
        f"page x {s['pages_per_vm_a']:.3f} pages = {bd['list_page_ms'] * s['pages_per_vm_a']:.2f}, "
        f"verification and compacting {bd['verify_ms']:.2f}: {steps:.2f} ms; the rest: the plan around it, "
        f"threads, GC, the endpoint on the other CPU"
    )
    print(
        f"  ratios: requests (b)/(a) {s['ratio_requests_b_a']:.1f}; time (b)/(a) {s['ratio_seconds_b_a']:.1f}; "
        f"(a)/(c) {s['ratio_seconds_a_floor']:.2f}"
    )
    chk = r["check"]
    print(f"  chains: {chk['states']}; disagreements with the planted damage or with (b): {chk['disagreement_count']}")
    for line in chk["disagreements"]:
        print(f"    {line}")


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
    last = dict(summaries[-1])
    last["runs"] = summaries
    print("BENCH " + json.dumps(last, separators=(",", ":")))
    return 0 if all(s["disagreements"] == 0 for s in summaries) else 1


if __name__ == "__main__":
    sys.exit(main())
