"""A model version from the MLflow Model Registry, ready to serve."""

from __future__ import annotations

import pickle
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

from sae_pipelines.registry import PRODUCTION_ALIAS, find_version
from sae_pipelines.serving import THRESHOLD_METRIC, ServingModel

NORMALIZER_ARTIFACT = "normalizer/normalizer.pkl"


class RegisteredModelDataset(AbstractDataset[None, ServingModel]):
    """Loads a registered model version with its run's normaliser and threshold.

    The version is ``model_version`` when given, else the one holding ``alias``
    (``version`` is a reserved word in Kedro's catalog).
    Training logs all three to the same MLflow run (see ``conf/base/catalog.yml``).
    """

    def __init__(
        self,
        model_name: str,
        alias: str = PRODUCTION_ALIAS,
        model_version: int | str | None = None,
        metadata: dict | None = None,
    ):
        self._model_name = model_name
        self._alias = alias
        self._version = (
            None if model_version in (None, "", "null") else str(model_version)
        )
        self.metadata = metadata

    def load(self) -> ServingModel:
        """Resolve the version and load the model, normaliser and threshold.

        Raises:
            UnknownModelVersionError: No such alias or version; lists those that exist.
            DatasetError: The version's run lacks its normaliser or threshold.
        """
        client = mlflow.MlflowClient()
        version = find_version(client, self._model_name, self._alias, self._version)
        source = f"{self._model_name} version {version.version} (run {version.run_id})"
        model = mlflow.keras.load_model(f"models:/{self._model_name}/{version.version}")
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=version.run_id, artifact_path=NORMALIZER_ARTIFACT
            )
        except mlflow.exceptions.MlflowException as error:
            msg = f"{source} has no '{NORMALIZER_ARTIFACT}' artifact: retrain it"
            raise DatasetError(msg) from error
        with open(path, "rb") as file:
            normalizer = pickle.load(file)  # noqa: S301 - this project's own artifact
        metrics = client.get_run(version.run_id).data.metrics
        if THRESHOLD_METRIC not in metrics:
            msg = (
                f"{source} has no '{THRESHOLD_METRIC}' metric: train it with the "
                "evaluation pipeline (plain `kedro run`)"
            )
            raise DatasetError(msg)
        return ServingModel(
            model, normalizer, metrics[THRESHOLD_METRIC], source, int(version.version)
        )

    def save(self, data: None) -> None:
        """Models are registered by training, not saved here."""
        msg = "RegisteredModelDataset is read-only; training registers models"
        raise DatasetError(msg)

    def _describe(self) -> dict[str, Any]:
        return {
            "model_name": self._model_name,
            "alias": self._alias,
            "version": self._version,
        }
