"""The lean request path (`reconciler.sources.s3.lean`, `.answers`) against botocore's, on moto over HTTP.

The reader sends GetObject and ListObjectsV2 through `LeanS3` by default; these tests pin that it
asks for the same URLs botocore would, is what actually runs, answers errors as botocore's
ClientErrors do, and hands over to botocore on a region redirect. Its pages are read by the
standard library's XML parser and must yield what botocore's own parser yields for the same answer;
a page declaring entities is refused unexpanded.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.handlers import decode_list_object_v2
from botocore.parsers import create_parser
from hypothesis import given
from hypothesis import strategies as st

from reconciler.errors import NotFoundError, SourceError
from reconciler.sources.s3 import BucketReader
from reconciler.sources.s3.answers import ListPage, error_of, parse_list_page
from reconciler.sources.s3.lean import RegionRedirect, bucket_base_url
from tests.s3fixtures import CREDENTIALS, Seeder, bsl_for

pytest_plugins = ("tests.s3fixtures",)

BUCKET = "velero-backups"
ENV = {"AWS_EC2_METADATA_DISABLED": "true"}
VM = ("prod", "db 1+é")
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


def reader(readers: list[BucketReader], endpoint: str, **kw: Any) -> BucketReader:
    config = kw.pop("config", None)
    r = BucketReader(bsl_for(BUCKET, "", endpoint, config=config), credentials=CREDENTIALS, environ=ENV, **kw)
    readers.append(r)
    return r


def botocore_urls(r: BucketReader) -> list[str]:
    urls: list[str] = []
    r._client.meta.events.register("before-send.s3", lambda request, **_: urls.append(request.url))
    return urls


@pytest.mark.parametrize("path_style", ["true", "false"])
def test_lean_urls_are_botocores(s3_seed: Seeder, readers: list[BucketReader], path_style: str) -> None:
    """The bucket URL the lean path builds on is the one botocore sends to (either addressing style)."""
    endpoint = s3_seed.endpoint if path_style == "true" else "http://s3.example.test"
    plain = reader(readers, endpoint, config={"s3ForcePathStyle": path_style}, lean=False)
    lean = reader(readers, endpoint, config={"s3ForcePathStyle": path_style})
    urls = botocore_urls(plain)

    class Sent(Exception):
        pass

    def stop(**_: object) -> None:
        raise Sent

    plain._client.meta.events.register("before-send.s3", stop)
    with pytest.raises(Sent):
        plain.get_index(VM)
    engine = lean._lean_s3()
    assert engine is not None
    key = lean._bsl.index_key(VM)
    assert urls[0] == f"{engine.base_url}/{quote(key, safe='/~')}"
    if path_style == "true":
        assert engine.base_url == f"{s3_seed.endpoint}/{BUCKET}"
    else:
        assert engine.base_url == f"http://{BUCKET}.s3.example.test"


def test_lean_path_is_what_runs_and_is_counted(
    s3_seed: Seeder, readers: list[BucketReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reads go through LeanS3, never botocore's operation pipeline, and are counted all the same."""
    s3_seed.bucket(BUCKET)
    r = reader(readers, s3_seed.endpoint)
    key = r._bsl.index_key(VM)
    s3_seed.put(BUCKET, key, b'{"checkpoints": []}')
    s3_seed.put(BUCKET, r._bsl.datamover_prefix + "/checkpoints/prod/db 1+é/f", b"12345")
    botocore_ops: list[str] = []
    r._client.meta.events.register("before-send.s3", lambda **kw: botocore_ops.append(kw["event_name"]))
    assert r.get_index(VM) == b'{"checkpoints": []}'
    assert r.get_index(("prod", "nothing")) is None  # 404 NoSuchKey, as botocore would say it
    assert list(r.iter_objects()) == [("checkpoints/prod/db 1+é/f", 5), ("checkpoints/prod/db 1+é/index.json", 19)]
    assert botocore_ops == []
    assert r.stats() == {"GetObject": 2, "ListObjectsV2": 1}


