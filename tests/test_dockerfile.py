"""The Dockerfile, without a container engine.

The fast tests check its conventions: a slim Python 3.11 base pinned to a patch release,
dependencies only from `requirements.txt` (the Makefile's pins), the package with `--no-deps`, a
numeric non-root user, the console script as entrypoint, and a `.dockerignore` that sends only
the sources. The slow test replays the Dockerfile's WORKDIR/COPY/ENV/RUN steps in a temporary
directory, with the `pip` of a fresh virtual environment first on PATH, then runs the installed
`full-backup-reconciler --help`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SCRIPT = "full-backup-reconciler"
SUPPORTED = {"FROM", "ENV", "WORKDIR", "COPY", "RUN", "USER", "ENTRYPOINT", "CMD", "LABEL"}


@dataclass(frozen=True)
class Instruction:
    name: str
    value: str
    line: int


def parse(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        name, _, value = full.partition(" ")
        out.append(Instruction(name.upper(), value.strip(), start))
    assert not pending, "Dockerfile ends with a continuation"
    return out


def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text(encoding="utf-8"))


def env_pairs(value: str) -> dict[str, str]:
    pairs = {}
    for token in shlex.split(value):
        key, sep, val = token.partition("=")
        assert sep, f"ENV {value!r}: use the KEY=value form"
        pairs[key] = val
    return pairs


def pip_args(run: Instruction) -> list[str]:
    words = shlex.split(run.value)
    assert words[:2] == ["pip", "install"], f"line {run.line}: only `pip install` RUN steps: {run.value}"
    assert not {"&&", "||", ";", "|"} & set(words), f"line {run.line}: one command per RUN"
    return words[2:]


# ------------------------------------------------------------------------- .dockerignore


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus `**`) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negate, _pattern_regex(pattern)))
    return rules


def ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether the build context leaves `path` out: the last pattern matching it or a parent wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            result = not negate
    return result


def context_files(rules: list[tuple[bool, re.Pattern[str]]]) -> list[str]:
    """The files `docker build .` sends (directories no exception can reach inside are pruned)."""
    out = []
    for top, dirs, files in os.walk(REPO):
        base = Path(top).relative_to(REPO).as_posix()
        prefix = "" if base == "." else f"{base}/"
        dirs[:] = [d for d in dirs if not ignored(prefix + d, rules) or _exception_inside(prefix + d)]
        out += [prefix + f for f in files if not ignored(prefix + f, rules)]
    return sorted(out)


def _exception_inside(directory: str) -> bool:
    """Whether some `!pattern` of .dockerignore could let a file below `directory` back in."""
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("!"):
            pattern = os.path.normpath(line[1:].strip()).lstrip("/")
            if "**" in pattern or pattern.startswith(directory + "/"):
                return True
    return False


# ------------------------------------------------------------------------------ fast tests


def test_only_understood_instructions() -> None:
    names = [i.name for i in instructions()]
    assert set(names) <= SUPPORTED, set(names) - SUPPORTED
    assert names.count("FROM") == 1 and names[0] == "FROM"


def test_base_is_slim_python_311_pinned_by_tag() -> None:
    (base,) = [i.value for i in instructions() if i.name == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base


def test_dependencies_come_only_from_the_makefile_pins() -> None:
    runs = [i for i in instructions() if i.name == "RUN"]
    assert len(runs) == 3
    first, build, package = (pip_args(r) for r in runs)
    assert first == ["--no-cache-dir", "-r", "requirements.txt"]
    # The package is built with the setuptools the Makefile pins, never an unpinned one fetched
    # into an isolated build environment.
    dev_pins = (REPO / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    assert build[0] == "--no-cache-dir" and build[1:] == [p for p in dev_pins if p.startswith("setuptools==")]
    assert package == ["--no-cache-dir", "--no-deps", "--no-build-isolation", "."]
    # The Makefile installs the same file.
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "requirements.txt" in makefile
    # requirements.txt pins every line exactly.
    for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==\S+", line.strip()), line


def test_copies_requirements_before_the_sources() -> None:
    copies = [(i.line, shlex.split(i.value)) for i in instructions() if i.name == "COPY"]
    runs = [i.line for i in instructions() if i.name == "RUN"]
    requirements_copy = next(line for line, words in copies if "requirements.txt" in words[:-1])
    source_copy = next(line for line, words in copies if "reconciler" in words[:-1])
    assert requirements_copy < runs[0] < source_copy < runs[-1]
    # `pip install .` needs the project metadata and the readme it names.
    copied = {src for _, words in copies for src in words[:-1]}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert {"pyproject.toml", pyproject["project"]["readme"], "reconciler", "requirements.txt"} <= copied


def test_runs_as_a_numeric_non_root_user_after_installing() -> None:
    inst = instructions()
    users = [i for i in inst if i.name == "USER"]
    assert users, "no USER"
    uid, _, gid = users[-1].value.partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0 and int(gid) != 0
    assert users[-1].line > max(i.line for i in inst if i.name == "RUN")


def test_entrypoint_is_the_console_script() -> None:
    (entry,) = [i.value for i in instructions() if i.name == "ENTRYPOINT"]
    assert json.loads(entry) == [SCRIPT]  # exec form: the script is PID 1 and gets SIGTERM
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert SCRIPT in scripts


def test_dockerignore_sends_only_what_the_build_copies() -> None:
    rules = dockerignore_rules()
    sent = context_files(rules)
    copied = {src for i in instructions() if i.name == "COPY" for src in shlex.split(i.value)[:-1]}
    for src in copied:
        assert not ignored(src, rules), src
        assert any(f == src or f.startswith(src.rstrip("/") + "/") for f in sent), src
    for rel in sent:
        assert any(rel == src or rel.startswith(src + "/") for src in copied), f"{rel} is sent but not copied"
    for kept_out in (
        "tests/conftest.py",
        "examples/generate.py",
        "Makefile",
        "reconciler/__pycache__/x.pyc",
        ".venv/bin/python",
        ".git/HEAD",
        "manifests/base/cronjob.yaml",
    ):
        assert ignored(kept_out, rules), kept_out


def test_dockerignore_matching_follows_docker() -> None:
    rules = [(False, _pattern_regex("*")), (True, _pattern_regex("src")), (False, _pattern_regex("**/*.pyc"))]
    assert ignored("README", rules)
    assert not ignored("src/a.py", rules)
    assert ignored("src/deep/a.pyc", rules)
    assert ignored("other/a.py", rules)  # excluded with its parent


# ------------------------------------------------------------------------------ slow test


def replay(tmp_path: Path, venv: Path) -> None:
    """WORKDIR, COPY, ENV and RUN of the Dockerfile, with `<venv>/bin` first on PATH.

    The image's root is `tmp_path/root`. RUN steps run exactly as written, except that
    `--no-cache-dir` is dropped so that repeated test runs reuse pip's cache (caching does not
    change what gets installed), and `--no-compile` is added: compiling the installed modules to
    bytecode was nearly half the install's CPU time, and pip never fails an install over it (a
    module that does not compile is logged and installed all the same), so it cannot change the
    outcome; the console script below imports the job's modules either way.
    """
    root = tmp_path / "root"
    workdir = root
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV"}}
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    rules = dockerignore_rules()
    for inst in instructions():
        if inst.name == "WORKDIR":
            workdir = root / inst.value.lstrip("/") if inst.value.startswith("/") else workdir / inst.value
            workdir.mkdir(parents=True, exist_ok=True)
        elif inst.name == "ENV":  # HOME stays the caller's, where pip keeps its cache
            env.update({k: v for k, v in env_pairs(inst.value).items() if k != "HOME"})
        elif inst.name == "COPY":
            *sources, dest = shlex.split(inst.value)
            target = root / dest.lstrip("/") if dest.startswith("/") else workdir / dest
            for src in sources:
                origin = REPO / src
                if origin.is_dir():
                    shutil.copytree(
                        origin,
                        target,
                        ignore=lambda d, names: [
                            n for n in names if ignored((Path(d) / n).relative_to(REPO).as_posix(), rules)
                        ],
                    )
                elif dest.endswith("/"):
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, target / origin.name)
                else:
                    shutil.copy2(origin, target)
        elif inst.name == "RUN":
            args = [*(a for a in pip_args(inst) if a != "--no-cache-dir"), "--no-compile"]
            pip = shutil.which("pip", path=env["PATH"])
            assert pip is not None and Path(pip).parent == venv / "bin", pip
            done = subprocess.run(
                [pip, "install", *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=900, check=False
            )
            assert done.returncode == 0, f"RUN {inst.value}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.mark.slow
def test_install_steps_as_written_give_a_working_console_script(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    replay(tmp_path, venv)
    clean = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}}
    elsewhere = tmp_path / "elsewhere"  # not the copied sources: the installed package must be used
    elsewhere.mkdir()

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), cwd=elsewhere, env=clean, capture_output=True, text=True, timeout=120, check=False
        )

    helped = run(str(venv / "bin" / SCRIPT), "--help")
    assert helped.returncode == 0, helped.stderr
    assert "usage: full-backup-reconciler" in helped.stdout
    for command in ("plan", "run", "explain", "snapshot"):
        assert command in helped.stdout
    run_help = run(str(venv / "bin" / SCRIPT), "run", "--help")
    assert run_help.returncode == 0 and "--log-format" in run_help.stdout, run_help.stderr

    where = run(str(venv / "bin" / "python"), "-c", "import reconciler; print(reconciler.__file__)")
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    check = run(str(venv / "bin" / "python"), "-m", "pip", "check")
    assert check.returncode == 0, check.stdout  # --no-deps left nothing missing

    listed = run(str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json")
    installed = {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(listed.stdout)}
    for line in (REPO / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.strip().partition("==")
            assert installed.get(name.lower().replace("_", "-")) == version, line
