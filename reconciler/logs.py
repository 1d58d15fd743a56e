"""structlog set-up: one JSON object per line in-cluster, readable lines on a terminal. Always stderr,
so the plan on stdout stays machine-readable.

Records of the standard `logging` module (the S3 reader's retries, botocore, urllib3) and Python
warnings (urllib3's InsecureRequestWarning under insecureSkipTLSVerify) go through the same
renderer, so a log collector parsing JSON lines never meets a plain-text line. A library warning
repeated on every request (urllib3 warns per request, whatever the warnings filters say) is logged
once per run.

On a console, fields are written JSON-like (`null`, `true`, `{"a": 1}`), not as Python reprs, so
what a person copies from the console reads the same as the JSON lines of the job's log.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

import structlog

from reconciler.textsafe import terminal_safe

_HANDLER_NAME = "full-backup-reconciler"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@+,")


def _console_value(value: Any) -> str:
    """A field's value as JSON would write it; a plain word (a name, a code) without quotes."""
    if isinstance(value, str) and value and set(value) <= _BARE:
        return value
    text = json.dumps(value, ensure_ascii=False, default=str)
    return terminal_safe(text)  # JSON escapes controls already; bidi marks it leaves as they are


def _console_renderer(_logger: object, _method: str, event: structlog.typing.EventDict) -> str:
    """`TIME [level   ] event key=value ...`, the values JSON-like, and an exception's text after."""
    fields = dict(event)
    head = [
        str(fields.pop("timestamp", "")),
        f"[{fields.pop('level', '')!s:<7}]",
        terminal_safe(str(fields.pop("event", ""))),
    ]
    exception = fields.pop("exception", None)
    line = " ".join([*head, *(f"{key}={_console_value(value)}" for key, value in fields.items())])
    return line if exception is None else f"{line}\n{exception}"


class _OncePerRun(logging.Filter):
    """A Python warning (`py.warnings`) whose text was already logged in this run is dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "py.warnings":
            return True
        text = record.getMessage()
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


def configure(fmt: str, *, stream: TextIO | None = None, level: str = "info") -> None:
    """Route the job's events, library records and Python warnings to `stream` in format `fmt`
    (json or console); the job's own events below `level` are dropped, libraries' below warning."""
    out = stream or sys.stderr
    threshold = LEVELS[level]
    renderers: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if fmt == "json"
        else [structlog.processors.format_exc_info, _console_renderer]
    )
    shared: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, *renderers],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(_OncePerRun())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *renderers,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != _HANDLER_NAME] + [handler]
    root.setLevel(max(logging.WARNING, threshold))  # libraries: warnings and errors only
    logging.getLogger("reconciler").setLevel(threshold)  # this job's own records, retries included
    # captureWarnings(True) does nothing once called, even after someone put warnings.showwarning
    # back (pytest does, per test; so may an embedding program): release it, then take it again.
    logging.captureWarnings(False)
    logging.captureWarnings(True)
