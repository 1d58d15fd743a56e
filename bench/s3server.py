"""A minimal in-memory S3 endpoint: path-style GetObject, HeadObject and ListObjectsV2.

Enough of S3 for the reconciler, its benchmark and its tests, and nothing more:

- ``GET /<bucket>?list-type=2`` with ``prefix``, ``continuation-token``, ``start-after``,
  ``max-keys`` (capped at 1000, as S3 does) and ``encoding-type=url``; keys come back in UTF-8
  binary order, the XML is S3's ``ListBucketResult``.
- ``GET`` / ``HEAD /<bucket>/<key>``: the object, or ``404 NoSuchKey`` (a HEAD's 404 has no body,
  as S3's has none). A ``GET`` of an object without a stored body (the benchmark's multi-GiB
  disk images) answers ``501 NotImplemented``: nothing here ever downloads those.
- Anything else: ``501 NotImplemented``; an unknown bucket: ``404 NoSuchBucket``.

Signatures are not checked. Every request sleeps ``latency_s`` before it is answered, standing in
for the network round trip of a real object store, which is what an S3 request mostly costs.

Buckets are objects with three methods (`Bucket`), so a synthetic bucket can compute its keys
on demand instead of storing them (see `bench.generate`). `DictBucket` stores real objects.

`/__stats__` (not a valid bucket name) returns the server's counters as JSON: requests by
operation, the time spent answering them apart from the injected latency, the process's CPU time.
"""

from __future__ import annotations

import base64
import bisect
import json
import threading
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qsl, quote, unquote, urlsplit
from xml.sax.saxutils import escape

MAX_KEYS = 1000
LAST_MODIFIED = "2026-11-24T20:00:00.000Z"
_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


class Bucket(Protocol):
    def iter_from(self, start: str, prefix: str) -> Iterator[tuple[str, int]]:
        """(key, size) of the keys starting with `prefix` and sorting after `start`, in order."""
        ...

    def size(self, key: str) -> int | None:
        """The object's size, or None if there is no such key."""
        ...

    def body(self, key: str) -> bytes | None:
        """The object's content, or None where none is stored (the key may still exist)."""
        ...


def utf8_order(key: str) -> bytes:
    """S3's listing order: UTF-8 bytes, compared unsigned (for `str`, the same as code points)."""
    return key.encode("utf-8")


class DictBucket:
    """Real objects held in memory, listed in S3's order."""

    def __init__(self, objects: Mapping[str, bytes] | None = None) -> None:
        self._objects: dict[str, bytes] = {}
        self._sorted: list[bytes] = []
        self._lock = threading.Lock()
        for key, data in (objects or {}).items():
            self.put(key, data)

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            if key not in self._objects:
                bisect.insort(self._sorted, utf8_order(key))
            self._objects[key] = data

    def delete(self, key: str) -> None:
        with self._lock:
            if self._objects.pop(key, None) is not None:
                self._sorted.pop(bisect.bisect_left(self._sorted, utf8_order(key)))

    def iter_from(self, start: str, prefix: str) -> Iterator[tuple[str, int]]:
        with self._lock:
            lo = max(
                bisect.bisect_right(self._sorted, utf8_order(start)),
                bisect.bisect_left(self._sorted, utf8_order(prefix)),
            )
            raw = prefix.encode("utf-8")
            out: list[tuple[str, int]] = []
            for b in self._sorted[lo:]:
                if not b.startswith(raw):
                    break
                key = b.decode("utf-8")
                out.append((key, len(self._objects[key])))
        yield from out

    def size(self, key: str) -> int | None:
        data = self._objects.get(key)
        return None if data is None else len(data)

    def body(self, key: str) -> bytes | None:
        return self._objects.get(key)


def _etag_hex(key: str, size: int) -> str:
    """A stand-in for the MD5 of the content, stable per key and size, cheap to make."""
    return f"{zlib.crc32(key.encode('utf-8')):08x}{size:024x}"


def _etag(key: str, size: int) -> str:
    return f'"{_etag_hex(key, size)}"'


def _token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii")


