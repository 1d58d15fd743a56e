"""The S3 adapter against a real (moto) S3 server over HTTP, with faults injected by a proxy."""

from __future__ import annotations

import json
import os
import socket
import traceback
from pathlib import Path

import botocore.session
import pytest
from botocore.httpsession import where as default_ca_bundle_path
from botocore.stub import Stubber

from reconciler.errors import BucketMissingError, ForbiddenError, SourceError, TransientError
from reconciler.sources.s3 import (
    BucketReader,
    StaticCredentials,
    ca_pem_to_trust,
    client_options,
    default_credential_chain,
    parse_credentials,
)
from tests.s3fixtures import (
    CREDENTIALS,
    SLOW_DOWN,
    Fault,
    FaultProxy,
    Seeder,
    bsl_for,
)

pytest_plugins = ("tests.s3fixtures",)

BUCKET = "velero-backups"
VM = ("prod", "db-1")
DM = "kubevirt-datamover"  # the datamover prefix of a BSL without a prefix
NO_IMDS = {"AWS_EC2_METADATA_DISABLED": "true"}
PLANTED_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzPLANTEDzz"


class Sleeps:
    """A fake clock whose sleep() records the backoff and advances time instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.calls: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.calls.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _hermetic_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing from the developer's AWS setup may reach botocore during these tests.
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def reader_for(
    readers: list[BucketReader], endpoint: str, sleeps: Sleeps, *, prefix: str = "", **kw: object
) -> BucketReader:
    config = kw.pop("config", None)
    bsl = bsl_for(BUCKET, prefix, endpoint, config=config)  # type: ignore[arg-type]
    r = BucketReader(
        bsl,
        credentials=kw.pop("credentials", CREDENTIALS),  # type: ignore[arg-type]
        environ=kw.pop("environ", NO_IMDS),  # type: ignore[arg-type]
        sleep=sleeps.sleep,
        clock=sleeps.clock,
        **kw,  # type: ignore[arg-type]
    )
    readers.append(r)
    return r


def index_doc(vm: tuple[str, str]) -> bytes:
    return json.dumps({"vmName": vm[1], "namespace": vm[0], "checkpoints": []}).encode()


# --------------------------------------------------------------------------- index


def test_index_found(s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """An existing index.json is returned byte for byte from <datamover prefix>/checkpoints/<ns>/<vm>/."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-1/index.json", index_doc(VM))
    r = reader_for(readers, s3_seed.endpoint, sleeps)
    assert r.get_index(VM) == index_doc(VM)
    assert r.stats() == {"GetObject": 1}


def test_index_missing_is_none(s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """A missing index (NoSuchKey) is None, not an error, and is not retried."""
    s3_seed.bucket(BUCKET)
    r = reader_for(readers, s3_seed.endpoint, sleeps)
    assert r.get_index(VM) is None
    assert r.stats() == {"GetObject": 1}
    assert sleeps.calls == []


def test_index_too_large_is_refused(s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """An index larger than max_index_bytes is refused with a SourceError, and not retried."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-1/index.json", b"x" * 4097)
    r = reader_for(readers, s3_seed.endpoint, sleeps, max_index_bytes=4096)
    with pytest.raises(SourceError, match="4097 bytes") as info:
        r.get_index(VM)
    assert not isinstance(info.value, TransientError)
    assert r.stats() == {"GetObject": 1}


def test_index_at_the_limit_is_read(s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """An index of exactly max_index_bytes is still read."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-1/index.json", b"y" * 4096)
    r = reader_for(readers, s3_seed.endpoint, sleeps, max_index_bytes=4096)
    assert r.get_index(VM) == b"y" * 4096


def test_index_size_cap_holds_without_content_length(
    s3_seed: Seeder, fault_proxy: FaultProxy, sleeps: Sleeps, readers: list[BucketReader]
) -> None:
    """A chunked response without Content-Length is read up to the cap, then refused."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-1/index.json", b"x" * 4097)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-2/index.json", b"y" * 2500)
    r = _proxied(readers, fault_proxy, sleeps, max_index_bytes=4096)
    fault_proxy.fail(Fault.chunked(), Fault.chunked())
    with pytest.raises(SourceError, match="more than that"):
        r.get_index(VM)
    assert r.get_index(("prod", "db-2")) == b"y" * 2500
    assert r.stats() == {"GetObject": 2}


def test_body_cut_short_is_retried(
    s3_seed: Seeder, fault_proxy: FaultProxy, sleeps: Sleeps, readers: list[BucketReader]
) -> None:
    """A connection that drops in the middle of the body retries the whole GET."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-1/index.json", b"z" * 3000)
    r = _proxied(readers, fault_proxy, sleeps)
    fault_proxy.fail(Fault.truncate())
    assert r.get_index(VM) == b"z" * 3000
    assert r.stats() == {"GetObject": 2}
    assert len(sleeps.calls) == 1


