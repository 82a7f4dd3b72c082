"""Files of versioned datasets, copied to the MLflow run once saved."""

from __future__ import annotations

import tempfile
from pathlib import Path

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
        file = self._versions.dataset_file(dataset_name, version)
        if file is None:
            return
        if not file.is_local:  # on an object store: logged from a local copy
            with tempfile.TemporaryDirectory(prefix="sae-artifact-") as folder:
                _log(file.download(Path(folder) / file.name), artifact_path)
            return
        _log(file.local_path, artifact_path)


def _log(path: Path, artifact_path: str) -> None:
    """Log a file, or a folder's files, under ``artifact_path`` of the run."""
    if path.is_dir():
        mlflow.log_artifacts(str(path), artifact_path)
    else:
        mlflow.log_artifact(str(path), artifact_path)
