"""The project's index decoder agrees with Go's encoding/json itself, case by case.

tests/golden/index.json was written once by the Go program in tests/golden/gen, which decodes
each document with ``json.Unmarshal`` into a struct with the controller's field types and json
tags (uploader.VMIndex); these tests read it and never need Go. Error texts differ (the project
names the field its own way); whether a document decodes, and what it decodes to, must not.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.core.index import parse_index
from reconciler.core.model import Checkpoint, FileRef, Index, Unreadable

GOLDEN: dict[str, Any] = json.loads((Path(__file__).parent / "golden" / "index.json").read_text())
CASES: list[dict[str, Any]] = GOLDEN["cases"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST = datetime.min.replace(tzinfo=UTC)
LAST = datetime.max.replace(tzinfo=UTC)

# The golden data comes from Go 1.19 (the newest Go Debian bookworm ships); the controller is
# built with Go 1.25. Go 1.20 made time.Parse reject a zone offset above 24 hours or 60
# minutes, so these documents decode in the golden data but not in the controller, and the
# project follows the controller. Each stays pinned: the golden side must still accept it.
NEWER_GO_REJECTS: dict[str, str] = {
    'timestamp "2026-03-01T01:12:00+24:61"': "offset minutes above 60",
    'timestamp "2026-03-01T01:12:00-25:00"': "offset hours above 24",
    'timestamp "2026-03-01T01:12:00+99:99"': "offset hours above 24",
}


def document(case: dict[str, Any]) -> bytes:
    return base64.b64decode(case["doc_b64"])


def instant(value: dict[str, Any]) -> datetime | None:
    """A golden time as the project holds it: None for Go's zero time, microseconds, and the
    instants datetime cannot hold (year 0000, past year 9999) at datetime's ends."""
    if value["zero"]:
        return None
    seconds = value["unix"]
    if seconds < (FIRST - EPOCH) // timedelta(seconds=1):
        return FIRST
    if seconds > (LAST - EPOCH) // timedelta(seconds=1):
        return LAST
    return EPOCH + timedelta(seconds=seconds, microseconds=value["nanos"] // 1000)


def expected_index(value: dict[str, Any]) -> Index:
    return Index(
        vm_name=value["vmName"],
        namespace=value["namespace"],
        last_updated=instant(value["lastUpdated"]),
        checkpoints=tuple(
            Checkpoint(
                id=c["id"],
                type=c["type"],
                parent=c["parent"],
                timestamp=instant(c["timestamp"]),
                vm_backup=c["vmBackup"],
                files=tuple(
                    FileRef(filename=f["filename"], disk=f["diskName"], size=f["size"], object_path=f["objectPath"])
                    for f in c["files"] or ()
                ),
                referenced_by=tuple(c["referencedBy"] or ()),
                superseded=c["superseded"],
                vmb_object_path=c["vmbObjectPath"],
                vmbt_object_path=c["vmbtObjectPath"],
            )
            for c in value["checkpoints"] or ()
        ),
    )


def test_the_golden_data_is_there() -> None:
    """The data holds readable and unreadable documents, and every pinned case exists."""
    names = {c["name"] for c in CASES}
    assert GOLDEN["provenance"]["go"].startswith("go1.")
    assert sum(c["ok"] for c in CASES) >= 80
    assert sum(not c["ok"] for c in CASES) >= 120
    assert set(NEWER_GO_REJECTS) <= names
    assert len(names) == len(CASES)


COMPARED = [c for c in CASES if c["name"] not in NEWER_GO_REJECTS]


@pytest.mark.parametrize("case", COMPARED, ids=[c["name"] for c in COMPARED])
def test_decoding_agrees_with_go(case: dict[str, Any]) -> None:
    """A document Go decodes gives the same values; one Go rejects is Unreadable."""
    result = parse_index(document(case))
    if case["ok"]:
        assert result == expected_index(case["value"])
    else:
        assert isinstance(result, Unreadable), case["error"]


@pytest.mark.parametrize("name", sorted(NEWER_GO_REJECTS))
def test_offsets_newer_go_rejects(name: str) -> None:
    """Go 1.19 accepts these offsets and Go 1.20+ does not; the project sides with the newer Go."""
    case = next(c for c in CASES if c["name"] == name)
    assert case["ok"]
    assert isinstance(parse_index(document(case)), Unreadable)
