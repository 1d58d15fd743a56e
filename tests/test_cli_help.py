"""Help that teaches: each subcommand describes itself, shows examples, and rejects what it does not take."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys

import pytest

from reconciler.cli import main, parser

COMMANDS = ("plan", "run", "snapshot", "explain", "simulate")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):  # argparse prints to sys.*
        code = main(list(argv), environ={}, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", COMMANDS)
def test_each_subcommand_has_a_description_and_two_examples(command: str) -> None:
    """`COMMAND --help` opens with a paragraph and ends with two examples of that command."""
    code, out, _ = run(command, "--help")
    assert code == 0
    description = out.split("\n\n")[1]
    assert len(description.split()) >= 15, description
    examples = out[out.index("examples:\n") :].splitlines()[1:]
    assert len([e for e in examples if e.strip().startswith(f"full-backup-reconciler {command}")]) == 2


@pytest.mark.parametrize("command", ("plan", "run"))
def test_output_option_is_explained(command: str) -> None:
    _, out, _ = run(command, "--help")
    words = " ".join(out.split())  # the help is wrapped to the terminal
    assert "wide (DETAIL in full" in words and "name (NAMESPACE/NAME" in words


def test_snapshot_help_lists_only_what_snapshot_takes() -> None:
    """snapshot writes files, not a plan: no output, filter or --snapshot options in its help."""
    _, out, _ = run("snapshot", "--help")
    options = [line.split()[0] for line in out.splitlines() if line.startswith("  -")]
    for option in ("-o,", "--no-headers", "--vm-namespace", "--action", "--snapshot", "--dry-run"):
        assert option not in options, option
    assert "--out" in options and "--schedule" in options


def test_abbreviations_are_refused() -> None:
    """`--snap` is not taken for `--snapshot`: a typo must not pick an option."""
    code, _, err = run("plan", "--snap", "x")
    assert code == 2 and "unrecognized arguments: --snap" in err


def test_an_unknown_option_shows_the_subcommand_usage() -> None:
    code, _, err = run("plan", "--frobnicate")
    assert code == 2
    assert err.startswith("usage: full-backup-reconciler plan ")
    assert "unrecognized arguments: --frobnicate" in err


def test_every_parser_refuses_abbreviations() -> None:
    root = parser()
    subs = next(a for a in root._actions if a.choices and isinstance(a.choices, dict))
    assert not root.allow_abbrev
    assert all(not p.allow_abbrev for p in subs.choices.values())  # type: ignore[union-attr]


@pytest.mark.parametrize("command", ("plan", "run", "explain", "simulate"))
def test_every_output_option_has_help(command: str) -> None:
    """`-o` says what each of its formats is, on every command that prints something."""
    _, out, _ = run(command, "--help")
    lines = out[out.index("\n  -o ") + 1 :].splitlines()
    _spec, _, rest = lines[0].strip().partition("  ")  # the help follows the option's spec, or starts below it
    below = lines[1].strip() if lines[1].startswith(" " * 8) else ""  # a wrapped or a moved help line
    assert len(f"{rest} {below}".split()) >= 4, lines[:3]


def test_the_shell_completes_options() -> None:
    """The completion hook answers bash/zsh (argcomplete's protocol: the request in the environment,
    the answer on file descriptor 8) with the options that match."""
    line = "full-backup-reconciler plan --no-h"
    env = {**os.environ, "COMP_LINE": line, "COMP_POINT": str(len(line)), "_ARGCOMPLETE": "1", "_ARGCOMPLETE_IFS": " "}
    done = subprocess.run(
        ["bash", "-c", f'"{sys.executable}" -m reconciler 8>&1 9>/dev/null'],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout.split()) == (0, ["--no-headers"]), done.stderr
