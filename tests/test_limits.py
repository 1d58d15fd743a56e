"""Oversized and slow inputs: a 50 MB index, a listing that never ends, a body that trickles.

A small hostile S3 endpoint generates these on the fly (nothing is buffered on its side, so the
memory measured is the job's): the index GET streams 50 MB with or without a Content-Length, or
trickles; the listing answers every page with IsTruncated and a fresh continuation token, either
replaying the same keys (an endpoint that ignores the token) or inventing new ones for ever, or a
page of a few hundred bytes that would expand to gigabytes (an entity-expansion bomb).
Each must end quickly with an error that names the limit, the VM in `error`, exit status 1,
and the job's memory bounded well below the input's size.
"""

from __future__ import annotations

import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest

from reconciler import inputs
from reconciler.core import keys
from reconciler.errors import SourceError, TransientError
from reconciler.sources.s3 import BucketReader
from tests.cluster import World, iso, schedule_object, vm_object
from tests.fakekube.server import FakeKubeServer
from tests.faultworld import messages, run
from tests.s3fixtures import CREDENTIALS, Seeder, bsl_for

MB = 1_000_000
INDEX = (
    b'{"vmName":"vm","namespace":"apps","checkpoints":[{"id":"c1","type":"Full",'
    b'"timestamp":"2026-03-08T01:12:00Z","files":[{"filename":"d.qcow2","diskName":"d","size":1,'
    b'"objectPath":"checkpoints/apps/vm/c1/d.qcow2"}]},{"id":"c2","type":"Incremental","parent":"c1",'
    b'"timestamp":"2026-03-09T01:12:00Z","files":[]}]}'
)
NOW = datetime.fromisoformat("2026-03-10T00:45:00+00:00")


