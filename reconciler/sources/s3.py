"""Read-only access to a BackupStorageLocation's bucket, connected the way Velero's AWS plugin does.

`BucketReader` fetches a VM's checkpoint index and lists the datamover's objects. It issues
GetObject and ListObjectsV2 (and HeadBucket, should botocore's region redirector need one); any
other S3 operation is refused before it is sent.

Connection settings come from the BSL (`Bsl.config` and `Bsl.ca_cert`):

- ``region`` (empty: us-east-1; Velero would discover the bucket's region, botocore's region
  redirector corrects it on AWS), ``s3Url`` (custom endpoint, http/https only),
  ``s3ForcePathStyle`` and ``insecureSkipTLSVerify`` (booleans, parsed like Go's
  ``strconv.ParseBool``), ``profile`` (default "default").
- ``caCert``: appended to botocore's default CA bundle in a private temporary file (Velero
  appends it to the system pool), removed on `close()`. ``insecureSkipTLSVerify`` wins over it.

Credentials are the text of an AWS shared-credentials file, parsed in memory and never echoed.
Velero loads that file as both credentials and config file, so a ``[profile x]`` section is
accepted as well as ``[x]``. Without credentials, a default chain reads the injected
environment only: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, web identity
(IRSA: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE), the container endpoint (EKS Pod Identity,
ECS), then instance metadata unless AWS_EC2_METADATA_DISABLED=true.

Retries: botocore makes one attempt per call; this module retries `TransientError` (throttling,
5xx, request timeouts, dropped connections, read timeouts) with exponential backoff plus jitter,
bounded by an attempt count and a per-request deadline. Everything else fails at once.

Limits, each failing with an error that names it: an index larger than `max_index_bytes` (refused
from its Content-Length, else cut off there) or still arriving at the deadline; a listing longer
than `max_keys`, with more than `max_keys_per_vm` keys in one VM folder, repeating a continuation
token or a whole page (an endpoint that ignores the token), which would otherwise never end.
"""

from __future__ import annotations

import configparser
import functools
import hashlib
import logging
import os
import socket
import ssl
import tempfile
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast
from urllib.parse import urlsplit

import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    AssumeRoleWithWebIdentityProvider,
    ContainerProvider,
    CredentialProvider,
    CredentialResolver,
    Credentials,
    EnvProvider,
    InstanceMetadataFetcher,
    InstanceMetadataProvider,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    FlexibleChecksumError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)
from botocore.httpsession import URLLib3Session
from botocore.httpsession import where as default_ca_bundle_path
from botocore.utils import get_environ_proxies
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_exponential_jitter

from reconciler.core.model import Bsl, VMKey
from reconciler.errors import ForbiddenError, NotFoundError, SourceError, TransientError
from reconciler.sources.s3lean import LeanS3, ListPage, RegionRedirect, bucket_base_url

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_REGION: Final = "us-east-1"
DEFAULT_PROFILE: Final = "default"
PAGE_SIZE: Final = 1000

# The only operations this module may send: the job reads the bucket, never writes it.
# (HeadBucket: botocore's region redirector may send it to find a bucket's region.)
READ_OPERATIONS: Final = frozenset({"GetObject", "HeadObject", "ListObjectsV2", "HeadBucket"})

_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})

