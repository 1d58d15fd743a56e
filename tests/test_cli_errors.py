"""No tracebacks: every way a run can end reaches the console as one `error:` line and its exit status.

A kubeconfig that is missing or malformed, a `--plot` target that cannot be written, Ctrl-C in
`plan`, `run` and `simulate`, an unexpected exception, and a reader that stops reading (`plan |
head`). Ctrl-C in `run` never leaves a VM half-written: the VM being written is finished, with its
Events, and the run stops before the next one.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.interrupts import Interrupts
from reconciler.simulate import command as simulate_command
from reconciler.simulate import model as simulate_model
from reconciler.sources.snapshot import SnapshotSource
from tests.cluster import World
from tests.fakekube.server import FakeKubeServer
from tests.faultworld import (
    WRITES,
    argv,
    interrupted_at_write,
    landed_writes,
    seed,
    signal_on_write,
    undisturbed_writes,
)
from tests.s3fixtures import Seeder

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "snapshot"
NOW = "2026-11-24T20:00:00Z"


def cli(*args: str, stdout: Any = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), environ={}, stdout=stdout or out, stderr=err, sleep=lambda _s: None)
    return code, out.getvalue(), err.getvalue()


def one_error_line(err: str) -> str:
    """The console got exactly one line, an `error:` line, and no traceback."""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# --------------------------------------------------------------------------- --kubeconfig


def _kubeconfigs(tmp: Path) -> dict[str, tuple[Path, str]]:
    files = {
        "not-yaml.yaml": ("clusters: [unclosed\n", "not YAML: expected ',' or ']'"),
        "wrong-shape.yaml": (
            "apiVersion: v1\nkind: Config\nclusters: 5\n",
            "not a valid kubeconfig (TypeError: 'int' object is not iterable)",
        ),
        "list.yaml": (
            "- a\n- b\n",
            "not a kubeconfig (expected a mapping with clusters, contexts and users, found a list)",
        ),
        "empty": ("", "found an empty document"),
    }
    out = {}
    for name, (text, message) in files.items():
        (tmp / name).write_text(text)
        out[name] = (tmp / name, message)
    (tmp / "binary").write_bytes(b"\x89\xff\xfe\x00kubeconfig")
    out["binary"] = (tmp / "binary", "not a kubeconfig (not UTF-8 text)")
    out["missing"] = (tmp / "missing", "no such file")
    out["directory"] = (tmp, "is a directory")
    return out


@pytest.mark.parametrize(
    "case", ["missing", "not-yaml.yaml", "wrong-shape.yaml", "list.yaml", "empty", "binary", "directory"]
)
def test_a_bad_kubeconfig_is_one_line_naming_the_file(tmp_path: Path, case: str) -> None:
    """A kubeconfig that is missing, not YAML or not shaped like one: exit 2, the path and what is wrong."""
    path, message = _kubeconfigs(tmp_path)[case]
    code, out, err = cli("plan", "--kubeconfig", str(path), "--now", NOW)
    line = one_error_line(err)
    assert code == 2 and out == ""
    assert line.startswith(f"error: cannot load Kubernetes configuration from {path}: "), line
    assert message in line


# --------------------------------------------------------------------------- simulate --plot


@pytest.fixture
def simulations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every simulation started, recorded."""
    started: list[object] = []
    real = simulate_command.compare

    def compare(scenario: Any) -> Any:
        started.append(scenario)
        return real(scenario)

    monkeypatch.setattr(simulate_command, "compare", compare)
    return started


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("out", "is a directory; name a file in it, e.g. {tmp}/out/simulate.png"),
        ("plot.jpg", "not a PNG file name; the name must end in .png"),
        ("plot", "not a PNG file name; the name must end in .png"),
        ("nowhere/plot.png", "{tmp}/nowhere does not exist"),
        ("a-file/plot.png", "{tmp}/a-file is not a directory"),
    ],
)
def test_a_plot_target_that_cannot_be_written_stops_before_the_run(
    tmp_path: Path, simulations: list[object], target: str, message: str
) -> None:
    """--plot is checked before the simulation runs: exit 2, one line, no simulation, nothing written."""
    (tmp_path / "out").mkdir()
    (tmp_path / "a-file").write_text("x")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, out, err = cli(
        "simulate", "--vms", "3", "--interval", "2", "--windows", "3", "--plot", str(tmp_path / target)
    )
    line = one_error_line(err)
    assert code == 2 and out == ""
    assert line == f"error: --plot {tmp_path / target}: {message.format(tmp=tmp_path)}"
    assert simulations == []
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no out.png, no temporary file


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory")
def test_a_plot_into_a_read_only_directory_stops_before_the_run(tmp_path: Path, simulations: list[object]) -> None:
    """A directory the user cannot write: exit 2 before the simulation."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, _, err = cli("simulate", "--vms", "3", "--interval", "2", "--plot", str(folder / "x.png"))
    finally:
        folder.chmod(0o700)
    assert code == 2 and f"cannot write in {folder}: Permission denied" in one_error_line(err)
    assert simulations == []


def test_a_plot_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    """A good target: the figures on stdout, the PNG in place of the old file, no temporary file beside it."""
    target = tmp_path / "sim.PNG"
    target.write_bytes(b"old")
    code, out, err = cli("simulate", "--vms", "4", "--interval", "2", "--windows", "4", "--plot", str(target))
    assert code == 0 and err == "" and "WINDOW" in out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["sim.PNG"]


# --------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_in_plan_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the plan reads its chains: `error: interrupted`, exit 130, no half plan on stdout."""

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(SnapshotSource, "chains", interrupted)
    code, out, err = cli("plan", "--snapshot", str(EXAMPLE), "--now", NOW)
    assert code == 130 and out == ""
    assert one_error_line(err) == "error: interrupted"


