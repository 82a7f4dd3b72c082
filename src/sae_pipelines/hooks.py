"""Project hooks: parameter checks before a run, MLflow artifacts after saves."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import yaml
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import (
    AbstractDataset,
    AbstractVersionedDataset,
    CachedDataset,
    DataCatalog,
)
from kedro.pipeline import Pipeline
from kedro_mlflow.framework.hooks import MlflowHook

from sae_pipelines.params import validate_parameters
from sae_pipelines.provenance import (
    DATASETS_ARTIFACT,
    PARAMETERS_ARTIFACT,
    REQUIREMENTS_ARTIFACT,
    file_sha256,
    git_state,
    installed_packages,
)
from sae_pipelines.store_lock import store_lock

logger = logging.getLogger(__name__)

ARTIFACT_METADATA_KEY = "mlflow_artifact_path"
MLFLOW_CONFIG = "mlflow"


class ParameterValidationHooks:
    """Stops a run with bad parameters before any node reads or writes data."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        """Validate all parameters of the run.

        Raises:
            ValueError: A parameter is missing or out of range; the message names it.
        """
        validate_parameters(catalog.load("parameters"))


class MlflowTrackingHooks(MlflowHook):
    """kedro-mlflow's hook, logging each parameter once per run.

    kedro-mlflow logs a node's parameters before every node it runs, reopening
    the run first. ``params:data`` feeds 16 nodes, so a default run made 221
    parameter calls and reopened the run 31 times (about 1 s); this hook sends
    only parameters not yet logged, and reopens the run only where it is not
    active (a runner's new thread).
    """

    def __init__(self) -> None:
        super().__init__()
        self._logged: dict[str, Any] = {}

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Set up tracking (kedro-mlflow), one process at a time on a SQLite store.

        Here MLflow creates a new store's tables and kedro-mlflow the
        experiment; see ``store_lock``.
        """
        server = context.config_loader[MLFLOW_CONFIG].get("server") or {}
        uri = server.get("mlflow_tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
        with store_lock(uri):
            super().after_context_created(context)

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        """Start the run (kedro-mlflow) with nothing logged yet."""
        self._logged = {}
        super().before_pipeline_run(run_params, pipeline, catalog)

    @hook_impl
    def before_node_run(
        self, node: Any, catalog: DataCatalog, inputs: dict[str, Any], is_async: bool
    ) -> None:
        """Log the node's parameters that this run has not logged yet."""
        unseen = {
            name: value
            for name, value in inputs.items()
            if (name.startswith("params:") or name == "parameters")
            and (name not in self._logged or self._logged[name] != value)
        }
        active = mlflow.active_run()
        if not unseen and active is not None and active.info.run_id == self.run_id:
            return
        self._logged |= unseen
        super().before_node_run(node, catalog, unseen, is_async)


class NodeTimingHooks:
    """Logs how long each node's function ran, and all of them together.

    Kedro logs when a node starts and ends, not for how long it computed; the
    gap between a run's wall time and this total is the pipeline's overhead
    (start-up, catalog I/O, tracking).
    """

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._total = 0.0

    @hook_impl
    def before_pipeline_run(self) -> None:
        """Start the total from zero."""
        self._total = 0.0

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """Note when the node's function starts."""
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        """Log the node's time."""
        elapsed = time.perf_counter() - self._started.pop(node.name)
        self._total += elapsed
        logger.info("Node '%s' ran in %.2f s", node.name, elapsed)

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Log the nodes' total."""
        logger.info("Nodes ran for %.2f s in all", self._total)


class OwnVersionsHooks:
    """Makes a run load the versions it saved, whatever other runs save meanwhile.

    Kedro saves every versioned dataset under the run's save version, but loads
    the newest version on disk: another run saving the same dataset in between
    makes it that run's. Before the run, each versioned dataset the pipeline
    writes is rebuilt to load the version it will save, unless
    ``--load-versions`` names one. Datasets the run only reads load the newest
    version at their first load (or the one named): Kedro keeps that version
    until the run ends.
    """

    def __init__(self) -> None:
        self._save_version: str | None = None
        self._load_versions: dict[str, str] = {}

    @hook_impl
    def after_catalog_created(
        self, save_version: str, load_versions: dict[str, str] | None
    ) -> None:
        """Keep the run's save version and the load versions it was given."""
        self._save_version = save_version
        self._load_versions = load_versions or {}

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        """Pin the load version of each versioned dataset the pipeline writes."""
        if run_params.get("only_missing_outputs"):
            return  # outputs of skipped nodes are read as found, as Kedro does
        resolver = catalog.config_resolver
        for name in sorted(pipeline.all_outputs() - set(self._load_versions)):
            config = resolver.resolve_pattern(name)
            if not config.get("versioned"):
                continue
            pinned = AbstractDataset.from_config(
                name, config, self._save_version, self._save_version
            )
            with _quiet_replacement(name):
                catalog[name] = pinned


@contextlib.contextmanager
def _quiet_replacement(dataset_name: str) -> Iterator[None]:
    """Drop the catalog's warning that the dataset is replaced: here it is meant."""
    catalog_logger = logging.getLogger(DataCatalog.__module__)
    message = f"Replacing dataset '{dataset_name}'"

    def record_filter(record: logging.LogRecord) -> bool:
        return record.getMessage() != message

    catalog_logger.addFilter(record_filter)
    try:
        yield
    finally:
        catalog_logger.removeFilter(record_filter)


class _CatalogHooks:
    """Keeps the run's catalog, to look at a dataset once it is saved."""

    def __init__(self) -> None:
        self._catalog: DataCatalog | None = None

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog) -> None:
        """Keep the catalog."""
        self._catalog = catalog

    def _versioned(self, dataset_name: str) -> AbstractVersionedDataset | None:
        """The named dataset if it keeps versions (also behind a ``CachedDataset``)."""
        dataset = self._catalog.get(dataset_name)
        if isinstance(dataset, CachedDataset):
            dataset = dataset._dataset
        if isinstance(dataset, AbstractVersionedDataset) and dataset._version:
            return dataset
        return None


class VersionedArtifactHooks(_CatalogHooks):
    """Logs the file of a versioned dataset to the active MLflow run once saved.

    A catalog entry opts in with ``metadata: {mlflow_artifact_path: <folder>}``.
    kedro-mlflow's ``MlflowArtifactDataset`` cannot wrap a versioned dataset under
    Kedro 1.x's lazy catalog (the inner dataset gets its own save version), so
    the versioned file is kept by Kedro and copied to MLflow here.
    """

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        """Log the just-saved file when the dataset asks for it."""
        if self._catalog is None or mlflow.active_run() is None:
            return
        dataset = self._catalog.get(dataset_name)
        artifact_path = (getattr(dataset, "metadata", None) or {}).get(
            ARTIFACT_METADATA_KEY
        )
        if artifact_path is None:
            return
        versioned = self._versioned(dataset_name)
        if versioned is not None:
            local_path = versioned._get_versioned_path(versioned.resolve_save_version())
        else:
            local_path = dataset._filepath
        if Path(local_path).is_dir():
            mlflow.log_artifacts(str(local_path), artifact_path)
        else:
            mlflow.log_artifact(str(local_path), artifact_path)


class ProvenanceHooks(_CatalogHooks):
    """Logs to each MLflow run what is needed to repeat it.

    Tags: ``git_commit`` and ``git_dirty`` of the project, ``kedro_save_version``
    (the version of every file the run saves), ``kedro_load_versions``,
    ``kedro_env``, ``kedro_pipelines``, and ``raw_data_path`` and
    ``raw_data_sha256`` of the raw file read. Artifacts (see ``provenance.py``):
    the resolved parameters, seeds included; the version and path of every
    versioned dataset the run loaded and saved; every installed package version.
    """

    RAW_DATASET = "raw_data"

    def __init__(self) -> None:
        super().__init__()
        self._run_params: dict[str, Any] | None = None
        self._logged_run: str | None = None
        self._datasets: dict[str, dict[str, dict[str, str]]] = {}

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Keep the run's parameters (project path, versions, environment)."""
        self._run_params = run_params
        self._logged_run = None
        self._datasets = {"loaded": {}, "saved": {}}

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any, node: Any) -> None:
        """Record a loaded dataset's version, and the raw data's hash."""
        if not self._start_logging():
            return
        self._record_version("loaded", dataset_name)
        if dataset_name == self.RAW_DATASET:
            path = Path(str(self._catalog.get(dataset_name)._filepath))
            mlflow.set_tags(
                {"raw_data_path": str(path), "raw_data_sha256": file_sha256(path)}
            )

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        """Record a saved dataset's version."""
        if self._start_logging():
            self._record_version("saved", dataset_name)

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
            yaml.safe_dump(self._catalog.load("parameters"), sort_keys=False),
            PARAMETERS_ARTIFACT,
        )
        mlflow.log_text(installed_packages(), REQUIREMENTS_ARTIFACT)
        return True

    def _record_version(self, kind: str, dataset_name: str) -> None:
        if dataset_name in self._datasets[kind]:
            return  # a run reads one version of a dataset, however many nodes read it
        dataset = self._versioned(dataset_name)
        if dataset is None:
            return
        if kind == "loaded":
            version = dataset.resolve_load_version()
        else:
            version = dataset.resolve_save_version()
        path = Path(str(dataset._get_versioned_path(version)))
        project = Path(self._run_params["project_path"])
        record = {
            "version": version,
            # Relative to the project, so the record holds when it moves.
            "path": str(
                path.relative_to(project) if path.is_relative_to(project) else path
            ),
        }
        self._datasets[kind][dataset_name] = record
        mlflow.log_dict(self._datasets, DATASETS_ARTIFACT)