_TRANSIENT_CODES: Final = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "TooManyRequestsException",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
_TRANSIENT_STATUS: Final = frozenset({429, 500, 502, 503, 504})
_FORBIDDEN_CODES: Final = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "AccountProblem",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
    }
)
_REGION_CODES: Final = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)
_TRANSIENT_BOTOCORE: Final = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    ResponseStreamingError,
    IncompleteReadError,
    ProxyConnectionError,
    FlexibleChecksumError,
)


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class StaticCredentials:
    """Keys from a shared-credentials file; the secret parts never appear in repr()."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def _secret_ref(bsl: Bsl) -> str:
    key = bsl.credential_key or "?"
    if bsl.credential_name:
        return f'secret "{bsl.credential_name}" key "{key}"'
    return f'secret key "{key}"'


def parse_credentials(text: str, *, bsl: Bsl) -> StaticCredentials:
    """Static keys of the BSL's profile from the text of an AWS shared-credentials file.

    Errors name the BSL, the profile and the secret, never the file's contents; they are raised
    outside any ``except`` block so no parser exception (which may quote a line) is chained.
    """
    profile = bsl.config.get("profile") or DEFAULT_PROFILE
    where = f"credentials for BSL {bsl.namespace}/{bsl.name}"
    parser = configparser.ConfigParser(
        interpolation=None,
        strict=False,  # repeated sections/keys merge, later values win
        delimiters=("=",),
        default_section="\x00",  # no section is special; "[DEFAULT]" is just a profile name
    )
    bad_lines: list[int] | None = None
    try:
        parser.read_string(text.lstrip("\ufeff"))
    except configparser.MissingSectionHeaderError as exc:  # a ParsingError: catch it first
        bad_lines = [exc.lineno]
    except configparser.ParsingError as exc:
        bad_lines = sorted({lineno for lineno, _ in exc.errors})
    except configparser.Error:
        bad_lines = []
    if bad_lines is not None:
        at = f" (line {', '.join(map(str, bad_lines))})" if bad_lines else ""
        raise SourceError(f"{where}: {_secret_ref(bsl)} is not a valid AWS credentials file{at}")

    sections: dict[str, dict[str, str]] = {}
    for raw_name in parser.sections():
        name = " ".join(raw_name.split())
        sections.setdefault(name, {}).update(parser.items(raw_name))
    # Credentials-file style "[x]" wins over config-file style "[profile x]", as in the AWS SDK.
    values = {**sections.get(f"profile {profile}", {}), **sections.get(profile, {})}
    if not values and f"profile {profile}" not in sections and profile not in sections:
        raise SourceError(f'{where}: profile "{profile}" not found in {_secret_ref(bsl)}')
    access_key = values.get("aws_access_key_id", "").strip()
    secret_key = values.get("aws_secret_access_key", "").strip()
    if not access_key or not secret_key:
        raise SourceError(
            f'{where}: profile "{profile}" in {_secret_ref(bsl)} has no '
            "aws_access_key_id/aws_secret_access_key (role, SSO and credential_process "
            "profiles are not supported)"
        )
    token = values.get("aws_session_token", "").strip() or None
    return StaticCredentials(access_key, secret_key, token)


def default_credential_chain(
    session: botocore.session.Session, environ: Mapping[str, str], region: str
) -> CredentialResolver:
    """The default chain, reading only `environ` (never the process environment or ~/.aws)."""
    env = dict(environ)
    providers: list[CredentialProvider] = [EnvProvider(environ=env)]
    token_file = env.get("AWS_WEB_IDENTITY_TOKEN_FILE", "")
    if token_file:
        profile = {
            "web_identity_token_file": token_file,
            "role_arn": env.get("AWS_ROLE_ARN", ""),
            "role_session_name": env.get("AWS_ROLE_SESSION_NAME") or "full-backup-reconciler",
        }
        sts_region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or region
        providers.append(
            AssumeRoleWithWebIdentityProvider(
                load_config=lambda: {"profiles": {"web-identity": profile}},
                client_creator=functools.partial(session.create_client, region_name=sts_region),
                profile_name="web-identity",
                disable_env_vars=True,
            )
        )
    providers.append(ContainerProvider(environ=env))
    providers.append(
        InstanceMetadataProvider(
            iam_role_fetcher=InstanceMetadataFetcher(
                timeout=1, num_attempts=1, env=env, user_agent=session.user_agent()
            )
        )
    )
    return CredentialResolver(providers)


# --------------------------------------------------------------------------- connection


def _parse_bool(bsl: Bsl, key: str) -> bool:
    value = bsl.config.get(key, "")
    if value == "" or value in _FALSE:
        return False
    if value in _TRUE:
        return True
    raise SourceError(f'BSL {bsl.namespace}/{bsl.name}: config.{key}="{value}" is not a boolean')


@dataclass(frozen=True)
class ClientOptions:
    """Everything handed to botocore to build the S3 client (no credentials)."""

    region_name: str
    endpoint_url: str | None
    verify: bool | str  # False: no verification; True: default bundle; str: CA bundle path
    config: Config
    timeouts: tuple[float, float]  # connect, read: the values in `config`, whose stubs leave them untyped
    max_connections: int  # the pool size in `config`


def ca_pem_to_trust(bsl: Bsl) -> str | None:
    """The BSL's CA PEM if a bundle file is needed (present, and verification not skipped)."""
    if _parse_bool(bsl, "insecureSkipTLSVerify"):
        return None
    return bsl.ca_cert if bsl.ca_cert.strip() else None