def test_ctrl_c_in_simulate_exits_130_and_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C in the middle of a simulation with --plot: exit 130, neither the PNG nor its temporary file."""
    real = simulate_model._World.window

    def window(self: Any, t: int, *rest: Any) -> Any:
        if t == 2:
            raise KeyboardInterrupt
        return real(self, t, *rest)

    monkeypatch.setattr(simulate_model._World, "window", window)
    code, out, err = cli(
        "simulate", "--vms", "3", "--interval", "2", "--windows", "5", "--plot", str(tmp_path / "x.png")
    )
    assert code == 130 and out == ""
    assert one_error_line(err) == "error: interrupted"
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def world(fake_kube: FakeKubeServer, s3_seed: Seeder, s3_endpoint: str, tmp_path: Path) -> World:
    w = World(fake_kube, s3_seed, s3_endpoint, tmp_path)
    seed(w)
    return w


def _sigint_handler(handler: Any) -> Iterator[None]:
    """SIGINT with `handler` for one test, then the handler found (a handler set outside Python reads as None
    and cannot be set back; Python only ever finds one at startup, where it keeps SIG_IGN or installs its own)."""
    found = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, found if found is not None else signal.SIG_DFL)


@pytest.fixture
def sigint_as_python_sets_it() -> Iterator[None]:
    """SIGINT with Python's own handler, as in a job started from a terminal or by the kubelet.

    Not a given in the test process: a shell without job control starts a background job (`pytest &`
    in a script, some CI runners) with SIGINT ignored, Python keeps it ignored, the xdist workers
    inherit that, and the job rightly leaves an ignored SIGINT alone (the test below): these tests
    would see a run that never notices its Ctrl-C.
    """
    yield from _sigint_handler(signal.default_int_handler)


@pytest.fixture
def sigint_ignored() -> Iterator[None]:
    """SIGINT ignored, as in a job started in the background by a shell without job control."""
    yield from _sigint_handler(signal.SIG_IGN)


@pytest.mark.usefixtures("sigint_as_python_sets_it")
@pytest.mark.parametrize("k", range(1, 8))
def test_ctrl_c_in_run_finishes_the_vm_being_written_then_stops(world: World, tmp_path: Path, k: int) -> None:
    """Ctrl-C during the k-th write (a patch or an Event): that VM is finished, patch and Events, the next
    VMs are not touched, the run exits 130; a re-run completes what was left."""
    code, out, err = interrupted_at_write(world, tmp_path, signal.SIGINT, k)
    assert code == 130 and out == "", err
    assert err.splitlines()[-1] == "error: interrupted" and "Traceback" not in err


@pytest.mark.usefixtures("sigint_as_python_sets_it")
def test_a_second_ctrl_c_stops_at_once_and_names_the_vm(world: World) -> None:
    """Ctrl-C during a VM's patch, again during its Event: the run stops at once, without waiting for the
    Event's answer, and says which VM may be half-written; nothing more is sent."""
    world.kube.clear_requests()
    signal_on_write(world.kube, signal.SIGINT, 1, 2)
    code, out, err = cli(*argv(world))
    assert code == 130 and out == ""
    arrived = [r for r in world.kube.requests() if r.method in WRITES]
    assert [r.method for r in arrived] == ["PATCH", "POST"]
    assert err.splitlines()[-1] == (
        f"error: interrupted again while writing VirtualMachine apps/{arrived[0].name}; it may be half-written"
    )


