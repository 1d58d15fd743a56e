"""botocore's failures as the job's exceptions, in one table: what is retried, what is final.

`TransientError` (retried by the reader): throttling, 5xx, request timeouts, dropped connections,
read timeouts. `ForbiddenError`: the credentials may not read. `NotFoundError`: no such key.
Everything else is a `SourceError` that fails at once, worded to say what to check.
"""

from __future__ import annotations

from typing import Final

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

from reconciler.errors import BucketMissingError, ForbiddenError, NotFoundError, SourceError, TransientError

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


def translate(exc: ClientError | BotoCoreError, *, op: str, what: str, bucket: str, region: str) -> SourceError:
    """`exc`, raised by operation `op`, as the job's exception; `what` names the request in its message."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = str(err.get("Message", "")) or code
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        detail = f"{code or 'HTTP ' + str(status)} ({status}): {message}"
        if code == "NoSuchBucket":
            return BucketMissingError(f'{what}: bucket "{bucket}" does not exist at this endpoint')
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
            return SourceError(f'{what}: {detail}; check the BSL\'s config.region ("{region}")')
        return SourceError(f"{what}: {detail}")
    if isinstance(exc, SSLError):
        return SourceError(f"{what}: TLS verification failed ({exc}); set the BSL's caCert, or insecureSkipTLSVerify")
    if isinstance(exc, _TRANSIENT_BOTOCORE):
        return TransientError(f"{what}: {exc}")
    if isinstance(exc, NoCredentialsError):
        return SourceError(f"{what}: no credentials")
    if isinstance(exc, HTTPClientError):  # other transport failures (resets and the like)
        return TransientError(f"{what}: {exc}")
    return SourceError(f"{what}: {exc}")
