"""How to reach a BSL's bucket: its config as botocore client options, its CA bundle, the client.

Connection settings come from the BSL (`Bsl.config` and `Bsl.ca_cert`):

- ``region`` (empty: us-east-1; Velero would discover the bucket's region, botocore's region
  redirector corrects it on AWS), ``s3Url`` (custom endpoint, http/https only),
  ``s3ForcePathStyle`` and ``insecureSkipTLSVerify`` (booleans, parsed like Go's
  ``strconv.ParseBool``), ``profile`` (default "default", read by `credentials`).
- ``caCert``: appended to botocore's default CA bundle in a private temporary file (Velero
  appends it to the system pool), which its reader removes on close. ``insecureSkipTLSVerify``
  wins over it.

The botocore client makes one attempt per call (the reader owns the retry policy) and ignores
the process's AWS profile and endpoint variables: the BSL says where the bucket is.
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import urlsplit

import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError
from botocore.httpsession import URLLib3Session
from botocore.httpsession import where as default_ca_bundle_path
from botocore.utils import get_environ_proxies

from reconciler.core.model import Bsl
from reconciler.errors import SourceError
from reconciler.sources.s3.credentials import StaticCredentials, default_credential_chain

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

DEFAULT_REGION: Final = "us-east-1"

_TRUE: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})


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


def write_ca_bundle(pem: str, bsl: Bsl) -> str:
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


def remove_ca_bundle(path: str) -> None:
    Path(path).unlink(missing_ok=True)


def make_client(
    opts: ClientOptions, *, static: StaticCredentials | None, environ: Mapping[str, str], where: str
) -> tuple[S3Client, Credentials]:
    """The botocore S3 client for `opts`, and the credentials it signs with (for the lean path).

    `static` are the BSL's keys; without them the default chain reads `environ`. `where` names
    the BSL in errors.
    """
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
        credentials = Credentials(static.access_key_id, static.secret_access_key, static.session_token)
    else:
        chain = default_credential_chain(session, environ, opts.region_name)
        session.register_component("credential_provider", chain)
        try:
            found = session.get_credentials()
        except (BotoCoreError, ClientError) as exc:
            raise SourceError(f"credentials for {where}: {exc}") from exc
        if found is None:
            raise SourceError(
                f"credentials for {where}: the BSL names no credentials and none "
                "were found in the environment (keys, web identity, container or "
                "instance metadata)"
            )
        credentials = found
    client = session.create_client(
        "s3",
        region_name=opts.region_name,
        endpoint_url=opts.endpoint_url,
        verify=opts.verify,
        config=opts.config,
        **keys,
    )
    return cast("S3Client", client), credentials
