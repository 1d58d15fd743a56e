"""Manifests as `kubectl apply -k` sends them: rendered by `kubectl kustomize`, the real tool.

A test that needs a rendering is skipped, with the reason, where `kubectl` is not installed.
Renderings of one directory are cached per process (kubectl takes a few hundred milliseconds to
start); each caller gets its own copy, so a test may change what it got.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

__all__ = ["kustomize"]


def kustomize(directory: str | Path) -> list[dict[str, Any]]:
    """The objects of `kubectl kustomize directory`, in its output order."""
    return copy.deepcopy(_render(Path(directory).resolve()))


def _kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.skip("kubectl is not installed: the kustomizations are rendered with `kubectl kustomize`")
    return found


@cache
def _render(directory: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [_kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"kubectl kustomize {directory} failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc is not None]
