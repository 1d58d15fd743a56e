"""The three measured runs of one size, each against the same endpoint and at the same concurrency.

(a) `run_plan`: the job's plan, production code over the stub cluster; (b) `run_heads`: a HEAD per
object, as the datamover controller checks a chain; (c) `run_floor`: only the requests (a) issued,
bare. Each returns its figures (wall seconds, requests by operation) and, for (a) and (b), the
chains it found, which `bench.check` compares.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import botocore.session
from botocore.exceptions import ClientError

from bench.cluster import CREDENTIALS, ENVIRON, VELERO_NS, StubKube, bsl_object
from bench.generate import FIRST_WINDOW, Spec
from reconciler.app import make_plan
from reconciler.core.chain import compute_chain, walk
from reconciler.core.index import parse_index
from reconciler.core.model import NO_INDEX, Index
from reconciler.core.objects import parse_bsl
from reconciler.sources.live import LiveSource, senders
from reconciler.sources.s3 import BucketReader, client_options

# --------------------------------------------------------------------------- the job's plan (a)


def run_plan(spec: Spec, url: str, concurrency: int) -> tuple[dict[str, Any], dict[tuple[str, str], Any]]:
    source = LiveSource(
        StubKube(spec, url),  # type: ignore[arg-type]
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
    bsl = parse_bsl(bsl_object(spec, url))
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
