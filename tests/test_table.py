"""The plan's table as a person reads it: fitted to the terminal, filtered, aligned whatever the names."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.termtable import cut, display_width, table, wrap

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "snapshot"
GOLDEN = Path(__file__).resolve().parent / "golden"
NOW = "2026-11-24T20:00:00Z"


def plan(*extra: str, columns: int | None = None, snapshot: Path = EXAMPLE) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    environ = {} if columns is None else {"COLUMNS": str(columns)}
    code = main(["plan", "--snapshot", str(snapshot), "--now", NOW, *extra], environ=environ, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def vm_rows(out: str) -> list[str]:
    """The VM table's rows, its header excluded."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("VM "))
    end = lines.index("", start)
    return lines[start + 1 : end]


@pytest.mark.parametrize("columns", [80, 100, 200])
def test_every_line_fits_the_terminal(columns: int) -> None:
    """At 80, 100 and 200 columns no line of the table is wider than the terminal."""
    _, out, _ = plan(columns=columns)
    widths = [display_width(line) for line in out.splitlines()]
    assert max(widths) <= columns
    if columns == 80:  # no room for a useful DETAIL: it is left out, and the table says where it is
        assert "DETAIL needs a wider terminal: -o wide, or explain NAMESPACE/VM." in out
    else:
        assert any(line.endswith("…") for line in out.splitlines())  # DETAIL was cut, not wrapped


def test_wide_keeps_the_whole_detail() -> None:
    """-o wide prints DETAIL in full, however narrow the terminal, and NEXT RUN as a time."""
    _, out, _ = plan("-o", "wide", columns=80)
    assert "…" not in out
    assert max(display_width(line) for line in out.splitlines()) > 80
    assert "2026-11-25T01:00:00Z" in out


def test_next_run_is_relative_by_default() -> None:
    """The default table says when the next run is from now ("in 5h"), not as a time."""
    _, out, _ = plan(columns=200)
    row = next(r for r in vm_rows(out) if r.startswith("prod/db-1 "))
    assert " in 5h " in row


def test_no_headers_prints_the_vm_rows_alone() -> None:
    """--no-headers: one line per VM, nothing else (no title, Schedules, header or summary)."""
    _, out, _ = plan("--no-headers", columns=200)
    lines = out.splitlines()
    assert len(lines) == 21
    assert lines[0].split()[:2] == ["dev/dev-1", "keep"]
    assert not any(line.startswith(("VM ", "Plan as of", "Summary", "SCHEDULE")) for line in lines)


def test_output_name_is_one_ref_a_line() -> None:
    """-o name prints NAMESPACE/NAME per VM, which `explain` takes as it is."""
    _, out, _ = plan("-o", "name", "--action", "force-full")
    assert out == "dev/dev-5\nprod/db-1\nprod/web-2\nstaging/builder\nstaging/scratch\n"


def test_filters_narrow_the_output_not_the_decisions() -> None:
    """--vm-namespace and --action (repeatable) keep the rows that match; the summary still counts all."""
    _, out, _ = plan("--vm-namespace", "prod", "--vm-namespace", "qa", "--action", "skip", columns=200)
    assert [r.split()[0] for r in vm_rows(out)] == ["prod/app-legacy", "prod/cache-1", "qa/qa-1"]
    assert "Summary: 5 force-full, 1 blocked, 6 full-anyway, 2 release, 2 keep, 4 skip, 1 error" in out


def test_a_filter_matching_nothing_says_so() -> None:
    _, out, _ = plan("--vm-namespace", "nowhere", columns=200)
    assert "No VM matches --vm-namespace/--action." in out


def test_json_and_yaml_are_the_documented_bytes() -> None:
    """-o json and -o yaml print the same bytes as before the table's options existed, filters or not."""
    for fmt in ("json", "yaml"):
        golden = (GOLDEN / f"plan-example.{fmt}").read_text(encoding="utf-8")
        assert plan("-o", fmt)[1] == golden, fmt
        assert plan("-o", fmt, "--action", "keep", "--no-headers", columns=80)[1] == golden, fmt


def test_schedule_problem_does_not_repeat_its_name() -> None:
    """The PROBLEM cell of a Schedule row starts with the problem, not the Schedule's name."""
    _, out, _ = plan("-o", "wide")
    row = next(line for line in out.splitlines() if line.startswith("velero/finance-hourly "))
    assert row.count("finance-hourly") == 1


def test_errors_follow_the_table() -> None:
    """Every error is listed after the table, and one count line on stderr says how many there were."""
    code, out, err = plan(columns=200)
    assert code == 1
    tail = out[out.index("Summary:") :]
    assert "Errors:\n  Schedule velero/finance-hourly: " in tail
    assert "  VM dev/dev-3: " in tail
    assert err == "21 VMs decided, 2 errors\n"


def test_wide_names_keep_the_columns_aligned(tmp_path: Path) -> None:
    """A VM named in CJK and emoji takes two columns a character: the next column still starts at
    the same place on every row."""
    snap = tmp_path / "snap"
    shutil.copytree(EXAMPLE, snap)
    vms = snap / "cluster" / "virtualmachines.yaml"
    vms.write_text(vms.read_text(encoding="utf-8").replace("name: web-1\n", "name: 网站-🚀\n", 1), encoding="utf-8")
    _, out, _ = plan(columns=200, snapshot=snap)
    rows = vm_rows(out)
    assert any("网站-🚀" in r for r in rows)
    starts = set()
    for row in rows:
        name = row.split("  ")[0]
        rest = row[len(name) :]
        starts.add(display_width(name) + len(rest) - len(rest.lstrip(" ")))
    assert len(starts) == 1


def test_display_width_counts_wide_and_zero_width_characters() -> None:
    assert display_width("web-1") == 5
    assert display_width("网站") == 4
    assert display_width("🚀") == 2
    assert display_width("e\u0301") == 1  # a combining accent takes no column


def test_cut_ends_in_an_ellipsis_within_the_width() -> None:
    assert cut("abcdef", 6) == "abcdef"
    assert cut("abcdef", 4) == "abc…"
    assert cut("网站网站", 5) == "网站…"
    assert display_width(cut("网站网站", 4)) <= 4


def test_table_pads_by_display_width() -> None:
    lines = table([["A", "B"], ["网站", "x"], ["ab", "y"]])
    assert lines == ["A     B", "网站  x", "ab    y"]


def test_wrap_keeps_the_indent_of_a_listed_line() -> None:
    """A long line of a list ("  Schedule x: ...") wraps under itself, indented further."""
    assert wrap("  one two three four", 12, indent="  ") == ["  one two", "    three", "    four"]
    assert wrap("short", 12) == ["short"] and wrap("no width at all here", None) == ["no width at all here"]
