"""Ctrl-C during `run` without a half-written VM.

A VM is written as one unit: its merge patch (with the re-reads and re-decisions a conflict
asks for) and then its Events. Interrupted in the middle, the patch may have reached the API
server with its Events never sent, or the response may be lost, so the run could not even say
what it did. While a unit is being written, Ctrl-C is therefore held: the unit completes and the
interrupt is raised as soon as it has. Anywhere else Ctrl-C interrupts at once, as usual.

A second Ctrl-C during the same unit interrupts at once: every request is bounded by the API
client's deadline, but a user who presses twice has decided not to wait for it. The exception
then names the VM that may be half-written.

The handler is installed only from the main thread, and only where SIGINT has Python's default
handler (a job started with SIGINT ignored keeps ignoring it).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Interrupts:
    """Holds Ctrl-C while a unit is being written; `writing(what)` marks the unit."""

    def __init__(self) -> None:
        self._writing: str | None = None
        self._pending = False

    def handle(self, _signum: int, _frame: FrameType | None) -> None:
        if self._writing is None:
            raise KeyboardInterrupt
        if self._pending:
            raise KeyboardInterrupt(f"interrupted again while writing {self._writing}; it may be half-written")
        self._pending = True

    @contextlib.contextmanager
    def writing(self, what: str) -> Iterator[None]:
        """Write one unit (`what` names it); a Ctrl-C meanwhile is raised once it is complete."""
        if self._writing is not None:  # already inside a unit: it ends with the outer one
            yield
            return
        self._writing = what
        try:
            yield
        finally:
            self._writing = None
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt


@contextlib.contextmanager
def held_during_writes() -> Iterator[Interrupts]:
    """Install the handler for the duration (when this is the main thread and SIGINT is Python's own)."""
    guard = Interrupts()
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield guard
        return
    signal.signal(signal.SIGINT, guard.handle)
    try:
        yield guard
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
