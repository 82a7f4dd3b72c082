"""Removing a run's file versions: what a run killed outright left behind.

The run's own versions are pinned and, when it fails, removed by
``framework/hooks/versions.py``'s ``RunVersionsHooks``.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterable
from pathlib import Path

from sae_pipelines.runtime.storage import Location


def remove_save_version(folder: Path, version: str) -> list[Path]:
    """Remove each ``<filepath>/<version>/`` folder under ``folder``, whole.

    For the files of a run that could not remove them itself (killed
    outright): Kedro writes a version's file in place, so one cut short would
    pass for the newest version. A ``<filepath>`` folder left empty goes too.

    Returns:
        The version folders removed.
    """
    removed = []
    for path in sorted(folder.rglob(version)):
        if path.is_dir():
            remove_version_folder(path)
            removed.append(path)
    return removed


def remove_remote_versions(filepaths: Iterable[Location], version: str) -> list[str]:
    """Remove each ``<filepath>/<version>/`` on an object store, whole.

    :func:`remove_save_version` for the versioned datasets whose
    ``filepath`` is a URL (``s3://...``): a store has no folders to search, so
    the datasets are named. An object store keeps no empty folder behind.

    Returns:
        The URLs of the version folders removed.
    """
    removed = []
    for filepath in filepaths:
        folder = filepath.child(version)
        if not folder.is_local and folder.exists():
            folder.fs.rm(folder.path, recursive=True)
            removed.append(folder.url)
    return removed


def remove_version_folder(path: Path) -> None:
    """Remove one ``<filepath>/<version>/`` folder, and ``<filepath>`` if left empty."""
    shutil.rmtree(path)
    with contextlib.suppress(OSError):  # other versions are there
        path.parent.rmdir()