def test_missing_bucket_names_the_bucket(s3_endpoint: str, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """NoSuchBucket is a BucketMissingError (a SourceError, never retried) naming the bucket, read or list."""
    r = reader_for(readers, s3_endpoint, sleeps)
    with pytest.raises(SourceError, match=f'bucket "{BUCKET}" does not exist') as info:
        r.get_index(VM)
    assert type(info.value) is BucketMissingError
    with pytest.raises(SourceError, match=f'bucket "{BUCKET}" does not exist'):
        list(r.iter_objects())
    assert sleeps.calls == []
    assert r.stats() == {"GetObject": 1, "ListObjectsV2": 1}


# --------------------------------------------------------------------------- listing


def test_listing_spans_pages_in_order(s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """2,500 objects come back in listing order with sizes, over three 1,000-key pages."""
    s3_seed.bucket(BUCKET)
    objects = {f"{DM}/checkpoints/prod/db-1/cp-{i:05d}/disk.qcow2": b"z" * (i % 7) for i in range(2500)}
    s3_seed.put_many(BUCKET, objects)
    s3_seed.put(BUCKET, f"{DM}/elsewhere/not-listed", b"")
    r = reader_for(readers, s3_seed.endpoint, sleeps)
    got = list(r.iter_objects())
    assert got == [(k.removeprefix(f"{DM}/"), len(v)) for k, v in sorted(objects.items())]
    assert r.stats() == {"ListObjectsV2": 3}


def test_listing_of_one_vm(s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """Listing a VM's prefix (Bsl.vm_prefix) yields only that VM's objects, relative keys."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-1/index.json", b"{}")
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-10/index.json", b"{}")
    r = reader_for(readers, s3_seed.endpoint, sleeps)
    assert list(r.iter_objects(r._bsl.vm_prefix(VM))) == [("checkpoints/prod/db-1/index.json", 2)]


def test_odd_keys_round_trip(s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """Keys with spaces, unicode, '+', '%', '&', '?', '#' and tabs list and read back unchanged."""
    s3_seed.bucket(BUCKET)
    names = ["a b", "ünïcødé-雪", "a+b", "100%", "%2F", "a&b?c#d~", "tab\there"]
    for n in names:
        s3_seed.put(BUCKET, f"{DM}/checkpoints/ns/vm/{n}", n.encode())
    odd_vm = ("ns x", "vm+1%")
    s3_seed.put(BUCKET, f"{DM}/checkpoints/ns x/vm+1%/index.json", b"odd")
    r = reader_for(readers, s3_seed.endpoint, sleeps)
    listed = dict(r.iter_objects("checkpoints/ns/vm/"))
    assert listed == {f"checkpoints/ns/vm/{n}": len(n.encode()) for n in names}
    assert r.get_index(odd_vm) == b"odd"


def test_empty_prefix_and_prefixed_bsls_are_separate(
    s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader]
) -> None:
    """A BSL with prefix "p" reads "p-kubevirt-datamover/", one without reads "kubevirt-datamover/"."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, "kubevirt-datamover/checkpoints/prod/db-1/index.json", b"bare")
    s3_seed.put(BUCKET, "cluster-a-kubevirt-datamover/checkpoints/prod/db-1/index.json", b"pre")
    s3_seed.put(BUCKET, "cluster-a/backups/b1/velero-backup.json", b"velero's own")
    bare = reader_for(readers, s3_seed.endpoint, sleeps)
    prefixed = reader_for(readers, s3_seed.endpoint, sleeps, prefix="cluster-a")
    assert bare.get_index(VM) == b"bare"
    assert prefixed.get_index(VM) == b"pre"
    assert list(bare.iter_objects()) == [("checkpoints/prod/db-1/index.json", 4)]
    assert list(prefixed.iter_objects()) == [("checkpoints/prod/db-1/index.json", 3)]


def test_listing_cap(s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """More objects than max_keys is a SourceError rather than an unbounded listing."""
    s3_seed.bucket(BUCKET)
    s3_seed.put_many(BUCKET, {f"{DM}/checkpoints/ns/vm/{i}": b"" for i in range(12)})
    r = reader_for(readers, s3_seed.endpoint, sleeps, max_keys=10, page_size=5)
    with pytest.raises(SourceError, match="more than 10 objects"):
        list(r.iter_objects())


def test_repeated_continuation_token_is_refused(s3_endpoint: str, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """A server that hands out the same continuation token twice cannot loop the listing forever.

    (Stubbed botocore pages, so through botocore: both request paths hand the same pages to
    `iter_objects`. The lean path meets hostile listings in test_limits.py.)"""
    r = reader_for(readers, s3_endpoint, sleeps, lean=False)
    prefix = f"{DM}/checkpoints/"
    page = {"IsTruncated": True, "NextContinuationToken": "tok", "KeyCount": 1}
    with Stubber(r._client) as stub:
        stub.add_response(
            "list_objects_v2",
            {**page, "Contents": [{"Key": prefix + "a", "Size": 1}]},
            {"Bucket": BUCKET, "Prefix": prefix, "MaxKeys": 1000},
        )
        for key in ("b", "c"):
            stub.add_response(
                "list_objects_v2",
                {**page, "Contents": [{"Key": prefix + key, "Size": 1}]},
                {"Bucket": BUCKET, "Prefix": prefix, "MaxKeys": 1000, "ContinuationToken": "tok"},
            )
        got: list[tuple[str, int]] = []
        with pytest.raises(SourceError, match="repeated a continuation token"):
            got.extend(r.iter_objects())
    assert got == [("checkpoints/a", 1), ("checkpoints/b", 1)]


def test_truncated_page_without_token_is_refused(s3_endpoint: str, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """A truncated page with no continuation token is a SourceError, not a silent stop."""
    r = reader_for(readers, s3_endpoint, sleeps, lean=False)
    with Stubber(r._client) as stub:
        stub.add_response("list_objects_v2", {"IsTruncated": True, "KeyCount": 0})
        with pytest.raises(SourceError, match="without a continuation token"):
            list(r.iter_objects())


# --------------------------------------------------------------------------- credentials


def _creds(text: str, profile: str | None = None) -> StaticCredentials:
    config = {"profile": profile} if profile else {}
    return parse_credentials(text, bsl=bsl_for(BUCKET, "", "http://s3.example.test", config=config))


def test_credentials_default_profile() -> None:
    """Without config.profile the "default" profile's keys are used."""
    text = "[other]\naws_access_key_id=O\naws_secret_access_key=OS\n" + CREDENTIALS
    c = _creds(text)
    assert c.access_key_id.startswith("AKIA")
    assert c.session_token is None


def test_credentials_named_profile_with_session_token() -> None:
    """config.profile selects its section; aws_session_token is carried when present."""
    text = (
        "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n"
        "[backup]\naws_access_key_id = B\naws_secret_access_key = BS%=:x\naws_session_token = T\n"
    )
    assert _creds(text, "backup") == StaticCredentials("B", "BS%=:x", "T")


def test_credentials_config_file_style_profile() -> None:
    """A "[profile x]" section works too (Velero loads the file as config file as well)."""
    text = "[profile minio]\naws_access_key_id = M\naws_secret_access_key = MS\n"
    assert _creds(text, "minio") == StaticCredentials("M", "MS")


def test_credentials_repr_hides_secrets() -> None:
    """The parsed credentials' repr shows the key id only."""
    text = (
        f"[default]\naws_access_key_id = K\naws_secret_access_key = {PLANTED_SECRET}\n"
        f"aws_session_token = {PLANTED_SECRET}T\n"
    )
    assert PLANTED_SECRET not in repr(_creds(text))


def _assert_no_leak(exc: BaseException) -> None:
    rendered = "".join(traceback.format_exception(exc))
    for text in (str(exc), repr(exc), rendered):
        assert PLANTED_SECRET not in text
        assert "aws_secret_access_key" not in text or "has no" in text


def test_missing_profile_error_does_not_leak() -> None:
    """A missing profile names the BSL, profile and secret key, and never the file's contents."""
    text = f"[default]\naws_access_key_id = K\naws_secret_access_key = {PLANTED_SECRET}\n"
    with pytest.raises(SourceError) as info:
        _creds(text, "x")
    assert str(info.value) == (
        'credentials for BSL velero/default: profile "x" not found in secret "cloud-credentials" key "cloud"'
    )
    _assert_no_leak(info.value)


def test_malformed_credentials_error_does_not_leak() -> None:
    """A file configparser cannot read is reported by line number, without its contents."""
    for text in (
        f"aws_secret_access_key = {PLANTED_SECRET}\n",  # no section header
        f"[default]\naws_access_key_id = K\n{PLANTED_SECRET}\n",  # a line without '='
    ):
        with pytest.raises(SourceError, match="not a valid AWS credentials file") as info:
            _creds(text)
        _assert_no_leak(info.value)


def test_profile_without_keys_is_refused() -> None:
    """A profile without static keys (role or SSO profiles) is a clear SourceError."""
    text = "[default]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n"
    with pytest.raises(SourceError, match="has no aws_access_key_id"):
        _creds(text)


def test_default_chain_reads_the_injected_environment(
    s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a credentials secret, keys come from the injected environ, not os.environ."""
    s3_seed.bucket(BUCKET)
    env = {"AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "envsecret", **NO_IMDS}
    r = reader_for(readers, s3_seed.endpoint, sleeps, credentials=None, environ=env)
    assert r.get_index(VM) is None

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAPROCESS")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "processsecret")
    with pytest.raises(SourceError, match="none were found in the environment"):
        reader_for(readers, s3_seed.endpoint, sleeps, credentials=None, environ=NO_IMDS)


def test_process_aws_settings_do_not_redirect_the_reader(
    s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader], monkeypatch: pytest.MonkeyPatch
) -> None:
    """AWS_PROFILE and AWS_ENDPOINT_URL* in the process environment change nothing; the BSL decides."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-1/index.json", b"{}")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    r = reader_for(readers, s3_seed.endpoint, sleeps)
    assert r.get_index(VM) == b"{}"


# --------------------------------------------------------------------------- connection


def _one_ca_cert() -> str:
    """A real PEM certificate to stand in for a BSL's private CA."""
    text = Path(default_ca_bundle_path()).read_text(encoding="utf-8")
    end = "-----END CERTIFICATE-----"
    start = text.index("-----BEGIN CERTIFICATE-----")
    return text[start : text.index(end, start) + len(end)] + "\n"


def _options(config: dict[str, str], *, ca: str = "", environ: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    bsl = bsl_for(BUCKET, "", "https://s3.example.test", config=config, ca_cert=ca)
    ca_path = "/ca/bundle.pem" if ca_pem_to_trust(bsl) else None
    return client_options(bsl, environ=environ or {}, ca_bundle_path=ca_path)


def test_default_chain_providers_follow_the_environment() -> None:
    """The default chain is env keys, web identity (only with a token file), container, instance metadata."""
    session = botocore.session.Session()
    methods = [p.METHOD for p in default_credential_chain(session, {}, "us-east-1").providers]
    assert methods == ["env", "container-role", "iam-role"]
    irsa = {"AWS_ROLE_ARN": "arn:aws:iam::1:role/r", "AWS_WEB_IDENTITY_TOKEN_FILE": "/token"}
    methods = [p.METHOD for p in default_credential_chain(session, irsa, "us-east-1").providers]
    assert methods == ["env", "assume-role-with-web-identity", "container-role", "iam-role"]


def test_options_tls_verification_mapping() -> None:
    """TLS stays verified unless insecureSkipTLSVerify is true; a caCert becomes verify=<bundle path>."""
    ca = _one_ca_cert()
    assert _options({}).verify is True
    assert _options({"insecureSkipTLSVerify": "false"}).verify is True
    assert _options({"insecureSkipTLSVerify": "true"}).verify is False
    assert _options({"insecureSkipTLSVerify": "True"}).verify is False
    assert _options({}, ca=ca).verify == "/ca/bundle.pem"
    assert _options({"insecureSkipTLSVerify": "true"}, ca=ca).verify is False
    assert _options({}, environ={"AWS_CA_BUNDLE": "/etc/corp.pem"}).verify == "/etc/corp.pem"


def test_options_endpoint_region_style_timeouts() -> None:
    """s3Url, region (default us-east-1), path style, timeouts and single-attempt botocore retries."""
    o = _options({"s3ForcePathStyle": "true", "region": "eu-west-3"})
    assert o.endpoint_url == "https://s3.example.test"
    assert o.region_name == "eu-west-3"
    assert o.config.s3 == {"addressing_style": "path"}
    assert (o.config.connect_timeout, o.config.read_timeout) == o.timeouts == (5.0, 30.0)
    assert o.config.max_pool_connections == o.max_connections == 10
    assert o.config.retries == {"mode": "standard", "total_max_attempts": 1}
    o = _options({"s3ForcePathStyle": "false", "region": "", "s3Url": ""})
    assert (o.endpoint_url, o.region_name) == (None, "us-east-1")
    assert o.config.s3 == {"addressing_style": "virtual"}


def test_options_reject_bad_values() -> None:
    """Non-boolean flags and non-http(s) endpoints are SourceErrors, as they fail Velero's plugin."""
    with pytest.raises(SourceError, match="s3ForcePathStyle"):
        _options({"s3ForcePathStyle": "yes"})
    with pytest.raises(SourceError, match="s3Url"):
        _options({"s3Url": "minio:9000"})


def test_ca_cert_bundle_file_lifecycle(s3_endpoint: str, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """A caCert is written, with the default roots, to a temp file botocore verifies with; close() removes it."""
    ca = _one_ca_cert()
    bsl = bsl_for(BUCKET, "", s3_endpoint, ca_cert=ca)
    r = BucketReader(bsl, credentials=CREDENTIALS, environ=NO_IMDS, sleep=sleeps.sleep)
    path = r.options.verify
    assert isinstance(path, str)
    content = Path(path).read_text(encoding="utf-8")
    assert ca.strip() in content
    assert content.count("BEGIN CERTIFICATE") > 1
    assert r._client._endpoint.http_session._verify == path  # what botocore will verify with
    r.close()
    assert not Path(path).exists()
    r.close()  # idempotent

    with pytest.raises(SourceError, match="caCert is not a PEM"):
        BucketReader(
            bsl_for(BUCKET, "", s3_endpoint, ca_cert="-----BEGIN CERTIFICATE-----\nnope\n"),
            credentials=CREDENTIALS,
            environ=NO_IMDS,
        )


def _capture_urls(r: BucketReader) -> list[str]:
    urls: list[str] = []
    r._client.meta.events.register("before-send.s3", lambda request, **_: urls.append(request.url))
    return urls


def test_path_style_is_honoured(s3_seed: Seeder, sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """s3ForcePathStyle=true puts the bucket in the URL path; otherwise it goes in the host name."""
    s3_seed.bucket(BUCKET)
    r = reader_for(readers, s3_seed.endpoint, sleeps, lean=False)
    urls = _capture_urls(r)
    r.get_index(VM)
    assert urls[0].startswith(f"{s3_seed.endpoint}/{BUCKET}/{DM}/checkpoints/")

    class Sent(Exception):
        pass

    def stop(**_: object) -> None:
        raise Sent

    virtual = reader_for(readers, "http://s3.example.test", sleeps, config={"s3ForcePathStyle": "false"}, lean=False)
    urls = _capture_urls(virtual)
    virtual._client.meta.events.register("before-send.s3", stop)
    with pytest.raises(Sent):
        virtual.get_index(VM)
    assert urls[0].startswith(f"http://{BUCKET}.s3.example.test/{DM}/checkpoints/")


# --------------------------------------------------------------------------- retries


def _proxied(readers: list[BucketReader], proxy: FaultProxy, sleeps: Sleeps, **kw: object) -> BucketReader:
    return reader_for(readers, proxy.url, sleeps, **kw)


def test_throttling_is_retried_with_backoff(
    s3_seed: Seeder, fault_proxy: FaultProxy, sleeps: Sleeps, readers: list[BucketReader]
) -> None:
    """503 SlowDown is retried with exponential backoff plus jitter, and the retries are counted."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-1/index.json", b"{}")
    r = _proxied(readers, fault_proxy, sleeps)
    fault_proxy.fail(SLOW_DOWN, SLOW_DOWN, SLOW_DOWN)
    assert r.get_index(VM) == b"{}"
    assert r.stats() == {"GetObject": 4}
    assert len(sleeps.calls) == 3
    for n, s in enumerate(sleeps.calls):
        assert 0.5 * 2**n <= s <= 0.5 * 2**n + 0.5


@pytest.mark.parametrize(
    "fault",
    [
        Fault.error(500, "InternalError"),
        Fault.error(502, "BadGateway"),
        Fault.error(504, "GatewayTimeout"),
        Fault.error(400, "RequestTimeout"),
        Fault.reset(),
    ],
    ids=["500", "502", "504", "RequestTimeout", "connection-reset"],
)
def test_transient_failures_mid_listing_are_retried(
    fault: Fault,
    s3_seed: Seeder,
    fault_proxy: FaultProxy,
    sleeps: Sleeps,
    readers: list[BucketReader],
) -> None:
    """5xx, RequestTimeout and dropped connections on a later page are retried; the listing completes."""
    s3_seed.bucket(BUCKET)
    s3_seed.put_many(BUCKET, {f"{DM}/checkpoints/ns/vm/{i:02d}": b"" for i in range(10)})
    r = _proxied(readers, fault_proxy, sleeps, page_size=4)
    it = r.iter_objects()
    first = [next(it) for _ in range(4)]
    fault_proxy.fail(fault)
    rest = list(it)
    assert [k for k, _ in first + rest] == [f"checkpoints/ns/vm/{i:02d}" for i in range(10)]
    assert r.stats() == {"ListObjectsV2": 4}
    assert len(sleeps.calls) == 1


def test_read_timeout_is_retried(
    s3_seed: Seeder, fault_proxy: FaultProxy, sleeps: Sleeps, readers: list[BucketReader]
) -> None:
    """A response slower than the read timeout is abandoned and the request retried."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-1/index.json", b"{}")
    r = _proxied(readers, fault_proxy, sleeps, read_timeout_s=0.2)
    fault_proxy.fail(Fault.delay(0.6))
    assert r.get_index(VM) == b"{}"
    assert r.stats() == {"GetObject": 2}


def test_unreachable_endpoint_is_transient(sleeps: Sleeps, readers: list[BucketReader]) -> None:
    """A refused connection (EndpointConnectionError) is retried, then surfaces as TransientError."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = reader_for(readers, f"http://127.0.0.1:{port}", sleeps, max_attempts=3)
    with pytest.raises(TransientError, match="gave up after 3 attempts"):
        r.get_index(VM)
    assert len(sleeps.calls) == 2


def test_persistent_throttling_gives_up_after_max_attempts(
    s3_seed: Seeder, fault_proxy: FaultProxy, sleeps: Sleeps, readers: list[BucketReader]
) -> None:
    """Throttling that never ends raises TransientError after max_attempts requests."""
    s3_seed.bucket(BUCKET)
    fault_proxy.persistent = SLOW_DOWN
    r = _proxied(readers, fault_proxy, sleeps)
    with pytest.raises(TransientError, match=r"SlowDown.*gave up after 5 attempts"):
        r.get_index(VM)
    assert r.stats() == {"GetObject": 5}
    assert len(sleeps.calls) == 4


def test_deadline_bounds_the_retries(
    s3_seed: Seeder, fault_proxy: FaultProxy, sleeps: Sleeps, readers: list[BucketReader]
) -> None:
    """No retry sleeps past the overall deadline, whatever max_attempts allows."""
    s3_seed.bucket(BUCKET)
    fault_proxy.persistent = SLOW_DOWN
    r = _proxied(readers, fault_proxy, sleeps, deadline_s=3.0, max_attempts=50)
    with pytest.raises(TransientError, match="gave up"):
        r.get_index(VM)
    assert sum(sleeps.calls) <= 3.0
    assert len(sleeps.calls) == 2  # 0.5-1.0 then 1.0-1.5; a third (2.0-2.5) would pass 3 s


def test_persistent_forbidden_fails_fast(
    s3_seed: Seeder, fault_proxy: FaultProxy, sleeps: Sleeps, readers: list[BucketReader]
) -> None:
    """403 AccessDenied is a ForbiddenError after one request, with no retry."""
    s3_seed.bucket(BUCKET)
    fault_proxy.persistent = Fault.error(403, "AccessDenied")
    r = _proxied(readers, fault_proxy, sleeps)
    with pytest.raises(ForbiddenError, match="AccessDenied"):
        r.get_index(VM)
    with pytest.raises(ForbiddenError):
        list(r.iter_objects())
    assert sleeps.calls == []
    assert r.stats() == {"GetObject": 1, "ListObjectsV2": 1}


# --------------------------------------------------------------------------- read-only, stats


def test_only_reads_reach_the_server(
    s3_seed: Seeder, fault_proxy: FaultProxy, sleeps: Sleeps, readers: list[BucketReader]
) -> None:
    """The reader sends only GETs, and refuses any write operation before it is sent."""
    s3_seed.bucket(BUCKET)
    s3_seed.put(BUCKET, f"{DM}/checkpoints/prod/db-1/index.json", b"{}")
    r = _proxied(readers, fault_proxy, sleeps)
    r.get_index(VM)
    list(r.iter_objects())
    with pytest.raises(SourceError, match="refusing S3 operation PutObject"):
        r._client.put_object(Bucket=BUCKET, Key="x", Body=b"")
    with pytest.raises(SourceError, match="refusing S3 operation DeleteObject"):
        r._client.delete_object(Bucket=BUCKET, Key="x")
    assert {method for method, _ in fault_proxy.requests} == {"GET"}


def test_stats_count_requests_by_operation(
    s3_seed: Seeder, fault_proxy: FaultProxy, sleeps: Sleeps, readers: list[BucketReader]
) -> None:
    """stats() counts every HTTP request per operation, retried ones included, and returns a copy."""
    s3_seed.bucket(BUCKET)
    s3_seed.put_many(BUCKET, {f"{DM}/checkpoints/ns/vm/{i}": b"" for i in range(5)})
    r = _proxied(readers, fault_proxy, sleeps, page_size=2)
    assert r.stats() == {}
    r.get_index(VM)
    r.get_index(("ns", "vm"))
    fault_proxy.fail(SLOW_DOWN)
    assert len(list(r.iter_objects())) == 5
    snapshot = r.stats()
    assert snapshot == {"GetObject": 2, "ListObjectsV2": 4}
    assert len(fault_proxy.requests) == 6
    r.get_index(VM)
    assert snapshot["GetObject"] == 2


def test_closed_reader_refuses(s3_endpoint: str, sleeps: Sleeps) -> None:
    """A closed reader raises SourceError instead of sending requests; it works as a context manager."""
    with BucketReader(bsl_for(BUCKET, "", s3_endpoint), credentials=CREDENTIALS, environ=NO_IMDS) as r:
        pass
    with pytest.raises(SourceError, match="closed"):
        r.get_index(VM)