def _untoken(token: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (ValueError, UnicodeError):
        return None


def list_page(bucket: Bucket, name: str, query: Mapping[str, str]) -> tuple[int, bytes]:
    """The ListObjectsV2 answer (status, XML) for a parsed query string."""
    prefix = query.get("prefix", "")
    token = query.get("continuation-token")
    start_after = query.get("start-after", "")
    url = query.get("encoding-type") == "url"
    try:
        max_keys = min(int(query.get("max-keys", MAX_KEYS)), MAX_KEYS)
    except ValueError:
        return _error(400, "InvalidArgument", "max-keys is not an integer")
    if max_keys < 0:
        return _error(400, "InvalidArgument", "max-keys is negative")
    start = start_after
    if token is not None:
        after = _untoken(token)
        if after is None:
            return _error(400, "InvalidArgument", "The continuation token provided is incorrect")
        start = max(start, after, key=utf8_order)
    items: list[tuple[str, int]] = []
    truncated = False
    if max_keys > 0:
        for item in bucket.iter_from(start, prefix):
            if len(items) == max_keys:
                truncated = True
                break
            items.append(item)
    else:
        truncated = next(iter(bucket.iter_from(start, prefix)), None) is not None

    def enc(value: str) -> str:
        return escape(quote(value, safe="/") if url else value)

    parts = [
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{_XMLNS}">',
        f"<Name>{escape(name)}</Name><Prefix>{enc(prefix)}</Prefix>",
        f"<KeyCount>{len(items)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>",
    ]
    if url:
        parts.append("<EncodingType>url</EncodingType>")
    if token is not None:
        parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
    if start_after:
        parts.append(f"<StartAfter>{enc(start_after)}</StartAfter>")
    if truncated and items:
        parts.append(f"<NextContinuationToken>{_token(items[-1][0])}</NextContinuationToken>")
    parts.extend(
        f"<Contents><Key>{enc(key)}</Key><LastModified>{LAST_MODIFIED}</LastModified>"
        f"<ETag>&quot;{_etag_hex(key, size)}&quot;</ETag>"
        f"<Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>"
        for key, size in items
    )
    parts.append("</ListBucketResult>")
    return 200, "".join(parts).encode("utf-8")


def _error(status: int, code: str, message: str, resource: str = "") -> tuple[int, bytes]:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message>"
        f"<Resource>{escape(resource)}</Resource><RequestId>0</RequestId></Error>"
    )
    return status, xml.encode("utf-8")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # listen()'s backlog: the default 5 drops the SYNs of a burst of new connections, which the
    # clients then retry a second later.
    request_queue_size = 128


class S3Server:
    """The endpoint on 127.0.0.1 (port 0: a free one), one thread per connection."""

    def __init__(self, buckets: Mapping[str, Bucket], *, latency_s: float = 0.0, port: int = 0) -> None:
        self.buckets = dict(buckets)
        self.latency_s = latency_s
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._lists: Counter[str] = Counter()  # ListObjectsV2 pages by prefix, first asked first
        self._busy_s = 0.0
        self._server = _HttpServer(("127.0.0.1", port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> S3Server:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def stats(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": dict(self._counts),
                "lists": dict(self._lists),
                "busy_s": self._busy_s,
                "cpu_s": time.process_time(),
            }

    def reset_stats(self) -> None:
        with self._lock:
            self._counts.clear()
            self._lists.clear()
            self._busy_s = 0.0

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _note(self, op: str, busy: float) -> None:
        with self._lock:
            self._counts[op] += 1
            self._busy_s += busy

    def answer(self, method: str, target: str) -> tuple[str, int, dict[str, str], bytes]:
        """(operation, status, headers, body) for a request; the body of a HEAD is dropped later."""
        parts = urlsplit(target)
        path = unquote(parts.path, encoding="utf-8", errors="strict")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if path == "/__stats__":
            return "stats", 200, {"Content-Type": "application/json"}, json.dumps(self.stats()).encode()
        name, _, key = path.lstrip("/").partition("/")
        xml = {"Content-Type": "application/xml"}
        bucket = self.buckets.get(name)
        if bucket is None:
            status, body = _error(404, "NoSuchBucket", "The specified bucket does not exist", name)
            return "NoSuchBucket", status, xml, body
        if method == "GET" and not key and query.get("list-type") == "2":
            with self._lock:
                self._lists[query.get("prefix", "")] += 1
            status, body = list_page(bucket, name, query)
            return "ListObjectsV2", status, xml, body
        if method in ("GET", "HEAD") and key:
            op = "GetObject" if method == "GET" else "HeadObject"
            size = bucket.size(key)
            if size is None:
                status, body = _error(404, "NoSuchKey", "The specified key does not exist.", key)
                return op, status, xml, body
            headers = {
                "Content-Type": "application/octet-stream",
                "ETag": _etag(key, size),
                "Last-Modified": "Tue, 24 Nov 2026 20:00:00 GMT",
                "Content-Length": str(size),
            }
            if method == "HEAD":
                return op, 200, headers, b""
            data = bucket.body(key)
            if data is None:
                status, body = _error(501, "NotImplemented", "this endpoint stores no body for the object", key)
                return op, status, xml, body
            return op, 200, headers, data
        status, body = _error(501, "NotImplemented", f"{method} {parts.path} is not implemented here")
        return "unsupported", status, xml, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave in separate writes

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                if server.latency_s > 0:
                    time.sleep(server.latency_s)
                began = time.perf_counter()
                try:
                    op, status, headers, body = server.answer(self.command, self.path)
                except UnicodeDecodeError:
                    op, (status, body) = "bad", _error(400, "InvalidURI", "Couldn't parse the specified URI.")
                    headers = {"Content-Type": "application/xml"}
                headers.setdefault("Content-Length", str(len(body)))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("x-amz-request-id", "0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)
                server._note(op, time.perf_counter() - began)

            do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _serve

        return Handler


def fetch_stats(url: str) -> dict[str, object]:
    """The counters of a server at `url` (possibly in another process)."""
    import urllib.request  # noqa: PLC0415

    with urllib.request.urlopen(f"{url}/__stats__", timeout=30) as resp:
        data: dict[str, object] = json.loads(resp.read())
        return data


def serve(buckets: Iterable[tuple[str, Bucket]], *, latency_s: float) -> S3Server:
    """Start a server in this process; `stop()` it when done."""
    return S3Server(dict(buckets), latency_s=latency_s).start()
