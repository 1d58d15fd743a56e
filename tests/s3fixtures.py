"""S3 test fixtures: one moto server per session, reset per test, and a fault-injecting proxy.

Readers under test talk to the server over real HTTP, configured through a `Bsl` exactly as a
cluster would describe it (`bsl_for`). Seeding uses a plain boto3 client, or moto's in-process
backend for bulk (thousands of keys).

It holds no assertions, so it opts out of pytest's assertion rewriting (and of the warning a
test module importing it before it is registered as a plugin would cause): PYTEST_DONT_REWRITE
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from reconciler.core.model import Bsl
from reconciler.sources.s3 import BucketReader

REGION = "us-east-1"
ACCESS_KEY = "AKIAFAKEFAKEFAKE0001"
SECRET_KEY = "fake/secret+key-for-the-moto-server"  # moto accepts any keys
CREDENTIALS = f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
MOTO_ACCOUNT = "123456789012"  # moto's default account, used for unknown access keys


def bsl_for(
    bucket: str,
    prefix: str,
    endpoint: str,
    *,
    config: Mapping[str, str] | None = None,
    ca_cert: str = "",
    name: str = "default",
) -> Bsl:
    """A BSL pointing at `endpoint` as production would read it: s3Url, path style, us-east-1."""
    cfg = {"region": REGION, "s3Url": endpoint, "s3ForcePathStyle": "true"}
    cfg.update(config or {})
    return Bsl(
        namespace="velero",
        name=name,
        provider="velero.io/aws",
        bucket=bucket,
        prefix=prefix,
        default=True,
        config=cfg,
        credential_name="cloud-credentials",
        credential_key="cloud",
        ca_cert=ca_cert,
    )


def plain_client(endpoint: str) -> Any:
    """A boto3 client for seeding, independent of the code under test."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}),
    )


class Seeder:
    """Creates buckets and objects on the moto server."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.client = plain_client(endpoint)

    def bucket(self, name: str) -> str:
        self.client.create_bucket(Bucket=name)
        return name

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def put_many(self, bucket: str, objects: Mapping[str, bytes]) -> None:
        """Bulk writes straight into moto's backend (same process), far faster than HTTP."""
        from moto.s3.models import s3_backends  # noqa: PLC0415 - moto's internals, only here

        backend = s3_backends[MOTO_ACCOUNT]["aws"]
        for key, body in objects.items():
            backend.put_object(bucket, key, body)


def _reset(endpoint: str) -> None:
    req = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The URL of a moto server on a free loopback port, for the whole session."""
    # werkzeug (moto's HTTP server) sets its logger to INFO on its first request, past the job's
    # root threshold, so its access lines would reach the job's console handler in the same
    # process: a line after `error: interrupted` made the Ctrl-C tests fail now and then.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_endpoint(moto_endpoint: str) -> str:
    """The moto server, emptied before the test."""
    _reset(moto_endpoint)
    return moto_endpoint


@pytest.fixture
def s3_seed(s3_endpoint: str) -> Seeder:
    return Seeder(s3_endpoint)


@pytest.fixture
def readers() -> Iterator[list[BucketReader]]:
    """Readers a test makes, closed after it."""
    made: list[BucketReader] = []
    yield made
    for r in made:
        r.close()


# --------------------------------------------------------------------------- fault proxy


@dataclass(frozen=True)
class Fault:
    """One scripted answer to a request.

    error: an S3 error document (status, code); reset: the connection is dropped unanswered;
    delay: forwarded after `seconds`; chunked: forwarded with no Content-Length (chunked body);
    truncate: forwarded, but the connection drops halfway through the body.
    """

    kind: str  # "error" | "reset" | "delay" | "chunked" | "truncate"
    status: int = 503
    code: str = "SlowDown"
    seconds: float = 0.0

    @staticmethod
    def error(status: int, code: str) -> Fault:
        return Fault("error", status=status, code=code)

    @staticmethod
    def reset() -> Fault:
        return Fault("reset")

    @staticmethod
    def delay(seconds: float) -> Fault:
        return Fault("delay", seconds=seconds)

    @staticmethod
    def chunked() -> Fault:
        return Fault("chunked")

    @staticmethod
    def truncate() -> Fault:
        return Fault("truncate")


SLOW_DOWN = Fault.error(503, "SlowDown")

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "proxy-connection"})


class FaultProxy:
    """A reverse proxy in front of moto: answers queued faults first, then forwards.

    `persistent` is answered to every request once the queue is empty. `requests` records the
    (method, path) of every request received, faulted or not.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.faults: deque[Fault] = deque()
        self.persistent: Fault | None = None
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _next(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests.append((method, path))
            if self.faults:
                return self.faults.popleft()
            return self.persistent

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._next(self.command, self.path)
                if fault is not None and fault.kind == "reset":
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.close()
                    return
                if fault is not None and fault.kind == "error":
                    self._answer_error(fault)
                    return
                if fault is not None and fault.kind == "delay":
                    time.sleep(fault.seconds)
                self._forward(body, fault.kind if fault is not None else "")

            def _answer_error(self, fault: Fault) -> None:
                xml = (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    f"<Error><Code>{fault.code}</Code><Message>injected {fault.code}</Message>"
                    "<RequestId>FAULT</RequestId></Error>"
                ).encode()
                self.send_response(fault.status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(xml) if self.command != "HEAD" else 0))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(xml)

            def _forward(self, body: bytes, mode: str) -> None:
                conn = http.client.HTTPConnection(proxy.upstream, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    conn.request(self.command, self.path, body=body or None, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                with contextlib.suppress(OSError):  # the client may have timed out and left
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length":
                            self.send_header(k, v)
                    if mode == "chunked":
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for i in range(0, len(data), 1000):
                            part = data[i : i + 1000]
                            self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    declared = resp.getheader("Content-Length")
                    size = declared if self.command == "HEAD" and declared else str(len(data))
                    self.send_header("Content-Length", size)
                    self.end_headers()
                    if self.command == "HEAD":
                        return
                    if mode == "truncate":
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.close()
                        return
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _serve

        return Handler


@pytest.fixture
def fault_proxy(s3_endpoint: str) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the (freshly reset) moto server."""
    proxy = FaultProxy(s3_endpoint)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
