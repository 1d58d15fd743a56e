"""Ctrl-C or SIGTERM during `run` without a half-written VM.

A VM is written as one unit: its merge patch (with the re-reads and re-decisions a conflict
asks for) and then its Events. Interrupted in the middle, the patch may have reached the API
server with its Events never sent, or the response may be lost, so the run could not even say
what it did. While a unit is being written, an interrupt is therefore held: the unit completes
and the interrupt is raised as soon as it has. Anywhere else it interrupts at once, as usual.

SIGTERM is what Kubernetes sends when the Job is deleted, its activeDeadlineSeconds passes or the
node drains; the pod then has terminationGracePeriodSeconds (30 s by default) before SIGKILL. One
VM's writes take a few requests, each bounded by the API client's deadline, so finishing the unit
fits in that grace. Without a handler Python would die at once on SIGTERM, mid-unit.

A second signal during the same unit interrupts at once: every request is bounded by the API
client's deadline, but a user who presses twice has decided not to wait for it. The exception
then names the VM that may be half-written.

The handlers are installed only from the main thread, and only where the signal has its default
disposition (a job started with SIGINT ignored keeps ignoring it; an embedding program's own
SIGTERM handler is left alone).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM: stop like Ctrl-C (whole VMs only), with its own exit status (128 + 15)."""


def _interrupt(signum: int, message: str = "") -> KeyboardInterrupt:
    if signum == signal.SIGTERM:
        return Terminated(message or "terminated (SIGTERM)")
    return KeyboardInterrupt(message) if message else KeyboardInterrupt()


class Interrupts:
    """Holds an interrupt while a unit is being written; `writing(what)` marks the unit."""

    def __init__(self) -> None:
        self._writing: str | None = None
        self._pending: int | None = None  # the signal held until the unit completes

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._writing is None:
            raise _interrupt(signum)
        if self._pending is not None:
            raise _interrupt(signum, f"interrupted again while writing {self._writing}; it may be half-written")
        self._pending = signum

    @contextlib.contextmanager
    def writing(self, what: str) -> Iterator[None]:
        """Write one unit (`what` names it); an interrupt meanwhile is raised once it is complete."""
        if self._writing is not None:  # already inside a unit: it ends with the outer one
            yield
            return
        self._writing = what
        try:
            yield
        finally:
            self._writing = None
        if self._pending is not None:
            signum, self._pending = self._pending, None
            raise _interrupt(signum)


# The disposition each signal must have for the job to take it over: Python's own Ctrl-C handler,
# and SIGTERM's default (terminate).
_DEFAULTS: dict[signal.Signals, Any] = {
    signal.SIGINT: signal.default_int_handler,
    signal.SIGTERM: signal.SIG_DFL,
}


@contextlib.contextmanager
def held_during_writes() -> Iterator[Interrupts]:
    """Install the handlers for the duration (from the main thread, where a signal has its default)."""
    guard = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    taken: dict[signal.Signals, Callable[..., Any] | int | None] = {}
    for signum, default in _DEFAULTS.items():
        if signal.getsignal(signum) is default:
            taken[signum] = signal.signal(signum, guard.handle)
    try:
        yield guard
    finally:
        for signum, previous in taken.items():
            signal.signal(signum, previous)