class HostileS3(ThreadingHTTPServer):
    """index: "ok" | "huge" (50 MB, Content-Length) | "huge-chunked" (50 MB, no length) | "trickle";
    listing: "ok" | "replay" (same page, new token, for ever) | "endless" (new keys for ever) |
    "bomb" (a page whose nested entities expand to 10 GB)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.index = "ok"
        self.listing = "ok"
        self.index_bytes_sent = 0
        self.list_pages = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostileS3

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            if query.get("list-type") == "2":
                self._list(query)
            elif parts.path.endswith("/index.json"):
                self._index()
            else:
                self._send(404, b"<Error><Code>NoSuchKey</Code><Message>no</Message></Error>")
        except OSError:  # the client gave up: that is the point
            self.close_connection = True

    def _send(self, status: int, body: bytes, content_type: str = "application/xml") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _count(self, n: int) -> None:
        with self.server.lock:
            self.server.index_bytes_sent += n

    def _index(self) -> None:
        mode = self.server.index
        if mode == "ok":
            self._send(200, INDEX, "application/json")
            return
        block = b'{"x":[' + b"0," * 32_000  # 64 KB of a JSON document that never closes
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if mode == "huge":
            self.send_header("Content-Length", str(50 * MB))
            self.end_headers()
            for _ in range(50 * MB // len(block)):
                self.wfile.write(block)
                self._count(len(block))
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        while sent < 50 * MB:
            part = block if mode == "huge-chunked" else b"0," * 512
            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.flush()
            sent += len(part)
            self._count(len(part))
            if mode == "trickle":
                time.sleep(0.02)  # about 50 KB/s: every read gets data long before any read timeout
        self.wfile.write(b"0\r\n\r\n")

    def _list(self, query: dict[str, str]) -> None:
        prefix = query.get("prefix", "")
        token = query.get("continuation-token")
        with self.server.lock:
            self.server.list_pages += 1
            page = self.server.list_pages
        if self.server.listing == "bomb":
            entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
            self._send(
                200,
                (
                    '<?xml version="1.0"?><!DOCTYPE ListBucketResult [<!ENTITY e0 "0123456789">'
                    f'{entities}]><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                    f"<IsTruncated>false</IsTruncated><Contents><Key>{escape(prefix)}&e9;</Key>"
                    "<Size>1</Size></Contents></ListBucketResult>"
                ).encode(),
            )
            return
        if self.server.listing == "ok":
            keys_ = [f"{prefix}c1/d.qcow2"]
            truncated = False
        else:
            start = 0 if self.server.listing == "replay" or token is None else int(token.split("-")[1])
            keys_ = [f"{prefix}c1/{start + i:012d}.qcow2" for i in range(1000)]
            truncated = True
        contents = "".join(
            f"<Contents><Key>{escape(k)}</Key><LastModified>2026-03-01T00:00:00.000Z</LastModified>"
            f'<ETag>"e"</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>'
            for k in keys_
        )
        next_token = (
            f"<NextContinuationToken>t-{(int(token.split('-')[1]) if token else 0) + 1000}-{page}"
            "</NextContinuationToken>"
            if truncated
            else ""
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>backups</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>{len(keys_)}</KeyCount>"
            f"<MaxKeys>1000</MaxKeys><IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
            f"{next_token}{contents}</ListBucketResult>"
        ).encode()
        self._send(200, body)


@pytest.fixture
def hostile() -> Iterator[HostileS3]:
    server = HostileS3()
    server.thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, hostile: HostileS3, tmp_path: Path) -> World:
    """One VM under an interval-1 policy; its bucket is the hostile endpoint."""
    w = World(fake_kube, s3_seed, hostile.url, tmp_path)
    w.kube.seed(schedule_object("nightly", {keys.INTERVAL: "1"}, last_backup=iso(NOW.replace(hour=0, minute=0))))
    w.kube.seed(vm_object("vm"))
    if not _WARMED:
        # The first plan in a process also loads what every later one reuses (botocore's service
        # model and endpoint rules: ~35 MB at their peak, seconds under tracemalloc); measured, it
        # would fail the memory bounds of whichever of these tests a worker happens to run first.
        # The hostile endpoint serves an ordinary index until a test asks for otherwise.
        code, _, err = run(w, "plan", now=NOW)
        assert code == 0, err
        w.kube.clear_requests()
        with hostile.lock:
            hostile.index_bytes_sent = hostile.list_pages = 0
        _WARMED.append(True)
    return w


_WARMED: list[bool] = []  # per process: each xdist worker warms up once


def measured(world: World) -> tuple[int, dict[str, Any] | None, float, int]:
    """A plan under tracemalloc: exit status, plan, seconds, peak bytes allocated by Python."""
    tracemalloc.start()
    start = time.monotonic()
    try:
        code, plan, _ = run(world, "plan", now=NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return code, plan, time.monotonic() - start, peak


def test_sanity_the_hostile_endpoint_serves_a_plan(world: World, hostile: HostileS3) -> None:
    code, plan, _ = run(world, "plan", now=NOW)
    assert code == 0 and plan is not None
    assert [v["action"] for v in plan["vms"]] == ["force-full"]


def test_index_of_50_mb_is_refused_from_its_length(world: World, hostile: HostileS3) -> None:
    """Content-Length 50 MB: refused before the body is read; the error names the size and the limit."""
    hostile.index = "huge"
    code, plan, seconds, peak = measured(world)
    print(
        f"LIMITS 50 MB index (Content-Length): exit {code}, {seconds:.1f}s, peak {peak / MB:.1f} MB, "
        f"server sent {hostile.index_bytes_sent / MB:.1f} MB before the client hung up"
    )
    assert code == 1
    assert "is 50000000 bytes; the limit for an index is 16777216 bytes" in messages(plan)["vm"]
    # The client hung up at once: the server got no further than the socket buffers took, far
    # short of the 16 MiB a read up to the limit would have taken.
    assert hostile.index_bytes_sent < 16 * MB and peak < 20 * MB


def test_index_of_50_mb_without_length_stops_at_the_limit(world: World, hostile: HostileS3) -> None:
    """No Content-Length (chunked): read up to the 16 MiB limit and no further."""
    hostile.index = "huge-chunked"
    code, plan, seconds, peak = measured(world)
    print(f"LIMITS 50 MB index (chunked): exit {code}, {seconds:.1f}s, peak {peak / MB:.1f} MB")
    assert code == 1
    assert "the limit for an index is 16777216 bytes" in messages(plan)["vm"]
    # The client hung up at the limit: the server never got to the end of its 50 MB.
    assert hostile.index_bytes_sent < 50 * MB and peak < 40 * MB


def test_listing_that_replays_its_page_for_ever(world: World, hostile: HostileS3) -> None:
    """An endpoint that ignores the continuation token and sends page one again with a new token:
    stopped at the first repeat, not after millions of keys."""
    hostile.listing = "replay"
    code, plan, seconds, peak = measured(world)
    print(
        f"LIMITS listing replaying page one: exit {code}, {hostile.list_pages} pages, {seconds:.1f}s, "
        f"peak {peak / MB:.1f} MB"
    )
    assert code == 1
    assert "the server sent the same page twice; the listing would never end" in messages(plan)["vm"]
    assert hostile.list_pages == 2


def test_listing_of_new_keys_for_ever_stops_at_the_key_limit(
    world: World, hostile: HostileS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint that invents new keys for ever: the listing stops at the configured key limit
    (here 3,000 instead of the CLI's 50 million, to keep the test short) with an error."""
    hostile.listing = "endless"
    monkeypatch.setattr(inputs, "MAX_LISTED_KEYS", 3_000)
    code, plan, seconds, peak = measured(world)
    print(f"LIMITS endless listing: exit {code}, {hostile.list_pages} pages, {seconds:.1f}s, peak {peak / MB:.1f} MB")
    assert code == 1
    assert "more than 3000 objects; refusing to list further" in messages(plan)["vm"]
    assert hostile.list_pages == 4


