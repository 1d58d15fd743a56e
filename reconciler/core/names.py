"""Which names are valid: S3 buckets, Kubernetes namespaces and object names.

Names become path components in an offline snapshot (`buckets/<bucket>/.../<namespace>/<vm>/`),
so a name that no real bucket or object can carry (`..`, `a/b`) is refused rather than followed.
Each check returns None for a valid name, else what a valid one looks like.
"""

from __future__ import annotations

import re

# AWS general purpose buckets: 3-63 lowercase letters, digits, dots and hyphens, a letter or digit
# at each end, no two dots in a row, not an IPv4 address. Buckets created in us-east-1 before
# March 2018 may also carry uppercase letters and underscores, up to 255 characters; Velero still
# reaches them, so this accepts those too. No bucket name holds a slash or is "." or "..".
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]")
_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
BUCKET_HELP = (
    "not a valid S3 bucket name (3-63 lowercase letters, digits, dots and hyphens, a letter or digit at each end)"
)

# RFC 1123 as Kubernetes applies it (apimachinery validation.IsDNS1123Label / IsDNS1123Subdomain).
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_HELP = "not a valid DNS-1123 label (at most 63 lowercase letters, digits and '-', alphanumeric at each end)"
SUBDOMAIN_HELP = (
    "not a valid DNS-1123 subdomain (at most 253 characters: lowercase letters, digits, "
    "'-' and '.', alphanumeric at each end)"
)


def bucket_problem(name: str) -> str | None:
    """None for a bucket name S3 accepts (or accepted, for legacy us-east-1 buckets)."""
    if _BUCKET.fullmatch(name) and ".." not in name and not _IPV4.fullmatch(name):
        return None
    return BUCKET_HELP


def label_problem(name: str) -> str | None:
    """None for a valid namespace name (a DNS-1123 label)."""
    return None if len(name) <= 63 and _LABEL.fullmatch(name) else LABEL_HELP


def subdomain_problem(name: str) -> str | None:
    """None for a valid object name such as a VirtualMachine's (a DNS-1123 subdomain)."""
    if len(name) <= 253 and all(_LABEL.fullmatch(part) for part in name.split(".")):
        return None
    return SUBDOMAIN_HELP
