"""structlog set-up: one JSON object per line in-cluster, readable lines on a terminal. Always stderr,
so the plan on stdout stays machine-readable.

Records of the standard `logging` module (the S3 reader's retries, botocore, urllib3) and Python
warnings (urllib3's InsecureRequestWarning under insecureSkipTLSVerify) go through the same
renderer, so a log collector parsing JSON lines never meets a plain-text line.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from reconciler.textsafe import terminal_safe

_HANDLER_NAME = "full-backup-reconciler"


def _terminal_safe(_logger: object, _method: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
    """The console renderer prints most strings as they are: escape what came from the cluster.

    Other values are printed with repr(), which escapes control characters itself (a string the
    renderer quotes, one with spaces, shows its escapes doubled: still one safe line). JSON lines
    escape everything themselves.
    """
    return {key: terminal_safe(value) if isinstance(value, str) else value for key, value in event.items()}


def configure(fmt: str, *, stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    renderers: list[structlog.typing.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if fmt == "json"
        else [_terminal_safe, structlog.dev.ConsoleRenderer(colors=False)]
    )
    shared: list[structlog.typing.Processor] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, *renderers],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.add_logger_name, structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *renderers],
        foreign_pre_chain=shared,
    ))
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != _HANDLER_NAME] + [handler]
    root.setLevel(logging.WARNING)  # libraries: warnings and errors only
    logging.getLogger("reconciler").setLevel(logging.INFO)  # this job's own records, retries included
    # captureWarnings(True) does nothing once called, even after someone put warnings.showwarning
    # back (pytest does, per test; so may an embedding program): release it, then take it again.
    logging.captureWarnings(False)
    logging.captureWarnings(True)