def test_region_redirect_hands_over_to_botocore(
    s3_seed: Seeder, readers: list[BucketReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A redirect answer moves the reader to botocore (whose redirector follows it) for good."""
    s3_seed.bucket(BUCKET)
    r = reader(readers, s3_seed.endpoint)
    key = r._bsl.index_key(VM)
    s3_seed.put(BUCKET, key, b"{}")
    engine = r._lean_s3()
    assert engine is not None

    def moved(*_: object, **__: object) -> bytes:
        raise RegionRedirect("GetObject: 301 PermanentRedirect")

    monkeypatch.setattr(engine, "get_object", moved)
    botocore_ops: list[str] = []
    r._client.meta.events.register("before-send.s3", lambda **kw: botocore_ops.append(kw["event_name"]))
    assert r.get_index(VM) == b"{}"
    assert r._lean_s3() is None
    assert list(r.iter_objects()) == [("checkpoints/prod/db 1+é/index.json", 2)]
    assert botocore_ops == ["before-send.s3.GetObject", "before-send.s3.ListObjectsV2"]


class Canned(ThreadingHTTPServer):
    """An endpoint (or a proxy) that answers every GET with `status` and `body`, and notes the paths asked for."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CannedHandler)
        self.status, self.body = 404, b"<Error><Code>NoSuchKey</Code><Message>no</Message></Error>"
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _CannedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Canned

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def canned() -> Iterator[Canned]:
    server = Canned()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_lean_path_takes_the_proxy_botocore_takes(
    canned: Canned, readers: list[BucketReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lean path's HTTP session is built as botocore builds the client's: a proxy named in the
    environment carries both paths' requests."""
    for name in ("HTTP_PROXY", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", canned.url)
    for lean in (True, False):
        r = reader(
            readers, "http://s3.example.test", config={"s3ForcePathStyle": "true"}, lean=lean, sleep=lambda _s: None
        )
        assert r.get_index(VM) is None
        assert r.stats() == {"GetObject": 1}
    assert len(canned.paths) == 2 and canned.paths[0] == canned.paths[1]
    assert canned.paths[0].startswith(f"http://s3.example.test/{BUCKET}/kubevirt-datamover/checkpoints/prod/")


def test_errors_are_botocores_client_errors() -> None:
    """An S3 error document becomes the ClientError botocore raises: code, message, status."""
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        b"<Message>Access &amp; more denied</Message><RequestId>1</RequestId></Error>"
    )
    err = error_of(403, body, "GetObject")
    assert isinstance(err, ClientError)
    assert err.response["Error"] == {"Code": "AccessDenied", "Message": "Access & more denied"}
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error_of(404, b"", "GetObject").response["Error"] == {"Code": "", "Message": ""}
    assert error_of(500, b"<html>oops</html>", "GetObject").response["Error"]["Code"] == ""


def test_missing_bucket_is_named(s3_seed: Seeder, readers: list[BucketReader]) -> None:
    r = reader(readers, s3_seed.endpoint)
    with pytest.raises(SourceError, match=f'bucket "{BUCKET}" does not exist'):
        list(r.iter_objects())
    with pytest.raises(SourceError, match=f'bucket "{BUCKET}" does not exist') as info:
        r.get_index(VM)
    assert not isinstance(info.value, NotFoundError)  # a missing bucket is not "no index"


def test_list_page_parsing() -> None:
    """Keys URL-decoded only when the page says so; entities decoded; bad pages refused by name."""
    page = (
        b'<?xml version="1.0"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>"
        b"<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>"
        b"<Contents><Key>p/a%20b%2Bc</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>"
        b"<Size>12</Size></Contents><Contents><Key>p/x+y</Key><Size>0</Size></Contents>"
        b"<NextContinuationToken>t&amp;k</NextContinuationToken></ListBucketResult>"
    )
    got = parse_list_page(page, where="here")
    assert got.objects == [("p/a b+c", 12), ("p/x y", 0)]
    assert (got.truncated, got.token) == (True, "t&k")
    plain = page.replace(b"<EncodingType>url</EncodingType>", b"").replace(b"p/x+y", b"p/x&amp;y")
    assert parse_list_page(plain, where="here").objects == [("p/a%20b%2Bc", 12), ("p/x&y", 0)]
    with pytest.raises(SourceError, match="here: a listing page with Size"):
        parse_list_page(page.replace(b"<Size>12</Size>", b"<Size>-1</Size>"), where="here")
    with pytest.raises(SourceError, match="here: a listing page with an object lacking Key"):
        parse_list_page(page.replace(b"<Key>p/x+y</Key>", b""), where="here")
    with pytest.raises(SourceError, match="here: the answer is not a ListObjectsV2 page"):
        parse_list_page(b"<Error><Code>x</Code></Error>", where="here")


def test_bucket_base_url() -> None:
    assert bucket_base_url("http://h:1/b/k%20x?X-Amz-Signature=1", "k x") == "http://h:1/b"
    assert bucket_base_url("https://b.s3.amazonaws.com/k?x=1", "k") == "https://b.s3.amazonaws.com"
    with pytest.raises(SourceError, match="cannot tell the bucket's URL"):
        bucket_base_url("https://b.s3.amazonaws.com/other?x=1", "k")


def test_pool_holds_a_connection_per_sender(s3_seed: Seeder, readers: list[BucketReader]) -> None:
    """The client's pool is as large as the threads that may send at once (default 10, botocore's)."""
    assert reader(readers, s3_seed.endpoint).options.config.max_pool_connections == 10
    assert reader(readers, s3_seed.endpoint, max_connections=20).options.config.max_pool_connections == 20


@functools.cache
def _list_objects_v2() -> Any:
    return botocore.session.get_session().get_service_model("s3").operation_model("ListObjectsV2").output_shape


def botocore_page(body: bytes) -> ListPage:
    """What a botocore client returns for this ListObjectsV2 answer: its XML parser, then the
    handler that URL-decodes keys when the client asked for `encoding-type=url` (as the job does)."""
    parsed = create_parser("rest-xml").parse({"body": body, "headers": {}, "status_code": 200}, _list_objects_v2())
    decode_list_object_v2(parsed, context={"encoding_type_auto_set": True})
    return ListPage(
        [(o["Key"], o["Size"]) for o in parsed.get("Contents", [])],
        parsed["IsTruncated"],
        parsed.get("NextContinuationToken"),
    )


def listing(contents: str, *, xmlns: str = f'xmlns="{S3_NS}"') -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult {xmlns}><Name>b</Name><Prefix>p/</Prefix>'
        f"<IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
    ).encode()


def obj(key: str, size: int = 7) -> str:
    return (
        f"<Contents><Key>{key}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><Size>{size}</Size></Contents>"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(listing(obj("<![CDATA[p/a<b>&c]]>")), [("p/a<b>&c", 7)], id="CDATA key"),
        pytest.param(listing(obj("p/&#x80;&#128;&#x20AC;")), [("p/\x80\x80\u20ac", 7)], id="numeric references"),
        pytest.param(
            listing("<Contents><!-- <Key>p/wrong</Key><Size>1</Size> --><Key>p/right</Key><Size>7</Size></Contents>"),
            [("p/right", 7)],
            id="comment inside Contents",
        ),
        pytest.param(
            f'<s3:ListBucketResult xmlns:s3="{S3_NS}"><s3:Name>b</s3:Name><s3:IsTruncated>false</s3:IsTruncated>'
            "<s3:Contents><s3:Key>p/a</s3:Key><s3:Size>7</s3:Size></s3:Contents></s3:ListBucketResult>".encode(),
            [("p/a", 7)],
            id="s3: prefixed namespace",
        ),
        pytest.param(listing(obj("").replace("<Key></Key>", "<Key/>")), [("", 7)], id="empty Key element"),
        pytest.param(listing(obj("p/a") + obj("p/b", 0), xmlns=""), [("p/a", 7), ("p/b", 0)], id="no namespace"),
        pytest.param(
            listing(obj("p/a") + '<Contents xmlns:o="urn:other"><o:Key>p/b</o:Key><Size xmlns="">0</Size></Contents>'),
            [("p/a", 7), ("p/b", 0)],
            id="an object's elements in other namespaces",
        ),
        pytest.param(
            listing("<Contents>\n  <Key>p/a</Key>\n  <Size> 7 </Size>\n</Contents>"), [("p/a", 7)], id="indented"
        ),
    ],
)
def test_pages_are_read_as_botocore_reads_them(body: bytes, expected: list[tuple[str, int]]) -> None:
    """XML as any parser reads it: CDATA, numeric character references (U+0080 is U+0080, not
    HTML's cp1252 euro), comments, namespace prefixes and empty elements yield the objects
    botocore's own parser yields for the same answer."""
    assert botocore_page(body).objects == expected
    assert parse_list_page(body, where="w").objects == expected


DM = "kubevirt-datamover/checkpoints/"


@pytest.mark.parametrize(
    ("contents", "expected"),
    [
        pytest.param(obj(f"<![CDATA[{DM}a<b>&c]]>"), [("checkpoints/a<b>&c", 7)], id="CDATA key"),
        pytest.param(obj(f"{DM}&#x80;"), [("checkpoints/\x80", 7)], id="numeric reference"),
        pytest.param(
            f"<Contents><!-- <Key>{DM}wrong</Key> --><Key>{DM}right</Key><Size>7</Size></Contents>",
            [("checkpoints/right", 7)],
            id="comment inside Contents",
        ),
    ],
)
def test_both_paths_list_the_same_objects(
    canned: Canned, readers: list[BucketReader], contents: str, expected: list[tuple[str, int]]
) -> None:
    """A reader lists what a botocore-only reader lists from the same answer (one S3 path, two ways to send)."""
    canned.status, canned.body = 200, listing(contents)
    for lean in (True, False):
        assert (
            list(reader(readers, canned.url, config={"s3ForcePathStyle": "true"}, lean=lean).iter_objects()) == expected
        )


def test_an_empty_key_fails_the_listing_on_both_paths(canned: Canned, readers: list[BucketReader]) -> None:
    """`<Key/>` reads as "" (botocore's reading too), which is no object under the requested prefix:
    either path refuses the listing by that rule, naming the key, rather than an unreadable page."""
    canned.status, canned.body = 200, listing(obj("").replace("<Key></Key>", "<Key/>"))
    for lean in (True, False):
        r = reader(readers, canned.url, config={"s3ForcePathStyle": "true"}, lean=lean)
        with pytest.raises(SourceError, match=r"returned '', outside the requested prefix"):
            list(r.iter_objects())


BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE ListBucketResult [<!ENTITY a0 "0123456789">'
    + b"".join(b'<!ENTITY a%d "%s">' % (i, b"&a%d;" % (i - 1) * 10) for i in range(1, 10))
    + b"]>"
    + listing(obj("p/&a9;")).split(b"?>", 1)[1]
)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(BOMB, id="billion laughs"),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY big "'
            + b"x" * 100_000
            + b'">]>'
            + listing(obj("p/" + "&big;" * 10_000)).split(b"?>", 1)[1],
            id="quadratic blowup",
        ),
        pytest.param(
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            + listing(obj("p/&x;")).split(b"?>", 1)[1],
            id="external entity",
        ),
        pytest.param(
            BOMB.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-16"?>')
            .decode()
            .encode("utf-16"),
            id="billion laughs in UTF-16",
        ),
    ],
)
def test_entity_tricks_are_refused_as_a_failed_listing(body: bytes) -> None:
    """A page declaring entities (exponential, quadratic or external) fails as a listing, unexpanded:
    the refusal names the DTD, before any parser sees the page. As an error answer it yields no code."""
    with pytest.raises(SourceError, match=r"^w: the answer is not a ListObjectsV2 page: (it declares a DTD|not UTF-8)"):
        parse_list_page(body, where="w")
    assert error_of(500, body.replace(b"ListBucketResult", b"Error"), "GetObject").response["Error"] == {
        "Code": "",
        "Message": "",
    }


