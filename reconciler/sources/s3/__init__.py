"""Read-only access to a BackupStorageLocation's bucket, connected the way Velero's AWS plugin does.

One module per job:

- `credentials`: the BSL's AWS shared-credentials file (parsed in memory, never echoed), or the
  default chain over the injected environment;
- `connection`: the BSL's config (region, s3Url, path style, insecureSkipTLSVerify, caCert) as
  botocore client options, the CA bundle file, the client and the lean path's HTTP session;
- `reader`: `BucketReader`, which gets indexes and lists objects with retries and bounds;
- `lean`: the signed GetObject and ListObjectsV2 requests the reader sends without botocore's
  per-call pipeline; `answers`: their XML answers, read as botocore reads them;
- `failures`: botocore's exceptions as the job's, transient or final.
"""

from reconciler.sources.s3.connection import DEFAULT_REGION, ClientOptions, ca_pem_to_trust, client_options
from reconciler.sources.s3.credentials import (
    DEFAULT_PROFILE,
    StaticCredentials,
    default_credential_chain,
    parse_credentials,
)
from reconciler.sources.s3.reader import PAGE_SIZE, READ_OPERATIONS, BucketReader

__all__ = [
    "DEFAULT_PROFILE",
    "DEFAULT_REGION",
    "PAGE_SIZE",
    "READ_OPERATIONS",
    "BucketReader",
    "ClientOptions",
    "StaticCredentials",
    "ca_pem_to_trust",
    "client_options",
    "default_credential_chain",
    "parse_credentials",
]
