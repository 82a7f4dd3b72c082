"""What a run needs to be repeated: code commit, data hash, package versions.

:class:`ProvenanceHooks` logs them to each MLflow run; ``reproduce`` reads them.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from importlib import metadata
from pathlib import Path

UNKNOWN = "unknown"

# Artifacts every tracked run holds (see ProvenanceHooks).
PARAMETERS_ARTIFACT = "provenance/parameters.yml"
DATASETS_ARTIFACT = "provenance/datasets.json"
REQUIREMENTS_ARTIFACT = "provenance/requirements.txt"


def git_state(path: Path) -> dict[str, str]:
    """The commit checked out at ``path`` and whether the tree has changes.

    Returns:
        ``{"git_commit": sha, "git_dirty": "true" | "false"}``; both ``unknown``
        outside a git work tree or without git.
    """
    try:
        commit = _git(path, "rev-parse", "HEAD")
        dirty = bool(_git(path, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        return {"git_commit": UNKNOWN, "git_dirty": UNKNOWN}
    return {"git_commit": commit, "git_dirty": str(dirty).lower()}


def _git(path: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=path, capture_output=True, text=True, check=True
    ).stdout.strip()


def file_sha256(path: Path, block_size: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read a block at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(block_size):
            digest.update(block)
    return digest.hexdigest()


def installed_packages() -> str:
    """``name==version`` of every installed distribution, one per line, sorted."""
    lines = {
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }
    return "\n".join(sorted(lines, key=str.lower)) + "\n"


def package_differences(recorded: str, installed: str) -> list[str]:
    """How two ``name==version`` listings (as :func:`installed_packages`) differ.

    Returns:
        One line per package that differs, e.g. ``tensorflow 2.21.0 (run) → 2.20.0
        (now)``, sorted by name; empty when both list the same versions.
    """
    before, after = _versions(recorded), _versions(installed)
    return [
        f"{name} {before.get(name, 'not installed')} (run) → "
        f"{after.get(name, 'not installed')} (now)"
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


def _versions(listing: str) -> dict[str, str]:
    pairs = (line.split("==", 1) for line in listing.splitlines() if "==" in line)
    return {_canonical(name): version for name, version in pairs}


def _canonical(name: str) -> str:
    """PyPA's normalised name: case and runs of ``-_.`` do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()
