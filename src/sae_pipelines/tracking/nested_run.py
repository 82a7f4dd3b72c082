"""A nested MLflow run under the active run, for one part of a larger run."""

from __future__ import annotations

import logging
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

from sae_pipelines.tracking.metrics import MetricHistoryDataset

logger = logging.getLogger(__name__)


class NestedRunDataset(AbstractDataset[dict[str, Any], dict[str, Any]]):
    """Saves a record as a finished MLflow run nested under the active run.

    The record is ``{"name": str, "params": {...}, "metrics": {...},
    "histories": {key: [values by step]}}``; the nested run is named after
    it and holds its parameters, metrics and per-step histories. The active
    run (the ``kedro run``'s) stays active. Save-only: wrap it in a
    ``CachedDataset`` to read the record back in the same run.
    """

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def save(self, data: dict[str, Any]) -> None:
        """Log the record to a new nested run; without an active run, skip it."""
        if mlflow.active_run() is None:
            logger.info("No active MLflow run: '%s' is not logged", data["name"])
            return
        with mlflow.start_run(run_name=data["name"], nested=True):
            mlflow.log_params(data.get("params") or {})
            mlflow.log_metrics(data.get("metrics") or {})
            for key, values in (data.get("histories") or {}).items():
                MetricHistoryDataset(key).save(values)

    def load(self) -> dict[str, Any]:
        """Not readable.

        Raises:
            DatasetError: Always.
        """
        msg = "A nested run is written only; read its record through a CachedDataset"
        raise DatasetError(msg)

    def _describe(self) -> dict[str, Any]:
        return {}
