"""Quiet by default at a terminal, everything in the job's log: the log levels and how fields read."""

from __future__ import annotations

import io
import json
import logging
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import structlog
from urllib3.exceptions import InsecureRequestWarning

from reconciler import logs
from reconciler.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "snapshot"
NOW = "2026-11-24T20:00:00Z"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    own = logging.getLogger("reconciler").level
    yield
    root.handlers, root.level = handlers, level
    logging.getLogger("reconciler").setLevel(own)
    logging.captureWarnings(False)


def cli(*argv: str, environ: Mapping[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), environ=environ or {}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_console_plan_prints_one_count_line_and_no_info() -> None:
    """At a terminal, plan's stderr is the count line alone: the table says the rest."""
    code, _, err = cli("plan", "--snapshot", str(EXAMPLE), "--now", NOW)
    assert code == 1
    assert err.splitlines() == ["21 VMs decided, 2 errors"]


def test_verbose_shows_decisions_with_json_like_fields() -> None:
    """-v brings back one line per decision; its fields read as JSON (null, true), not Python (None)."""
    _, _, err = cli("plan", "--snapshot", str(EXAMPLE), "--now", NOW, "-v")
    decisions = [line for line in err.splitlines() if " decision " in line]
    assert len(decisions) == 21
    assert "[info   ]" in decisions[0]
    assert "None" not in err and "True" not in err
    assert '"latest": null' in err


def test_log_level_wins_over_the_default() -> None:
    _, _, err = cli("plan", "--snapshot", str(EXAMPLE), "--now", NOW, "--log-level", "info", "-q")
    assert " plan-done " in err


def test_json_logs_keep_info_in_cluster() -> None:
    """In-cluster (JSON logs) and for run, every decision is logged at info, as the job's record."""
    for argv, environ in [
        (("run", "--dry-run", "--log-format", "json"), {}),
        (("plan",), {"KUBERNETES_SERVICE_HOST": "10.0.0.1"}),
    ]:
        _, _, err = cli(*argv, "--snapshot", str(EXAMPLE), "--now", NOW, environ=environ)
        records = [json.loads(line) for line in err.splitlines()]
        assert sum(r["event"] == "decision" for r in records) == 21, argv
        assert any(r["level"] == "error" and r["event"] == "invalid-schedule" for r in records), argv


def test_a_library_warning_is_logged_once_per_run() -> None:
    """urllib3 warns on every request under insecureSkipTLSVerify; the log says it once a run."""
    for _run in range(2):
        buf = io.StringIO()
        logs.configure("console", stream=buf, level="warning")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            for _ in range(3):
                warnings.warn(
                    "Unverified HTTPS request is being made to host 's3.example'", InsecureRequestWarning, stacklevel=1
                )
        assert buf.getvalue().count("InsecureRequestWarning: Unverified HTTPS request") == 1


def test_console_values_are_json() -> None:
    buf = io.StringIO()
    logs.configure("console", stream=buf, level="info")
    structlog.get_logger("reconciler").info("x", a=None, b=True, c={"k": [1, "two"]}, d="plain", e="two words")
    line = buf.getvalue().strip()
    assert line.endswith('x a=null b=true c={"k": [1, "two"]} d=plain e="two words"')


def test_errors_only_drops_the_count_line_too() -> None:
    """-qq (errors only): a console plan writes nothing on stderr; the table still lists the errors."""
    code, out, err = cli("plan", "--snapshot", str(EXAMPLE), "--now", NOW, "-qq")
    assert (code, err) == (1, "")
    assert "\nErrors:\n" in out
