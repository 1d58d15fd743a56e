"""Names are data, not terminal control: hostile names and values reach the terminal escaped.

A VM named with an ESC sequence, a newline and a right-to-left override, and an annotation value
holding a C1 control and a bidi isolate, through `plan` (table), `explain` and the console log:
no control or bidi character reaches the terminal, each VM stays on one table row. `-o json` and
`-o yaml` are data for programs and carry the names unchanged.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from reconciler.cli import main
from reconciler.core import keys
from reconciler.textsafe import terminal_safe

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "snapshot"
NOW = "2026-11-24T20:00:00Z"
EVIL = "evil\x1b[2J\x1b]0;owned\x07\nprod/web-1        keep\u202eexe.txt\t\x7f"
EVIL_SHOWN = "evil\\x1b[2J\\x1b]0;owned\\x07\\nprod/web-1        keep\\u202eexe.txt\\t\\x7f"
VALUE = "7\x9b31m\u2066x"
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def vm(name: str, annotations: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {
            "name": name,
            "namespace": "prod",
            "annotations": annotations,
            "labels": {},
            "uid": f"uid-{len(name)}",
            "resourceVersion": "1",
        },
        "spec": {"runStrategy": "Always"},
        "status": {"printableStatus": "Running", "changedBlockTracking": {"state": "Enabled"}},
    }


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    snap = tmp_path / "snap"
    shutil.copytree(EXAMPLE, snap)
    hostile = [vm(EVIL, {}), vm("bad-value", {keys.INTERVAL: VALUE})]
    (snap / "cluster" / "hostile.json").write_text(json.dumps({"kind": "List", "items": hostile}))
    return snap


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred", "\\x1b[31mred"),
        ("a\nb\rc\td", "a\\nb\\rc\\td"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),
        ("\u202egnp.exe", "\\u202egnp.exe"),
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),
        ("\u200e\u200f\u061c\u202a\u202b\u202c\u202d", "\\u200e\\u200f\\u061c\\u202a\\u202b\\u202c\\u202d"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        (
            "db-1 caf\u00e9 \u540d\u524d \u05e9\u05dc\u05d5\u05dd",
            "db-1 caf\u00e9 \u540d\u524d \u05e9\u05dc\u05d5\u05dd",
        ),
    ],
)
def test_controls_and_bidi_controls_are_escaped_and_nothing_else(raw: str, shown: str) -> None:
    """C0, DEL, C1, bidi and line-separator characters become escapes; letters of any script stay."""
    assert terminal_safe(raw) == shown


def test_the_table_and_the_console_log_show_hostile_names_escaped(snapshot: Path) -> None:
    """plan's table and its console log: no control or bidi character, the hostile VM on one row."""
    code, out, err = cli("plan", "--snapshot", str(snapshot), "--now", NOW, "--log-format", "console", "-v")
    assert code == 1
    assert UNSAFE.search(out) is None and UNSAFE.search(err) is None
    rows = [line for line in out.splitlines() if line.startswith("prod/evil")]
    assert len(rows) == 1 and rows[0].startswith(f"prod/{EVIL_SHOWN}  ")
    bad = next(line for line in out.splitlines() if line.startswith("prod/bad-value"))
    assert "\\x9b31m\\u2066x" in bad
    assert len([line for line in err.splitlines() if "prod/evil" in line]) == 1  # its decision, on one line


def test_explain_shows_hostile_names_escaped(snapshot: Path) -> None:
    """explain of the hostile VM: every line escaped, the name shown once per line it appears on."""
    code, out, _ = cli("explain", f"prod/{EVIL}", "--snapshot", str(snapshot), "--now", NOW)
    assert code == 1  # no valid Kubernetes name: the snapshot refuses to read its folder, that VM's error
    assert UNSAFE.search(out) is None
    assert "not a valid DNS-1123 subdomain" in out
    assert out.splitlines()[0].startswith(f"VirtualMachine prod/{EVIL_SHOWN}: status Running")


def test_an_error_line_shows_hostile_names_escaped(snapshot: Path) -> None:
    """The `error:` line on stderr: a VM name from the command line cannot move the cursor either."""
    code, _, err = cli("explain", "prod/\x1b[2Jgone", "--snapshot", str(snapshot), "--now", NOW)
    assert code == 2
    assert err == "error: VirtualMachine prod/\\x1b[2Jgone not found\n"


def test_json_and_yaml_carry_the_names_unchanged(snapshot: Path) -> None:
    """-o json and -o yaml are data: the name and the value come back exactly as the cluster holds them."""
    _, out, _ = cli("plan", "--snapshot", str(snapshot), "--now", NOW, "-o", "json")
    doc = json.loads(out)
    assert EVIL in [v["name"] for v in doc["vms"]]
    assert VALUE in next(v for v in doc["vms"] if v["name"] == "bad-value")["detail"]["message"]
    _, out, _ = cli("plan", "--snapshot", str(snapshot), "--now", NOW, "-o", "yaml")
    assert yaml.safe_load(out) == doc
