"""`simulate --plot FILE.png`: fulls, chain lengths and storage held per window, with and without the
budget, and the storage held without any policy beside it.

The target is checked before the simulation runs, so a typo does not throw minutes of work away:
the name must end in `.png` (matplotlib would pick another format, or add `.png` to a directory's
name), and a temporary file is created beside it at once, which proves the directory writable.
The drawing goes into that file and is renamed over the target, so an interrupted or failed run
never leaves half a PNG; a run that does not get as far as drawing removes it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import UsageError
from reconciler.simulate.scenario import GIB, Result, policy_text

if TYPE_CHECKING:  # matplotlib is optional at run time: imported only when --plot is given
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

TITLE_WIDTH = 90  # characters per title line: wider ones are cut off at 10 inches and 100 dpi


def _matplotlib() -> tuple[type[FigureCanvasAgg], type[Figure]]:
    """The Agg canvas and the Figure class, without pyplot's global state."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415 - optional, heavy
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError as exc:
        raise UsageError(f"--plot needs matplotlib ({exc}); install it with: pip install matplotlib") from None
    return FigureCanvasAgg, Figure


class PlotFile:
    """A checked target and the temporary file beside it; `draw` fills the file and renames it."""

    def __init__(self, target: Path, temporary: Path) -> None:
        self.target = target
        self.temporary = temporary

    def draw(self, result: Result, baseline: Result | None, unbounded: Result | None = None) -> None:
        canvas, figure = _matplotlib()
        fig = figure(figsize=(10, 9), layout="constrained")
        canvas(fig)
        _panels(fig, result, baseline, unbounded)
        try:
            fig.savefig(self.temporary, format="png", dpi=100, metadata={"Software": None})
            self.temporary.replace(self.target)
        except OSError as exc:
            raise UsageError(f"--plot {self.target}: cannot write: {exc.strerror or exc}") from None


