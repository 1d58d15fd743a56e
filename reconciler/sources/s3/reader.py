"""`BucketReader`: a BSL's datamover objects, read with retries and bounds.

It fetches a VM's checkpoint index and lists the datamover's objects. It issues GetObject and
ListObjectsV2 (and HeadBucket, should botocore's region redirector need one); any other S3
operation is refused before it is sent. Requests go through the lean path (`lean`) unless the
reader is told otherwise or a region redirect moves it to botocore for good.

Retries: botocore makes one attempt per call; this module retries `TransientError` (throttling,
5xx, request timeouts, dropped connections, read timeouts: `failures`) with exponential backoff
plus jitter, bounded by an attempt count and a per-request deadline. Everything else fails at once.

Limits, each failing with an error that names it: an index larger than `max_index_bytes` (refused
from its Content-Length, else cut off there) or still arriving at the deadline; a listing longer
than `max_keys`, with more than `max_keys_per_vm` keys in one VM folder, repeating a continuation
token or a whole page (an endpoint that ignores the token), which would otherwise never end.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Final, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from botocore.httpsession import URLLib3Session
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from reconciler.core.model import Bsl, VMKey
from reconciler.errors import NotFoundError, SourceError, TransientError
from reconciler.sources.s3.answers import ListPage
from reconciler.sources.s3.connection import (
    ca_pem_to_trust,
    client_options,
    http_session,
    make_client,
    remove_ca_bundle,
    write_ca_bundle,
)
from reconciler.sources.s3.credentials import parse_credentials
from reconciler.sources.s3.failures import translate
from reconciler.sources.s3.lean import LeanS3, RegionRedirect, bucket_base_url

log = logging.getLogger(__name__)

T = TypeVar("T")

PAGE_SIZE: Final = 1000

# The only operations this module may send: the job reads the bucket, never writes it.
# (HeadBucket: botocore's region redirector may send it to find a bucket's region.)
READ_OPERATIONS: Final = frozenset({"GetObject", "HeadObject", "ListObjectsV2", "HeadBucket"})


class BucketReader:
    """Reads a BSL's datamover objects; every request is retried per the module's policy."""

    def __init__(
        self,
        bsl: Bsl,
        *,
        credentials: str | None,
        environ: Mapping[str, str],
        sleep: Callable[[float], None] = time.sleep,
        deadline_s: float = 60.0,
        max_index_bytes: int = 16 * 1024 * 1024,
        max_attempts: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 30.0,
        max_keys: int = 1_000_000,
        max_keys_per_vm: int = 100_000,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], float] = time.monotonic,
        max_connections: int = 10,
        lean: bool = True,
    ) -> None:
        self._bsl = bsl
        self._where = f"BSL {bsl.namespace}/{bsl.name}"
        self._sleep = sleep
        self._clock = clock
        self._deadline_s = deadline_s
        self._max_index_bytes = max_index_bytes
        self._max_attempts = max(1, max_attempts)
        self._backoff_base_s = backoff_base_s
        self._backoff_max_s = backoff_max_s
        self._max_keys = max_keys
        self._max_keys_per_vm = max_keys_per_vm
        self._page_size = max(1, min(page_size, PAGE_SIZE))
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._closed = False
        self._use_lean = lean
        self._lean: LeanS3 | None = None
        self._http: URLLib3Session | None = None  # the lean path's connection pool, built with it

        static = parse_credentials(credentials, bsl=bsl) if credentials is not None else None
        pem = ca_pem_to_trust(bsl)
        ca_path = write_ca_bundle(pem, bsl) if pem is not None else None
        self._finalizer = weakref.finalize(self, remove_ca_bundle, ca_path) if ca_path else None
        try:
            self.options = client_options(
                bsl,
                environ=environ,
                ca_bundle_path=ca_path,
                connect_timeout=connect_timeout_s,
                read_timeout=read_timeout_s,
                max_connections=max_connections,
            )
            self._client, self._credentials = make_client(
                self.options, static=static, environ=environ, where=self._where
            )
        except BaseException:
            self._discard_ca_bundle()
            raise
        self._client.meta.events.register("before-parameter-build.s3", self._refuse_writes)
        self._client.meta.events.register("before-send.s3", self._count_request)
        self.endpoint = self._client.meta.endpoint_url

    # ------------------------------------------------------------------ public API

    def get_index(self, vm: VMKey) -> bytes | None:
        """The VM's index.json, or None if it does not exist."""
        key = self._bsl.index_key(vm)
        try:
            return self._call("GetObject", key, functools.partial(self._get_capped, key))
        except NotFoundError:
            return None

    def iter_objects(self, prefix: str = "checkpoints/") -> Iterator[tuple[str, int]]:
        """(key relative to the datamover prefix, size) of every object under `prefix`."""
        root = self._bsl.datamover_prefix + "/"
        full = root + prefix
        token: str | None = None
        seen: set[str] = set()
        pages: set[bytes] = set()  # a digest of each page: an endpoint replaying pages never ends
        total = 0
        folder, in_folder, inside = "", 0, "/"  # the VM folder being listed, its keys so far, folder + "/"
        where = f"ListObjectsV2 s3://{self._bsl.bucket}/{full} ({self._where})"
        while True:
            page = self._call("ListObjectsV2", full, functools.partial(self._list_page, full, token, where))
            if page.objects:
                digest = hashlib.blake2b(
                    "\0".join(f"{key}\0{size}" for key, size in page.objects).encode(), digest_size=16
                ).digest()
                if digest in pages:
                    raise SourceError(f"{where}: the server sent the same page twice; the listing would never end")
                pages.add(digest)
            for key, size in page.objects:
                if not key.startswith(full):
                    raise SourceError(f"{where} returned {key!r}, outside the requested prefix")
                total += 1
                if total > self._max_keys:
                    raise SourceError(f"{where}: more than {self._max_keys} objects; refusing to list further")
                relative = key[len(root) :]
                # Callers hold one VM folder's keys at a time: bound that too, far below max_keys.
                if folder and relative.startswith(inside):  # most keys: the folder of the key before
                    in_folder += 1
                else:
                    parts = relative.split("/", 3)  # checkpoints/<ns>/<vm>/<rest>
                    here = "/".join(parts[:3]) if len(parts) == 4 else ""
                    folder, in_folder = (folder, in_folder + 1) if here == folder else (here, 1)
                    inside = folder + "/"
                if folder and in_folder > self._max_keys_per_vm:
                    raise SourceError(
                        f"{where}: more than {self._max_keys_per_vm} objects under {root}{folder}/, more than "
                        "any VM's checkpoints hold; refusing to list further"
                    )
                yield relative, size
            if not page.truncated:
                return
            token = page.token
            if token is None:
                raise SourceError(f"{where}: a truncated page without a continuation token")
            if token in seen:
                raise SourceError(f"{where}: the server repeated a continuation token; the listing would never end")
            seen.add(token)

    def stats(self) -> Mapping[str, int]:
        """HTTP requests sent, by operation, retries included."""
        with self._lock:
            return dict(self._counts)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            http, self._http, self._lean = self._http, None, None
        try:
            if http is not None:
                http.close()
            self._client.close()
        finally:
            self._discard_ca_bundle()

    def __enter__(self) -> BucketReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ requests

    def _lean_s3(self) -> LeanS3 | None:
        """The lean request path (`lean`), built on first use; None where botocore must do it."""
        with self._lock:
            if self._lean is None and self._use_lean and not self._closed:
                if self._http is None:
                    self._http = http_session(self.options, self.endpoint)
                dummy = f"{self._bsl.datamover_prefix}/.probe"
                presigned = self._client.generate_presigned_url(
                    "get_object", Params={"Bucket": self._bsl.bucket, "Key": dummy}, ExpiresIn=60
                )
                self._lean = LeanS3(
                    base_url=bucket_base_url(presigned, dummy),
                    region=self._client.meta.region_name,
                    credentials=self._credentials,
                    http=self._http,
                    on_send=self._count,
                )
            return self._lean

    def _redirected(self, exc: RegionRedirect) -> None:
        log.info("%s: %s; botocore follows region redirects, using it from now on", self._where, exc)
        with self._lock:
            self._use_lean, self._lean = False, None

    def _get_capped(self, key: str) -> bytes:
        started = self._clock()

        def check(total: int) -> None:
            # The read timeout bounds each wait for data, not a body that trickles in for ever.
            if self._clock() - started > self._deadline_s:
                raise TransientError(
                    f"GetObject s3://{self._bsl.bucket}/{key} ({self._where}): {total} bytes in "
                    f"{self._clock() - started:.0f}s, still not the whole body; the deadline is "
                    f"{self._deadline_s:.0f}s"
                )

        lean = self._lean_s3()
        if lean is not None:
            try:
                return lean.get_object(
                    key, limit=self._max_index_bytes, too_large=lambda size: self._too_large(key, size), check=check
                )
            except RegionRedirect as exc:
                self._redirected(exc)
        resp = self._client.get_object(Bucket=self._bsl.bucket, Key=key)
        body = resp["Body"]
        try:
            length = resp.get("ContentLength")
            if length is not None and length > self._max_index_bytes:
                raise self._too_large(key, f"{length} bytes")
            chunks: list[bytes] = []
            total = 0
            while chunk := body.read(64 * 1024):
                total += len(chunk)
                if total > self._max_index_bytes:
                    raise self._too_large(key, "more than that")
                chunks.append(chunk)
                check(total)
            return b"".join(chunks)
        finally:
            body.close()

    def _too_large(self, key: str, size: str) -> SourceError:
        return SourceError(
            f"s3://{self._bsl.bucket}/{key} ({self._where}) is {size}; the limit for an index "
            f"is {self._max_index_bytes} bytes"
        )

    def _list_page(self, full: str, token: str | None, where: str) -> ListPage:
        lean = self._lean_s3()
        if lean is not None:
            try:
                return lean.list_page(full, max_keys=self._page_size, token=token, where=where)
            except RegionRedirect as exc:
                self._redirected(exc)
        if token is None:
            page = self._client.list_objects_v2(Bucket=self._bsl.bucket, Prefix=full, MaxKeys=self._page_size)
        else:
            page = self._client.list_objects_v2(
                Bucket=self._bsl.bucket, Prefix=full, MaxKeys=self._page_size, ContinuationToken=token
            )
        return ListPage(
            [(o.get("Key", ""), o.get("Size", 0)) for o in page.get("Contents", [])],
            bool(page.get("IsTruncated")),
            page.get("NextContinuationToken") or None,
        )

    def _call(self, op: str, key: str, fn: Callable[[], T]) -> T:
        """Run one request with the retry policy; botocore errors become SourceErrors."""
        if self._closed:
            raise SourceError(f"{op} s3://{self._bsl.bucket}/{key}: the reader is closed")
        start = self._clock()

        def attempt() -> T:
            try:
                return fn()
            except (ClientError, BotoCoreError) as exc:
                what = f"{op} s3://{self._bsl.bucket}/{key} ({self._where}, {self.endpoint})"
                raise translate(
                    exc, op=op, what=what, bucket=self._bsl.bucket, region=self.options.region_name
                ) from exc

        def stop(state: RetryCallState) -> bool:
            # Stop after the last attempt, or when sleeping would carry us past the deadline.
            if state.attempt_number >= self._max_attempts:
                return True
            return self._clock() - start + state.upcoming_sleep > self._deadline_s

        def give_up(state: RetryCallState) -> T:
            assert state.outcome is not None
            exc = state.outcome.exception()
            assert isinstance(exc, TransientError)
            raise TransientError(
                f"{exc} (gave up after {state.attempt_number} attempts, {self._clock() - start:.1f}s)"
            ) from exc

        def note(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.info(
                "retrying %s s3://%s/%s in %.2fs (attempt %d): %s",
                op,
                self._bsl.bucket,
                key,
                state.upcoming_sleep,
                state.attempt_number,
                exc,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop,
            wait=wait_exponential_jitter(
                multiplier=self._backoff_base_s,
                max=self._backoff_max_s,
                jitter=self._backoff_base_s,
            ),
            sleep=self._sleep,
            before_sleep=note,
            retry_error_callback=give_up,
        )
        return retrying(attempt)

    # ------------------------------------------------------------------ hooks

    def _refuse_writes(self, model: object = None, **_: object) -> None:
        name = getattr(model, "name", "?")
        if name not in READ_OPERATIONS:
            raise SourceError(f"{self._where}: refusing S3 operation {name}; this job only reads")

    def _count_request(self, event_name: str, **_: object) -> None:
        # A before-send handler must return None, or botocore takes its value as the response.
        self._count(event_name.rsplit(".", 1)[-1])

    def _count(self, op: str) -> None:
        with self._lock:
            self._counts[op] += 1

    def _discard_ca_bundle(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