@pytest.mark.usefixtures("sigint_ignored")
def test_a_job_started_with_ctrl_c_ignored_keeps_ignoring_it(world: World, tmp_path: Path) -> None:
    """Started with SIGINT ignored, the job installs no handler of its own: a SIGINT during the first
    write changes nothing, the run does every write an undisturbed one does and exits 0."""
    undisturbed = undisturbed_writes(world, tmp_path)
    world.kube.clear_requests()
    signal_on_write(world.kube, signal.SIGINT, 1)
    code, _, err = cli(*argv(world))
    assert code == 0, err
    assert landed_writes(world.kube) == undisturbed
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_interrupts_are_held_only_inside_a_unit() -> None:
    """Outside a unit Ctrl-C raises at once; inside, once the unit is complete; nested units end with the outer."""
    guard = Interrupts()
    with pytest.raises(KeyboardInterrupt):
        guard.handle(signal.SIGINT, None)
    steps = []
    with pytest.raises(KeyboardInterrupt), guard.writing("VirtualMachine a/b"):
        with guard.writing("inner"):
            guard.handle(signal.SIGINT, None)
            steps.append("inner done")
        steps.append("outer done")
    assert steps == ["inner done", "outer done"]
    with guard.writing("VirtualMachine a/c"):  # the interrupt was delivered once, not again
        steps.append("next unit")
    assert steps[-1] == "next unit"


# --------------------------------------------------------------------------- unexpected errors


@pytest.fixture
def broken_load(monkeypatch: pytest.MonkeyPatch) -> None:
    def load(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(SnapshotSource, "load", load)


def test_an_unexpected_error_is_one_line_on_the_console(broken_load: None) -> None:
    """A bug: exit 2, its type and message on one line, how to get the traceback; no traceback."""
    code, out, err = cli("plan", "--snapshot", str(EXAMPLE), "--now", NOW, "--log-format", "console")
    assert code == 2 and out == ""
    assert one_error_line(err) == (
        "error: unexpected RuntimeError: boom (a bug; please report it; --log-format json logs the traceback)"
    )


def test_an_unexpected_error_logs_its_traceback_in_json(broken_load: None) -> None:
    """In JSON logs (in-cluster), one log record holds the traceback; the console line follows it."""
    code, _, err = cli("plan", "--snapshot", str(EXAMPLE), "--now", NOW, "--log-format", "json")
    assert code == 2
    record, line = err.splitlines()
    logged = json.loads(record)
    assert logged["event"] == "unexpected-error" and logged["level"] == "error"
    assert logged["exception"].startswith("Traceback") and "RuntimeError: boom" in logged["exception"]
    assert line == "error: unexpected RuntimeError: boom (a bug; please report it)"


# --------------------------------------------------------------------------- plan | head


class ClosedPipe(io.StringIO):
    def write(self, _text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_reader_that_went_away_ends_the_run_quietly() -> None:
    """stdout closed by its reader: exit 141 (as for `yes | head`), nothing on stderr."""
    code, _, err = cli("plan", "--snapshot", str(EXAMPLE), "--now", NOW, "--log-format", "json", stdout=ClosedPipe())
    assert code == 141
    assert [json.loads(line)["event"] for line in err.splitlines()][-1] == "plan-done"


def test_plan_into_a_closed_pipe_as_a_process() -> None:
    """`full-backup-reconciler plan | head`, the reader gone before the plan is printed: no traceback, no
    'Exception ignored' from the interpreter's last flush, exit 141."""
    child = subprocess.Popen(
        [sys.executable, "-m", "reconciler", "plan", "--snapshot", str(EXAMPLE), "--now", NOW, "-o", "json"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert child.stdout is not None
    child.stdout.close()  # the reader goes away before a byte is written
    _, err = child.communicate(timeout=120)
    assert child.returncode == 141, err.decode()
    assert b"Traceback" not in err and b"Exception ignored" not in err and b"error:" not in err


class FullDisk(io.StringIO):
    def write(self, _text: str) -> int:
        raise OSError(28, "No space left on device")


def test_output_that_cannot_be_written_is_one_line() -> None:
    """stdout on a full disk: exit 2, one line saying so."""
    code, _, err = cli("plan", "--snapshot", str(EXAMPLE), "--now", NOW, "--log-format", "json", stdout=FullDisk())
    assert code == 2
    assert err.splitlines()[-1] == "error: cannot write the output: No space left on device"


def test_the_readme_names_every_message() -> None:
    """Troubleshooting lists each of these messages as the program prints it, and the exit statuses."""
    readme = " ".join((REPO / "README.md").read_text().split())  # lines wrap anywhere in the README
    for text in [
        "error: cannot load Kubernetes configuration from PATH: no such file",
        "not a valid kubeconfig",
        "not a kubeconfig (not UTF-8 text)",
        "is a directory; name a file in it, e.g. DIR/simulate.png",
        "not a PNG file name; the name must end in .png",
        "error: interrupted",
        "error: interrupted again while writing VirtualMachine NS/NAME; it may be half-written",
        "error: unexpected TYPE: MESSAGE (a bug; please report it; --log-format json logs the traceback)",
        "error: cannot write the output: REASON",
        "exit status 141",
        "(exit 130)",
    ]:
        assert text in readme, text
