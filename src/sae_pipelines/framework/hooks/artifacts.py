"""Files of versioned datasets, copied to the MLflow run once saved."""

from __future__ import annotations

import mlflow
from kedro.framework.hooks import hook_impl

from sae_pipelines.framework.hooks.versions import RunVersionsHooks

ARTIFACT_METADATA_KEY = "mlflow_artifact_path"


class VersionedArtifactHooks:
    """Logs the file of a versioned dataset to the active MLflow run once saved.

    A catalog entry opts in with ``metadata: {mlflow_artifact_path: <folder>}``.
    kedro-mlflow's ``MlflowArtifactDataset`` cannot wrap a versioned dataset under
    Kedro 1.x's lazy catalog (the inner dataset gets its own save version), so
    the versioned file is kept by Kedro and copied to MLflow here.
    """

    def __init__(self, versions: RunVersionsHooks) -> None:
        self._versions = versions

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        """Log the just-saved file when the dataset asks for it."""
        if mlflow.active_run() is None:
            return
        metadata = self._versions.config(dataset_name).get("metadata") or {}
        artifact_path = metadata.get(ARTIFACT_METADATA_KEY)
        if artifact_path is None:
            return
        version = self._versions.saved_version(dataset_name)
        path = self._versions.local_file(dataset_name, version)
        if path is None:
            return
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path)
        else:
            mlflow.log_artifact(str(path), artifact_path)