def test_listing_page_with_an_entity_bomb_is_a_failed_listing(world: World, hostile: HostileS3) -> None:
    """A page whose entities would expand to 10 GB is refused unexpanded, once (not retried): the
    VM's listing failed, the error says why, and the job's memory stays small."""
    hostile.listing = "bomb"
    code, plan, _, peak = measured(world)
    print(f"LIMITS entity-bomb listing page: exit {code}, {hostile.list_pages} pages, peak {peak / MB:.1f} MB")
    assert code == 1
    assert "the answer is not a ListObjectsV2 page: it declares a DTD" in messages(plan)["vm"]
    assert hostile.list_pages == 1 and peak < 20 * MB


def test_index_that_trickles_in_is_bounded_by_the_deadline(hostile: HostileS3) -> None:
    """A body that keeps arriving a little at a time never trips the read timeout; the request's
    deadline ends it all the same."""
    hostile.index = "trickle"
    reader = BucketReader(
        bsl_for("backups", "", hostile.url),
        credentials=CREDENTIALS,
        environ={"AWS_EC2_METADATA_DISABLED": "true"},
        sleep=lambda _s: None,
        deadline_s=1.0,
        read_timeout_s=5.0,
    )
    start = time.monotonic()
    try:
        with pytest.raises(TransientError, match="still not the whole body; the deadline is 1s") as info:
            reader.get_index(("apps", "vm"))
    finally:
        reader.close()
    elapsed = time.monotonic() - start
    print(f"LIMITS trickling index: gave up after {elapsed:.1f}s with {hostile.index_bytes_sent} bytes received")
    assert isinstance(info.value, SourceError)
    # The deadline, not the end of the body or the 16 MiB limit, ended the read: at most 50 KB/s
    # arrive, and the reader gave up long before a megabyte had come.
    assert hostile.index_bytes_sent < MB


def test_endless_listing_of_one_vm_folder_is_bounded(hostile: HostileS3) -> None:
    """However large the overall key limit, one VM's folder may hold only so many keys (here 2,500;
    100,000 by default): the job keeps one folder's keys in memory at a time."""
    hostile.listing = "endless"
    reader = BucketReader(
        bsl_for("backups", "", hostile.url),
        credentials=CREDENTIALS,
        environ={"AWS_EC2_METADATA_DISABLED": "true"},
        sleep=lambda _s: None,
        max_keys=50_000_000,
        max_keys_per_vm=2_500,
    )
    try:
        with pytest.raises(SourceError, match=r"more than 2500 objects under kubevirt-datamover/checkpoints/apps/vm/"):
            dict(reader.iter_objects("checkpoints/apps/vm/"))
    finally:
        reader.close()
    assert hostile.list_pages == 3
