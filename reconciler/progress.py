"""A progress bar on stderr while a person watches a long run, and nothing at all otherwise.

`plan`/`run` over thousands of VMs and `simulate` over many windows can take minutes. The bar is
drawn only when stderr is a terminal: a CronJob's log, a pipe or a file never gets one. The work
tells it `(done, total)`; the bar is `rich`'s, cleared when the work ends so the output that
follows starts on a clean line.
"""

from __future__ import annotations

from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed stream, or a stand-in without isatty
        return False


class Bar:
    """A callable `(done, total)` that draws a bar on `stream` if it is a terminal. Use it as a
    context manager so the bar is cleared however the work ends."""

    def __init__(self, stream: TextIO, *, label: str) -> None:
        self.stream = stream
        self.label = label
        self.enabled = is_terminal(stream)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        if self._progress is None:
            console = Console(file=self.stream, force_terminal=True, stderr=True)
            self._progress = Progress(
                TextColumn(self.label),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=total)
        assert self._task is not None
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
