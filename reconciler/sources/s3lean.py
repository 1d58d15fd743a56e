"""GetObject and ListObjectsV2 without botocore's per-call pipeline: the job's hot path to S3.

A plan sends one GetObject per VM and one ListObjectsV2 per 1,000 keys. Through a botocore client
each call costs about 2 ms of CPU under the GIL before any byte moves (measured at 10,000 VMs:
parameter validation, a dozen event hooks, endpoint rules, the response parser turning
Last-Modified into a datetime through dateutil), and a 1,000-key listing page about 13 ms. That
was most of a plan's CPU. Here the same requests are built from parts botocore keeps public:

* the URL of the bucket is botocore's own, resolved once per reader (a presigned URL of a dummy
  key, so addressing style, custom endpoints and the S3 endpoint rules are botocore's);
* every request is signed by botocore's ``S3SigV4Auth`` with the reader's (refreshable)
  credentials, and sent on the botocore client's own ``URLLib3Session``: the same connection
  pool, TLS verification, proxies and timeouts, and the same exceptions on a failure;
* a non-2xx answer becomes the ``ClientError`` botocore would raise (code, message, status), so
  error handling stays in one place (``BucketReader._translate``).

What botocore would do and this does not: follow a region redirect. Such an answer raises
`RegionRedirect` and the reader sends the request again through botocore, whose redirector
handles it, and keeps using botocore from then on.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, unquote_plus, urlencode, urlsplit, urlunsplit

import botocore
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials
from botocore.exceptions import (
    ClientError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.httpsession import URLLib3Session
from urllib3.exceptions import HTTPError as URLLib3HTTPError
from urllib3.exceptions import ReadTimeoutError as URLLib3ReadTimeoutError

from reconciler.errors import SourceError

CHUNK: Final = 64 * 1024
MAX_ERROR_BODY: Final = 64 * 1024
# Answers botocore's S3 region redirector acts on (besides 301/307 without a parsable body).
_REDIRECT_CODES: Final = frozenset(
    {"PermanentRedirect", "TemporaryRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)
_URL_ENCODED: Final = b"<EncodingType>url</EncodingType>"
# Elements read from what is left of a page, or from an error answer. No XML parser is used:
# nothing in these answers needs one, and a hostile endpoint gets no entity expansion.
_ELEMENT: Final = {name: re.compile(rb"<%s>([^<]*)</%s>" % (name.encode(), name.encode()))
                   for name in ("Code", "Message", "IsTruncated", "NextContinuationToken")}
_LISTING_ROOT: Final = re.compile(rb"<ListBucketResult[\s>]")
# Inside a ListBucketResult only objects hold Key and Size (no delimiter is asked for, so no
# CommonPrefixes): with one of each per <Contents>, the n-th Key and the n-th Size are one object's.
_KEY: Final = re.compile(rb"<Key>([^<]*)</Key>")
_SIZE: Final = re.compile(rb"<Size>(\d+)</Size>")


class RegionRedirect(Exception):
    """The endpoint answered with a redirect to another region; botocore knows how to follow it."""


@dataclass(frozen=True)
class ListPage:
    """One ListObjectsV2 page: (key, size) of its objects, and where the listing goes on."""

    objects: list[tuple[str, int]]
    truncated: bool
    token: str | None


def bucket_base_url(presigned: str, dummy_key: str) -> str:
    """The bucket's URL, from botocore's presigned URL of `dummy_key` in it."""
    parts = urlsplit(presigned)
    suffix = "/" + quote(dummy_key, safe="/~")
    if not parts.path.endswith(suffix):
        raise SourceError(f"cannot tell the bucket's URL from {urlunsplit((*parts[:3], '', ''))!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path[: -len(suffix)], "", ""))


def _text(body: bytes, name: str) -> str | None:
    """The text of the first `<name>` element of `body` (entities decoded), or None."""
    found = _ELEMENT[name].search(body)
    return html.unescape(found.group(1).decode("utf-8", errors="replace")) if found else None


def error_of(status: int, body: bytes, operation: str) -> ClientError:
    """The ClientError botocore raises for an S3 error answer (its Code and Message, or none)."""
    code, message = (_text(body, "Code") or "", _text(body, "Message") or "") if b"<Error>" in body else ("", "")
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


def parse_list_page(body: bytes, *, where: str) -> ListPage:
    """A ListObjectsV2 answer: each object's Key and Size, IsTruncated and NextContinuationToken.

    Keys and sizes are cut out of the `<Contents>` elements directly (a page holds up to 1,000,
    and a general XML parser costs ten times more); IsTruncated and NextContinuationToken are
    read from what is left. Keys are URL-decoded when the page says `EncodingType` url, as botocore
    does (the request asks for it, so keys are ASCII and XML text never holds a `<`).
    """
    keys, sizes, count = _KEY.findall(body), _SIZE.findall(body), body.count(b"<Contents>")
    if len(keys) == len(sizes) == count:  # two C scans, a third of the cost of the loop below
        stub = body[: body.find(b"<Contents>")] + body[body.rfind(b"</Contents>") + 11 :] if count else body
        objects = [(key.decode("utf-8", errors="replace"), int(size)) for key, size in zip(keys, sizes, strict=True)]
    else:
        objects, stub = _objects_one_by_one(body, where)
    if not _LISTING_ROOT.search(stub) or b"<Contents" in stub:
        raise SourceError(f"{where}: the answer is not a ListObjectsV2 page: {stub[:80]!r}")
    if b"&" in body:
        objects = [(html.unescape(k) if "&" in k else k, s) for k, s in objects]
    if _URL_ENCODED in stub:
        objects = [(unquote_plus(k) if "%" in k or "+" in k else k, s) for k, s in objects]
    truncated = (_text(stub, "IsTruncated") or "").strip().lower() == "true"
    token = _text(stub, "NextContinuationToken")
    return ListPage(objects, truncated, token or None)


def _objects_one_by_one(body: bytes, where: str) -> tuple[list[tuple[str, int]], bytes]:
    """Objects in any element order, or an error naming what an object lacks; and the page without them."""
    pieces = body.split(b"<Contents>")
    objects: list[tuple[str, int]] = []
    rest = [pieces[0]]
    for piece in pieces[1:]:
        end = piece.find(b"</Contents>")
        k0, k1 = piece.find(b"<Key>", 0, end), piece.find(b"</Key>", 0, end)
        s0, s1 = piece.find(b"<Size>", 0, end), piece.find(b"</Size>", 0, end)
        if min(end, k0, k1, s0, s1) < 0:
            raise SourceError(f"{where}: a listing page with an object lacking Key or Size")
        size = piece[s0 + 6 : s1].strip()
        if not size.isdigit():
            raise SourceError(f"{where}: a listing page with Size {size[:40]!r}")
        objects.append((piece[k0 + 5 : k1].decode("utf-8", errors="replace"), int(size)))
        rest.append(piece[end + 11 :])
    return objects, b"".join(rest)


class LeanS3:
    """Signed GetObject / ListObjectsV2 requests to one bucket on a botocore HTTP session."""

    def __init__(self, *, base_url: str, region: str, credentials: Credentials, http: URLLib3Session,
                 on_send: Callable[[str], None], user_agent: str = "") -> None:
        self.base_url = base_url
        self._region = region
        self._credentials = credentials
        self._http = http
        self._on_send = on_send
        self._agent = user_agent or f"full-backup-reconciler botocore/{botocore.__version__}"
        path = urlsplit(base_url).path
        # Path-style: /bucket?list-type=2 (as botocore sends it); virtual-hosted: /?list-type=2.
        self._list_url = base_url if path not in ("", "/") else base_url.rstrip("/") + "/"

    def _send(self, operation: str, url: str, *, stream: bool) -> AWSResponse:
        request = AWSRequest("GET", url, headers={"User-Agent": self._agent})
        S3SigV4Auth(self._credentials.get_frozen_credentials(), "s3", self._region).add_auth(request)
        prepared = request.prepare()
        prepared.stream_output = stream
        self._on_send(operation)
        return self._http.send(prepared)

    def _fail(self, operation: str, response: AWSResponse, body: bytes) -> Exception:
        error = error_of(response.status_code, body, operation)
        code = error.response.get("Error", {}).get("Code", "")
        if code in _REDIRECT_CODES or response.status_code in (301, 307):
            return RegionRedirect(f"{operation}: {response.status_code} {code}".strip())
        return error

    def get_object(self, key: str, *, limit: int, too_large: Callable[[str], Exception],
                   check: Callable[[int], None]) -> bytes:
        """The object's bytes; `too_large(size)` is raised past `limit`, `check(total)` runs per chunk."""
        url = f"{self.base_url}/{quote(key, safe='/~')}"
        response = self._send("GetObject", url, stream=True)
        raw = response.raw
        keep = False
        try:
            if response.status_code != 200:
                raise self._fail("GetObject", response, _read_some(raw, url))
            length_header = response.headers.get("Content-Length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            if length is not None and length > limit:
                raise too_large(f"{length} bytes")
            chunks: list[bytes] = []
            total = 0
            while chunk := _read(raw, url):
                total += len(chunk)
                if total > limit:
                    raise too_large("more than that")
                chunks.append(chunk)
                check(total)
            if length is not None and total != length:
                raise IncompleteReadError(actual_bytes=total, expected_bytes=length)
            keep = True
            return b"".join(chunks)
        finally:
            if keep:
                raw.release_conn()  # read to the end: the connection goes back to the pool
            else:
                raw.close()  # a body left unread: the connection cannot be reused

    def list_page(self, prefix: str, *, max_keys: int, token: str | None, where: str) -> ListPage:
        params = {"list-type": "2", "prefix": prefix, "max-keys": str(max_keys), "encoding-type": "url"}
        if token is not None:
            params["continuation-token"] = token
        url = f"{self._list_url}?{urlencode(params, quote_via=quote, safe='~')}"
        response = self._send("ListObjectsV2", url, stream=False)
        body = response.content
        if response.status_code != 200:
            raise self._fail("ListObjectsV2", response, body[:MAX_ERROR_BODY])
        return parse_list_page(body, where=where)


def _read(raw: Any, url: str, amount: int = CHUNK) -> bytes:
    """One chunk of a streamed body, failures as the botocore exceptions its StreamingBody raises."""
    try:
        data: bytes = raw.read(amount)
    except URLLib3ReadTimeoutError as exc:
        raise ReadTimeoutError(endpoint_url=url, error=exc) from exc
    except URLLib3HTTPError as exc:
        raise ResponseStreamingError(error=exc) from exc
    return data


def _read_some(raw: Any, url: str) -> bytes:
    """At most MAX_ERROR_BODY bytes of an error answer's body."""
    try:
        return _read(raw, url, MAX_ERROR_BODY)
    except (ReadTimeoutError, ResponseStreamingError):
        return b""
