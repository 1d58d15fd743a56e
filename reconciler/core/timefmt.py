"""RFC 3339 times as Kubernetes and Velero write them, parsed and printed in UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def parse_time(text: str) -> datetime | None:
    """A lenient RFC 3339 parse for Kubernetes metadata (strict parsing of the index lives in index.py)."""
    if not _RFC3339.fullmatch(text.strip()):
        return None
    norm = text.strip().replace("z", "Z").replace("t", "T").replace(" ", "T")
    frac = re.search(r"\.(\d+)", norm)
    if frac:
        norm = norm.replace(frac.group(0), "." + frac.group(1)[:6].ljust(6, "0"))
    try:
        return datetime.fromisoformat(norm).astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset carries it past year 9999
        return None


def format_time(value: datetime | None) -> str | None:
    """`2026-11-24T20:00:00Z`: UTC, second precision, the way Kubernetes prints times."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
