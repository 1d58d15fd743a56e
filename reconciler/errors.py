"""One small exception tree. Exit codes are mapped from it only in `reconciler.cli`."""


class ReconcilerError(Exception):
    """Base of every error this program raises on purpose."""


class UsageError(ReconcilerError):
    """Bad command line or configuration: nothing was written (exit 2)."""


class SourceError(ReconcilerError):
    """A source (cluster, bucket, snapshot) could not be read."""


class TransientError(SourceError):
    """Worth retrying: throttling, 5xx, connection resets, timeouts."""


class NotFoundError(SourceError):
    """The object does not exist (404, NoSuchKey)."""


class BucketMissingError(SourceError):
    """The BSL's bucket does not exist at its endpoint (NoSuchBucket): every VM's index is unknown."""


class ForbiddenError(SourceError):
    """The credentials lack a permission (403); retrying will not help."""


class ConflictError(SourceError):
    """The object changed since it was read (409 on a resourceVersion-guarded write)."""


class MissingEvidenceError(UsageError):
    """Deciding would act on missing evidence (no policy found, an incomplete snapshot): exit 2,
    nothing written (design 9)."""
