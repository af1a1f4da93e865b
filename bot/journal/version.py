"""The code version written on every journal record: package version plus git commit when known."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGE = "alvh"
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def code_version() -> str:
    """``0.1.0+g1a2b3c4d5e6f`` (``.dirty`` appended when tracked files differ from the commit), or
    just the package version outside a git checkout."""
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    commit = _git("rev-parse", "--short=12", "HEAD")
    if commit is None:
        return version
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return f"{version}+g{commit}{'.dirty' if dirty else ''}"


def _git(*arguments: str) -> str | None:
    if not (_SOURCE_ROOT / ".git").exists():
        return None
    try:
        completed = subprocess.run(
            ["git", *arguments], cwd=_SOURCE_ROOT, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if completed.returncode != 0:
        return None
    return completed.stdout.strip()
