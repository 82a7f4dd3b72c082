"""A throwaway copy of the project for a benchmark's ``kedro run``."""

from __future__ import annotations

import shutil
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def copy_project(destination: Path) -> Path:
    """Copy what ``kedro run`` needs (the package itself is installed).

    That is pyproject.toml, conf/base, empty data folders and the raw digits.

    Returns:
        ``destination``.
    """
    destination.mkdir(parents=True)
    (destination / "src").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT_ROOT / name, destination / name)
    shutil.copytree(PROJECT_ROOT / "conf/base", destination / "conf/base")
    (destination / "conf/local").mkdir()
    for layer in sorted((PROJECT_ROOT / "data").iterdir()):
        (destination / "data" / layer.name).mkdir(parents=True)
    shutil.copy(PROJECT_ROOT / "data/01_raw/digits.csv", destination / "data/01_raw")
    return destination