def client_options(
    bsl: Bsl,
    *,
    environ: Mapping[str, str],
    ca_bundle_path: str | None,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    max_connections: int = 10,
) -> ClientOptions:
    """Map a BSL to botocore client settings; `ca_bundle_path` holds the BSL's caCert if any."""
    endpoint = bsl.config.get("s3Url", "") or None
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SourceError(
                f'BSL {bsl.namespace}/{bsl.name}: config.s3Url="{endpoint}" must be an http:// or https:// URL'
            )
    path_style = _parse_bool(bsl, "s3ForcePathStyle")
    verify: bool | str
    if _parse_bool(bsl, "insecureSkipTLSVerify"):
        verify = False
    elif ca_bundle_path is not None:
        verify = ca_bundle_path
    else:
        # What the AWS SDK does without a caCert: honour AWS_CA_BUNDLE, else the default roots.
        verify = environ.get("AWS_CA_BUNDLE") or True
    config = Config(
        # "virtual" leaves the choice to the S3 endpoint rules shared by the AWS SDKs, as Velero's
        # UsePathStyle=false does: virtual-hosted where the bucket name and endpoint allow it,
        # path-style otherwise (IP endpoints, non-DNS names). botocore's "auto" would instead
        # fall back to path-style for every custom endpoint.
        s3={"addressing_style": "path" if path_style else "virtual"},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # One pooled connection per thread that may send at once: with fewer, urllib3 discards
        # the surplus connections after each request and the next ones connect anew.
        max_pool_connections=max(1, max_connections),
        # One attempt per call: the retry policy (and its sleeps) belongs to BucketReader.
        retries={"mode": "standard", "total_max_attempts": 1},
        user_agent_extra="full-backup-reconciler",
    )
    return ClientOptions(
        region_name=bsl.config.get("region", "") or DEFAULT_REGION,
        endpoint_url=endpoint,
        verify=verify,
        config=config,
        timeouts=(connect_timeout, read_timeout),
        max_connections=max(1, max_connections),
    )