@contextlib.contextmanager
def plot_file(name: str) -> Iterator[PlotFile]:
    """Check `name` as a PNG target now; whatever happens later, no temporary file is left behind."""
    _matplotlib()
    target = Path(name)
    if target.is_dir():
        raise UsageError(f"--plot {name}: is a directory; name a file in it, e.g. {target / 'simulate.png'}")
    if target.suffix.lower() != ".png":
        raise UsageError(f"--plot {name}: not a PNG file name; the name must end in .png")
    folder = target.parent
    if not folder.is_dir():
        problem = "is not a directory" if folder.exists() else "does not exist"
        raise UsageError(f"--plot {name}: {folder} {problem}")
    if target.exists() and not os.access(target, os.W_OK):
        raise UsageError(f"--plot {name}: cannot overwrite it (permission denied)")
    # Created now, with the mode a new file gets (umask applied), to prove the directory writable.
    temporary = folder / f".{target.name}.{os.getpid()}.tmp"
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise UsageError(f"--plot {name}: cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        if target.exists():
            shutil.copymode(target, temporary)  # replacing the file keeps its permissions
        yield PlotFile(target, temporary)
    finally:
        temporary.unlink(missing_ok=True)


def _title(result: Result, baseline: Result | None) -> str:
    s = result.scenario
    policy = policy_text(s) or "no policy"
    joined = "created at once" if s.join == "once" else "joining over a cycle"
    lines = [f"{s.vms} VMs {joined}, schedule {s.schedule!r}, {policy}"]
    if result.peak_fulls_after_warmup is not None:
        label = "no budget" if s.budget is None else f"budget {s.budget}"
        peak = f"most fulls in a window after the warm-up: {result.peak_fulls_after_warmup} ({label})"
        if baseline is not None:
            peak += f", {baseline.peak_fulls_after_warmup} without budget"
        lines.append(peak)
    return "\n".join(textwrap.fill(line, TITLE_WIDTH) for line in lines)


def _panels(fig: Figure, result: Result, baseline: Result | None, unbounded: Result | None) -> None:
    """Fulls per window on top, the longest and average chain below it, the storage held at the
    bottom; the run without budget drawn first, wide and pale, so where both runs agree it shows as
    a band around the budgeted line."""
    s = result.scenario
    x = [w.window for w in result.windows]
    top, bottom, held = fig.subplots(3, 1, sharex=True, height_ratios=(3, 2, 2))
    label = "no budget" if s.budget is None else f"budget {s.budget}"
    same = baseline is not None and [w.fulls for w in baseline.windows] == [w.fulls for w in result.windows]
    runs = [
        (baseline, "without budget" + (" (the same)" if same else ""), "tab:red", 4.0, 0.4),
        (result, label, "tab:blue", 1.8, 1.0),
    ]
    for r, name, color, width, alpha in runs:
        if r is None:
            continue
        top.step(x, [w.fulls for w in r.windows], where="mid", color=color, linewidth=width, alpha=alpha, label=name)
        bottom.step(
            x,
            [w.max_chain for w in r.windows],
            where="mid",
            color=color,
            linewidth=width,
            alpha=alpha,
            label=f"longest, {name}",
        )
        bottom.plot(
            x,
            [w.mean_chain for w in r.windows],
            color=color,
            linewidth=min(width, 3.0),
            alpha=alpha,
            linestyle="--",
            label=f"average, {name}",
        )
    if s.budget is not None:
        top.axhline(s.budget, color="tab:blue", linestyle=":", linewidth=1, label=f"max-per-run {s.budget}")
    if s.interval is not None:
        bottom.axhline(
            s.interval + 1,
            color="0.4",
            linestyle=":",
            linewidth=1,
            label=f"policy limit ({s.interval} incrementals + the full)",
        )
    top.axvspan(-0.5, result.warmup - 0.5, color="0.92", label=f"warm-up: two cycles ({result.warmup} windows)")
    top.set_title(_title(result, baseline), fontsize="medium")
    top.set_ylabel("full backups per window")
    peak = max(w.fulls for r in (result, baseline) if r is not None for w in r.windows)
    top.set_ylim(0, max(peak, 1) * 1.3)  # room for the legend above the peaks
    top.legend(loc="upper center", ncols=4, fontsize="small", framealpha=0.95)
    top.grid(alpha=0.3)
    bottom.set_ylabel("chain length (members)")
    bottom.set_ylim(0, max(result.max_chain, baseline.max_chain if baseline else 0) + 3)
    bottom.legend(loc="upper right", ncols=3 if baseline is not None else 2, fontsize="small", framealpha=0.95)
    bottom.grid(alpha=0.3)
    _held_panel(held, result, baseline, unbounded)


def _held_panel(ax: Axes, result: Result, baseline: Result | None, unbounded: Result | None) -> None:
    """Storage held per window in TiB: with the policy, without the budget, and without any policy."""
    x = [w.window for w in result.windows]
    label = "no budget" if result.scenario.budget is None else f"budget {result.scenario.budget}"
    runs = [
        (unbounded, "without policy", "tab:gray", 2.0, 0.9),
        (baseline, "without budget", "tab:red", 4.0, 0.4),
        (result, label, "tab:blue", 1.8, 1.0),
    ]
    for r, name, color, width, alpha in runs:
        if r is not None:
            tib = [w.held_bytes / (1024 * GIB) for w in r.windows]
            ax.plot(x, tib, color=color, linewidth=width, alpha=alpha, label=f"held, {name}")
    top = max((w.held_bytes for r in (result, baseline, unbounded) if r is not None for w in r.windows), default=0)
    ax.set_ylim(0, max(top / (1024 * GIB), 1e-3) * 1.25)
    ax.set_ylabel(f"storage held, TiB (TTL {result.scenario.ttl.total_seconds() / 3600:g}h)")
    ax.set_xlabel("backup window")
    ax.legend(loc="upper left", ncols=3, fontsize="small", framealpha=0.95)
    ax.grid(alpha=0.3)
