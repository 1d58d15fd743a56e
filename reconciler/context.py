"""What a command is given of the world outside the program: environment, streams, clock and sleep.

Injected rather than reached for (`os.environ`, `sys.stdout`, `time.sleep`), so tests call `main`
like a function and every command sees one consistent world.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol, TextIO

from reconciler.textsafe import terminal_safe


class Output(Protocol):
    def write(self, text: str, /) -> int: ...
    def flush(self) -> None: ...


class Context:
    """The world outside the program, injected so tests call `main` like a function."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str],
        stdout: Output,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None],
        stderr: TextIO = sys.stderr,
        console: TextIO | None = None,
        stdout_tty: bool = False,
    ) -> None:
        self.environ = environ
        self.stdout = stdout
        self.console = console  # stderr when a person reads it (console logs), else None
        self.stdout_tty = stdout_tty
        self.count_line = True  # the "N VMs decided, M errors" line on the console (-qq: not even that)
        self.stderr = stderr  # where a progress bar is drawn, if it is a terminal
        self.clock = clock
        self.sleep = sleep


def say(err: TextIO, text: str) -> None:
    """A message on stderr, each of its own lines escaped (an incomplete snapshot lists one problem a line,
    and a name in them must not add lines of its own); quiet if stderr is gone too (`2>&1 | head`)."""
    with contextlib.suppress(OSError, ValueError):
        err.write("".join(terminal_safe(line) + "\n" for line in text.split("\n")))
        err.flush()
