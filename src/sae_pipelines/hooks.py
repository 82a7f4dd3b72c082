"""Project hooks: MLflow tracking, provenance and artifacts, model registration."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
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

from sae_pipelines.inference.datasets import InferenceModelDataset
from sae_pipelines.params import plain
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
OBJECT_REPR = re.compile(r"<(?:\w+\.)*(\w+) object at 0x[0-9a-fA-F]+>")
MLFLOW_CONFIG = "mlflow"


class ModelRegistrationHooks:
    """Registers the run's inference model once the whole run has succeeded.

    Kedro calls ``after_pipeline_run`` only after every node ran and every
    output was saved, so a run that fails registers no model version and
    moves no alias.
    """

    @hook_impl
    def after_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        """Register each inference model the run logged."""
        for name in sorted(pipeline.datasets()):
            dataset = catalog.get(name)
            if isinstance(dataset, InferenceModelDataset):
                dataset.register()


def run_name(run_params: dict[str, Any], parameters: dict[str, Any]) -> str:
    """``default · topk k=auto · seed=7``: pipelines, sparsity, ``--params`` given.

    The sparsity part is left out of runs that train nothing.
    """
    pipelines = run_params.get("pipeline_names") or ["__default__"]
    parts = ["+".join(name.strip("_") for name in pipelines)]
    if any(name in {"__default__", "training"} for name in pipelines):
        sparsity = parameters["model"]["sparsity"]
        method = sparsity["method"]
        settings = sparsity.get(method) or {}
        parts.append(" ".join([method, *(f"{k}={v}" for k, v in settings.items())]))
    if overrides := run_params.get("runtime_params"):
        flat = pd.json_normalize(overrides, sep=".").to_dict(orient="records")[0]
        parts.append(", ".join(f"{key}={value}" for key, value in flat.items()))
    return " · ".join(parts)


def tag_value(value: Any) -> str:
    """A run parameter as a tag: JSON for containers and numbers, objects by class.

    Kedro hands the runner over as its repr (``<kedro.runner.….SequentialRunner
    object at 0x…>``), which becomes ``SequentialRunner``.
    """
    if isinstance(value, str):
        if match := OBJECT_REPR.fullmatch(value):
            return match.group(1)
        return value
    return json.dumps(value, sort_keys=True, default=str)


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
        """Start the run (kedro-mlflow) with nothing logged yet, named and tagged.

        kedro-mlflow names a run after its pipelines (``__default__``) and tags
        it with each run parameter as Python prints it (the runner as
        ``<kedro.runner…object at 0x…>``); here the name tells runs apart
        (:func:`run_name`) and the tags hold plain values.
        """
        self._logged = {}
        run_settings = self.mlflow_config.tracking.run
        configured_name = run_settings.name  # mlflow.yml's, if set, is kept
        if configured_name is None:
            run_settings.name = run_name(run_params, plain(catalog.load("parameters")))
        try:
            super().before_pipeline_run(run_params, pipeline, catalog)
        finally:
            run_settings.name = configured_name
        run = mlflow.active_run()
        if run is not None and run.info.run_id == self.run_id:
            mlflow.set_tags(
                {key: tag_value(value) for key, value in run_params.items() if value}
            )

    @hook_impl
    def before_node_run(
        self, node: Any, catalog: DataCatalog, inputs: dict[str, Any], is_async: bool
    ) -> None:
        """Log the node's parameters that this run has not logged yet.

        Parameter models are logged as the plain values they were made from.
        """
        parameters = {
            name: plain(value)
            for name, value in inputs.items()
            if name.startswith("params:") or name == "parameters"
        }
        unseen = {
            name: value
            for name, value in parameters.items()
            if name not in self._logged or self._logged[name] != value
        }
        active = mlflow.active_run()
        if not unseen and active is not None and active.info.run_id == self.run_id:
            return
        self._logged |= unseen
        super().before_node_run(node, catalog, unseen, is_async)


class NodeTimingHooks:
    """Logs how long each node took, loading, computing and saving, and in all.

    Kedro logs when a node starts and ends, not for how long. A node's time
    runs from loading its first input to saving its last output: some work
    happens in a save (batch extraction encodes while its dataset writes).
    The gap between a run's wall time and the total is the pipeline's
    overhead (start-up, tracking).
    """

    def __init__(self) -> None:
        self._started: dict[str, float] = {}
        self._unsaved: dict[str, int] = {}
        self._total = 0.0

    @hook_impl
    def before_pipeline_run(self) -> None:
        """Start the total from zero."""
        self._started, self._unsaved, self._total = {}, {}, 0.0

    @hook_impl
    def before_dataset_loaded(self, node: Any) -> None:
        """Start the node's clock at its first input."""
        self._started.setdefault(node.name, time.perf_counter())

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        """Start the clock of a node without inputs."""
        self._started.setdefault(node.name, time.perf_counter())

    @hook_impl
    def after_node_run(self, node: Any, outputs: dict[str, Any]) -> None:
        """Count the outputs still to save; without any, the node is done."""
        self._unsaved[node.name] = len(outputs)
        if not outputs:
            self._finish(node.name)

    @hook_impl
    def after_dataset_saved(self, node: Any) -> None:
        """Stop the node's clock once its last output is saved."""
        self._unsaved[node.name] -= 1
        if self._unsaved[node.name] == 0:
            self._finish(node.name)

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Log the nodes' total."""
        logger.info("Nodes took %.2f s in all, loads and saves included", self._total)

    def _finish(self, name: str) -> None:
        elapsed = time.perf_counter() - self._started.pop(name)
        self._total += elapsed
        logger.info("Node '%s' took %.2f s", name, elapsed)


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

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        """Pin the load version of each versioned dataset the pipeline writes.

        The run's id is the save version Kedro gives its catalog.
        """
        if run_params.get("only_missing_outputs"):
            return  # outputs of skipped nodes are read as found, as Kedro does
        save_version = run_params["run_id"]
        named = set(run_params.get("load_versions") or {})
        resolver = catalog.config_resolver
        for name in sorted(pipeline.all_outputs() - named):
            config = resolver.resolve_pattern(name)
            if not config.get("versioned"):
                continue
            pinned = AbstractDataset.from_config(
                name, config, save_version, save_version
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
            yaml.safe_dump(plain(self._catalog.load("parameters")), sort_keys=False),
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
