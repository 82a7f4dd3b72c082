"""A model as one Kedro run wrote it: pin it with ``--load-versions``."""

from __future__ import annotations

import json
import pickle
from pathlib import Path, PurePosixPath
from typing import Any

import keras
from kedro.io import AbstractVersionedDataset, DatasetError, Version

from sae_pipelines.serving import THRESHOLD_METRIC, ServingModel


class PinnedModelDataset(AbstractVersionedDataset[None, ServingModel]):
    """The model, normaliser and anomaly threshold saved by one Kedro run.

    A run saves all its versioned files under the same version (its timestamp),
    so the model's version also names the normaliser and the metrics file to
    read. Without a pinned version, the newest model is used.
    """

    def __init__(
        self,
        filepath: str,
        normalizer_filepath: str,
        metrics_filepath: str,
        version: Version | None = None,
        metadata: dict | None = None,
    ):
        super().__init__(filepath=PurePosixPath(filepath), version=version)
        self._normalizer = Path(normalizer_filepath)
        self._metrics = Path(metrics_filepath)
        self.metadata = metadata

    def load(self) -> ServingModel:
        """Load the three files of the pinned (or newest) version.

        Raises:
            DatasetError: The run of that version did not save the normaliser or
                the metrics (e.g. it ran only the training pipeline).
        """
        model_path = Path(self._get_load_path())
        version = model_path.parent.name
        normalizer_path = self._normalizer / version / self._normalizer.name
        metrics_path = self._metrics / version / self._metrics.name
        for path in (normalizer_path, metrics_path):
            if not path.exists():
                msg = (
                    f"Model version {version} has no {path}: pin a version saved by "
                    "a full `kedro run` (training and evaluation)"
                )
                raise DatasetError(msg)
        with normalizer_path.open("rb") as file:
            normalizer = pickle.load(file)  # noqa: S301 - this project's own file
        threshold = json.loads(metrics_path.read_text())[THRESHOLD_METRIC]
        return ServingModel(
            keras.models.load_model(model_path),
            normalizer,
            threshold,
            source=f"Kedro version {version} of {self._filepath}",
        )

    def save(self, data: None) -> None:
        """Models are saved by training, not here."""
        msg = "PinnedModelDataset is read-only; training saves models"
        raise DatasetError(msg)

    def _exists(self) -> bool:
        return Path(self._get_load_path()).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
