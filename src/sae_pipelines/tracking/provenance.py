"""What a run needs to be repeated: code commit, data hash, package versions.

:class:`ProvenanceHooks` logs them to each MLflow run; ``reproduce`` reads them.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import yaml
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog

from sae_pipelines.pipelines.params import plain
from sae_pipelines.tracking.versions import RunVersionsHooks

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


class ProvenanceHooks:
    """Logs to each MLflow run what is needed to repeat it.

    Tags: ``git_commit`` and ``git_dirty`` of the project, ``kedro_save_version``
    (the version of every file the run saves), ``kedro_load_versions``,
    ``kedro_env``, ``kedro_pipelines``, and ``raw_data_path`` and
    ``raw_data_sha256`` of the raw file read. Artifacts: the resolved
    parameters, seeds included; the version and path of every versioned
    dataset the run loaded and saved; every installed package version.
    """

    RAW_DATASET = "raw_data"

    def __init__(self, versions: RunVersionsHooks) -> None:
        self._versions = versions
        self._catalog: DataCatalog | None = None
        self._run_params: dict[str, Any] | None = None
        self._logged_run: str | None = None
        self._datasets: dict[str, dict[str, dict[str, str]]] = {}

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], catalog: DataCatalog
    ) -> None:
        """Keep the run's parameters (project path, versions, environment)."""
        self._catalog = catalog
        self._run_params = run_params
        self._logged_run = None
        self._datasets = {"loaded": {}, "saved": {}}

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str) -> None:
        """Record a loaded dataset's version, and the raw data's hash."""
        if not self._start_logging():
            return
        self._record("loaded", dataset_name, self._versions.loaded_version)
        if dataset_name == self.RAW_DATASET:
            path = self._versions.local_file(dataset_name)
            if path is not None:
                mlflow.set_tags(
                    {"raw_data_path": str(path), "raw_data_sha256": file_sha256(path)}
                )

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        """Record a saved dataset's version."""
        if self._start_logging():
            self._record("saved", dataset_name, self._versions.saved_version)

    def _start_logging(self) -> bool:
        """Log the run-wide provenance once per MLflow run; False without a run."""
        run = mlflow.active_run()
        if run is None or self._run_params is None or self._catalog is None:
            return False
        if self._logged_run == run.info.run_id:
            return True
        self._logged_run = run.info.run_id
        params = self._run_params
        mlflow.set_tags(
            {
                **git_state(Path(params["project_path"])),
                "kedro_save_version": params["run_id"],
                "kedro_load_versions": json.dumps(params.get("load_versions") or {}),
                # No --env means the project's default run environment.
                "kedro_env": params.get("env") or "local",
                "kedro_pipelines": json.dumps(
                    params.get("pipeline_names") or ["__default__"]
                ),
            }
        )
        mlflow.log_text(
            yaml.safe_dump(plain(self._catalog.load("parameters")), sort_keys=False),
            PARAMETERS_ARTIFACT,
        )
        mlflow.log_text(installed_packages(), REQUIREMENTS_ARTIFACT)
        return True

    def _record(
        self, kind: str, dataset_name: str, version_of: Callable[[str], str | None]
    ) -> None:
        """Add a versioned dataset's version and file to the datasets artifact."""
        if dataset_name in self._datasets[kind]:
            return  # a run reads one version of a dataset, however many nodes read it
        version = version_of(dataset_name)
        if version is None:
            return
        path = Path(str(self._versions.local_file(dataset_name, version)))
        assert self._run_params is not None  # datasets are read during a run
        project = Path(self._run_params["project_path"])
        self._datasets[kind][dataset_name] = {
            "version": version,
            # Relative to the project, so the record holds when it moves.
            "path": str(
                path.relative_to(project) if path.is_relative_to(project) else path
            ),
        }
        mlflow.log_dict(self._datasets, DATASETS_ARTIFACT)
