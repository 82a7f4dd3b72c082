"""Project hooks: parameter checks before a run, MLflow artifacts after saves."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, DataCatalog
from kedro.pipeline import Pipeline

from sae_pipelines.params import validate_parameters

logger = logging.getLogger(__name__)

ARTIFACT_METADATA_KEY = "mlflow_artifact_path"


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


class VersionedArtifactHooks:
    """Logs the file of a versioned dataset to the active MLflow run once saved.

    A catalog entry opts in with ``metadata: {mlflow_artifact_path: <folder>}``.
    kedro-mlflow's ``MlflowArtifactDataset`` cannot wrap a versioned dataset under
    Kedro 1.x's lazy catalog (the inner dataset gets its own save version), so
    the versioned file is kept by Kedro and copied to MLflow here.
    """

    def __init__(self) -> None:
        self._catalog: DataCatalog | None = None

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog) -> None:
        """Keep the catalog to find datasets' files after they are saved."""
        self._catalog = catalog

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
        if isinstance(dataset, AbstractVersionedDataset) and dataset._version:
            local_path = dataset._get_versioned_path(dataset.resolve_save_version())
        else:
            local_path = dataset._filepath
        if Path(local_path).is_dir():
            mlflow.log_artifacts(str(local_path), artifact_path)
        else:
            mlflow.log_artifact(str(local_path), artifact_path)
