"""Command line: `main(argv) -> int`, the entry point, and the mapping of every outcome to an exit status.

0: everything decided (and applied); 1: some objects ended in error; 2: bad usage or
configuration, nothing written, or an unexpected error; 130: interrupted (Ctrl-C); 143:
terminated (SIGTERM); 141: the reader of the output went away (`plan | head`). Whatever happens,
the console gets one `error:` line, never a traceback. A command that finishes returns 0 or 1
(`commands`); anything else ends it with an exception, which is mapped to its status here and
nowhere else.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TextIO

import argcomplete
import structlog

from reconciler import logs, options
from reconciler.commands import COMMANDS, EXIT_ERRORS, EXIT_OK
from reconciler.context import Context, say
from reconciler.errors import ForbiddenError, ReconcilerError, UsageError
from reconciler.interrupts import Terminated
from reconciler.progress import is_terminal

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT: what a shell reports for a command stopped by Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM: the Job deleted, its deadline passed, or the node drained
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `yes | head`
Command = Callable[[argparse.Namespace, Context], int]


class OutputClosed(Exception):
    """The reader of stdout went away (`plan | head`)."""


class _Stdout:
    """stdout whose reader may go away (`plan | head`): that ends the program quietly, not with a
    traceback; any other failure to write it (a full disk) is one `error:` line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str, /) -> int:
        with self._failures():
            return self.stream.write(text)

    def flush(self) -> None:
        with self._failures():
            self.stream.flush()

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            raise OutputClosed from None
        except OSError as exc:
            raise UsageError(f"cannot write the output: {exc.strerror or exc}") from None


def parser() -> argparse.ArgumentParser:
    return options.build(COMMANDS)


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> int:
    environ = os.environ if environ is None else environ
    err = stderr or sys.stderr
    root = parser()
    argcomplete.autocomplete(root)  # answers the shell's completion request and exits; else does nothing
    try:
        args = root.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage message
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    in_cluster = "KUBERNETES_SERVICE_HOST" in environ
    log_format = args.log_format or ("json" if in_cluster else "console")
    level = options.log_level(args, log_format)
    logs.configure(log_format, stream=err, level=level)
    stream = stdout or sys.stdout
    out = _Stdout(stream)
    ctx = Context(
        environ=environ,
        stdout=out,
        clock=clock or (lambda: datetime.now(UTC)),
        sleep=sleep or time.sleep,
        console=err if log_format == "console" else None,
        stdout_tty=is_terminal(stream),
        stderr=err,
    )
    ctx.count_line = level != "error"
    func: Command = args.func
    try:
        code = func(args, ctx)
        out.flush()
    except UsageError as exc:
        say(err, f"error: {exc}")
        return EXIT_USAGE
    except ForbiddenError as exc:  # nothing could be read, so nothing was written: configuration
        say(err, f"error: {exc}")
        say(err, "hint: the job's RBAC rules are in manifests/base (Role, ClusterRole)")
        return EXIT_USAGE
    except ReconcilerError as exc:
        say(err, f"error: {exc}")
        return EXIT_ERRORS
    except KeyboardInterrupt as exc:
        say(err, f"error: {str(exc) or 'interrupted'}")
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except OutputClosed:
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # noqa: BLE001 - the last resort: one line on the console, never a traceback
        if log_format == "json":  # the traceback goes where bug reports come from: the job's log
            with contextlib.suppress(OSError, ValueError):
                structlog.get_logger("reconciler").error("unexpected-error", exc_info=exc)
        say(
            err,
            f"error: unexpected {type(exc).__name__}: {exc} (a bug; please report it"
            + (")" if log_format == "json" else "; --log-format json logs the traceback)"),
        )
        return EXIT_USAGE
    return code


def entry() -> None:
    sys.exit(main())
