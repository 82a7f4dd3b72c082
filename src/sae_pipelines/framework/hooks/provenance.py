"""What repeating the run needs, logged to its MLflow run as it goes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow
import yaml
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog

from sae_pipelines.framework.hooks.versions import RunVersionsHooks
from sae_pipelines.parameters.groups import plain
from sae_pipelines.runtime.storage import sha256
from sae_pipelines.tracking.provenance import (
    DATASETS_ARTIFACT,
    PARAMETERS_ARTIFACT,
    REQUIREMENTS_ARTIFACT,
    git_state,
    installed_packages,
)


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
            file = self._versions.dataset_file(dataset_name)
            if file is not None:
                digest = sha256(file)
                mlflow.set_tags({"raw_data_path": file.url, "raw_data_sha256": digest})

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
        file = self._versions.dataset_file(dataset_name, version)
        assert self._run_params is not None  # datasets are read during a run
        project = Path(self._run_params["project_path"])
        if file is None or not file.is_local:  # a URL (s3://...) is kept whole
            recorded = str(file)
        else:
            path = file.local_path
            # Relative to the project, so the record holds when it moves.
            recorded = str(
                path.relative_to(project) if path.is_relative_to(project) else path
            )
        self._datasets[kind][dataset_name] = {"version": version, "path": recorded}
        mlflow.log_dict(self._datasets, DATASETS_ARTIFACT)