_any_key = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30
)
# What XML 1.0 text can hold as it is (no control characters, no U+FFFE/U+FFFF; a CR would read as LF).
_xml_key = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=30)


@st.composite
def _pages(draw: st.DrawFn) -> tuple[bytes, list[tuple[str, int]], bool]:
    encoded, truncated, rnd = draw(st.booleans()), draw(st.booleans()), draw(st.randoms(use_true_random=False))
    objects = draw(
        st.lists(st.tuples(_any_key if encoded else _xml_key, st.integers(min_value=0, max_value=2**40)), max_size=12)
    )
    parts = []
    for key, size in objects:
        text = quote(key, safe="/") if encoded else xml_escape(key)
        elements = [
            f"<Key>{text}</Key>",
            "<LastModified>2026-01-01T00:00:00.000Z</LastModified>",
            "<ETag>&quot;e&quot;</ETag>",
            f"<Size>{size}</Size>",
            "<StorageClass>STANDARD</StorageClass>",
        ]
        if rnd.random() < 0.3:
            rnd.shuffle(elements)
        parts.append("<Contents>" + "".join(elements) + "</Contents>")
    page = (
        f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{S3_NS}">'
        f"<Name>b</Name><Prefix></Prefix>{'<EncodingType>url</EncodingType>' if encoded else ''}"
        f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"
        + "".join(parts)
        + ("<NextContinuationToken>n&amp;t</NextContinuationToken>" if truncated else "")
        + "</ListBucketResult>"
    ).encode()
    return page, objects, truncated


@given(_pages())
def test_page_parsing_reads_every_object_whatever_the_layout(case: tuple[bytes, list[tuple[str, int]], bool]) -> None:
    """Pages as S3 writes them (Key first) and in other element orders (Size first, extra elements):
    every object's key and size come back, in order, exactly as botocore's parser reads them."""
    page, objects, truncated = case
    got = parse_list_page(page, where="w")
    assert got.objects == objects
    assert (got.truncated, got.token) == (truncated, "n&t" if truncated else None)
    assert got == botocore_page(page)