def http_session(opts: ClientOptions, endpoint_url: str) -> URLLib3Session:
    """An HTTP session set up as botocore sets up a client's own from the same options.

    Same TLS verification, timeouts, pool size and socket options (botocore's default: no Nagle);
    proxies from the environment for `endpoint_url` (the client's), as botocore takes them when
    the config names none (it never does here).
    """
    settings: dict[str, Any] = {  # botocore-stubs type verify as bool and timeout as int; both take more
        "verify": opts.verify,
        "proxies": get_environ_proxies(endpoint_url),
        "timeout": opts.timeouts,
        "max_pool_connections": opts.max_connections,
        "socket_options": [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
    }
    return URLLib3Session(**settings)


def _write_ca_bundle(pem: str, bsl: Bsl) -> str:
    """Default roots + the BSL's CA in a private temporary file; returns its path."""
    try:
        ssl.create_default_context(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise SourceError(f"BSL {bsl.namespace}/{bsl.name}: caCert is not a PEM certificate bundle") from None
    base = Path(default_ca_bundle_path()).read_text(encoding="utf-8")
    fd, path = tempfile.mkstemp(prefix="bsl-ca-", suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(base.rstrip("\n") + "\n" + pem.strip() + "\n")
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise
    return path


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """One loader (and its parsed service models) for every reader of the process."""
    return botocore.loaders.create_loader()


def _remove(path: str) -> None:
    Path(path).unlink(missing_ok=True)


# --------------------------------------------------------------------------- the reader


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
        self._credentials: Credentials | None = None
        self._use_lean = lean
        self._lean: LeanS3 | None = None
        self._http: URLLib3Session | None = None  # the lean path's connection pool, built with it

        static = parse_credentials(credentials, bsl=bsl) if credentials is not None else None
        pem = ca_pem_to_trust(bsl)
        ca_path = _write_ca_bundle(pem, bsl) if pem is not None else None
        self._finalizer = weakref.finalize(self, _remove, ca_path) if ca_path else None
        try:
            self.options = client_options(
                bsl,
                environ=environ,
                ca_bundle_path=ca_path,
                connect_timeout=connect_timeout_s,
                read_timeout=read_timeout_s,
                max_connections=max_connections,
            )
            self._client = self._make_client(static, environ)
        except BaseException:
            self._discard_ca_bundle()
            raise
        self.endpoint = self._client.meta.endpoint_url

    def _make_client(self, static: StaticCredentials | None, environ: Mapping[str, str]) -> S3Client:
        opts = self.options
        # The profile that matters is the BSL's, inside its credentials text; an AWS_PROFILE in
        # the process environment must not select (or fail to find) a profile of the session.
        session = botocore.session.Session(session_vars={"profile": (None, None, None, None)})
        session.register_component("data_loader", _shared_loader())
        # The BSL says where the bucket is; an AWS_ENDPOINT_URL* in the environment must not.
        session.set_config_variable("ignore_configured_endpoint_urls", True)
        keys: dict[str, Any] = {}
        if static is not None:
            keys = {
                "aws_access_key_id": static.access_key_id,
                "aws_secret_access_key": static.secret_access_key,
                "aws_session_token": static.session_token,
            }
            self._credentials = Credentials(static.access_key_id, static.secret_access_key, static.session_token)
        else:
            chain = default_credential_chain(session, environ, opts.region_name)
            session.register_component("credential_provider", chain)
            try:
                found = session.get_credentials()
            except (BotoCoreError, ClientError) as exc:
                raise SourceError(f"credentials for {self._where}: {exc}") from exc
            if found is None:
                raise SourceError(
                    f"credentials for {self._where}: the BSL names no credentials and none "
                    "were found in the environment (keys, web identity, container or "
                    "instance metadata)"
                )
            self._credentials = found
        client = session.create_client(
            "s3",
            region_name=opts.region_name,
            endpoint_url=opts.endpoint_url,
            verify=opts.verify,
            config=opts.config,
            **keys,
        )
        client.meta.events.register("before-parameter-build.s3", self._refuse_writes)
        client.meta.events.register("before-send.s3", self._count_request)
        return cast("S3Client", client)

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
        """The lean request path (`s3lean`), built on first use; None where botocore must do it."""
        with self._lock:
            if self._lean is None and self._use_lean and not self._closed:
                if self._credentials is None:
                    self._use_lean = False
                    return None
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
                raise self._translate(exc, op, key) from exc

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

    def _translate(self, exc: ClientError | BotoCoreError, op: str, key: str) -> SourceError:
        what = f"{op} s3://{self._bsl.bucket}/{key} ({self._where}, {self.endpoint})"
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            message = str(err.get("Message", "")) or code
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            detail = f"{code or 'HTTP ' + str(status)} ({status}): {message}"
            if code == "NoSuchBucket":
                return SourceError(f'{what}: bucket "{self._bsl.bucket}" does not exist at this endpoint')
            if code in ("NoSuchKey", "NotFound") or (status == 404 and op != "ListObjectsV2"):
                return NotFoundError(f"{what}: {detail}")
            if code in _FORBIDDEN_CODES or status in (401, 403):
                hint = ""
                if op == "GetObject" and status == 403:
                    hint = " (S3 also answers 403 for a missing key without s3:ListBucket)"
                return ForbiddenError(f"{what}: {detail}{hint}")
            if code in _TRANSIENT_CODES or status in _TRANSIENT_STATUS:
                return TransientError(f"{what}: {detail}")
            if code in _REGION_CODES or status == 301:
                return SourceError(f'{what}: {detail}; check the BSL\'s config.region ("{self.options.region_name}")')
            return SourceError(f"{what}: {detail}")
        if isinstance(exc, SSLError):
            return SourceError(
                f"{what}: TLS verification failed ({exc}); set the BSL's caCert, or insecureSkipTLSVerify"
            )
        if isinstance(exc, _TRANSIENT_BOTOCORE):
            return TransientError(f"{what}: {exc}")
        if isinstance(exc, NoCredentialsError):
            return SourceError(f"{what}: no credentials")
        if isinstance(exc, HTTPClientError):  # other transport failures (resets and the like)
            return TransientError(f"{what}: {exc}")
        return SourceError(f"{what}: {exc}")

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
