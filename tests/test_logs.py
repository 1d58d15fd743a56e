"""Every line on stderr is a log record of the chosen format, whoever emitted it.

Each test changes process-wide logging; the autouse fixture in conftest.py puts it back.
"""

from __future__ import annotations

import io
import json
import logging
import warnings

from urllib3.exceptions import InsecureRequestWarning

from reconciler import logs


def test_library_records_and_warnings_are_json_lines() -> None:
    """The S3 reader's retry notes (stdlib logging, INFO) and urllib3's InsecureRequestWarning come
    out as JSON objects like the job's own events; other libraries' INFO records stay out."""
    buf = io.StringIO()
    logs.configure("json", stream=buf)
    logging.getLogger("reconciler.sources.s3").info("retrying GetObject s3://b/k in %.2fs", 0.5)
    logging.getLogger("botocore.credentials").info("Found credentials in environment variables.")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn(
            "Unverified HTTPS request is being made to host 's3.example'", InsecureRequestWarning, stacklevel=1
        )
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [(r["level"], r["logger"]) for r in lines] == [("info", "reconciler.sources.s3"), ("warning", "py.warnings")]
    assert lines[0]["event"] == "retrying GetObject s3://b/k in 0.50s"
    assert "Unverified HTTPS request" in lines[1]["event"] and "timestamp" in lines[1]


def test_configuring_twice_keeps_one_handler() -> None:
    buf = io.StringIO()
    logs.configure("console", stream=io.StringIO())
    logs.configure("console", stream=buf)
    logging.getLogger("reconciler.x").warning("once")
    assert buf.getvalue().count("once") == 1


def test_warnings_are_taken_again_after_someone_restored_the_hook() -> None:
    """A second configure in one process (tests, an embedding program) routes warnings again even
    though warnings.showwarning was put back in between: captureWarnings(True) alone would not."""
    logs.configure("json", stream=io.StringIO())
    warnings.showwarning = warnings._showwarning_orig  # type: ignore[attr-defined]  # what pytest does
    buf = io.StringIO()
    logs.configure("json", stream=buf)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("late", UserWarning, stacklevel=1)
    assert ["UserWarning: late" in json.loads(line)["event"] for line in buf.getvalue().splitlines()] == [True]
