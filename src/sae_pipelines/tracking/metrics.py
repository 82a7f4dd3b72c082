"""A metric's per-epoch values, logged to the active MLflow run in few calls."""

from __future__ import annotations

import logging
import time
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError
from mlflow.entities import Metric

logger = logging.getLogger(__name__)

MAX_METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch call


class MetricHistoryDataset(AbstractDataset[list[float], list[float]]):
    """A list of values logged as one MLflow metric, step ``i`` for value ``i``.

    Like kedro-mlflow's ``MlflowMetricHistoryDataset`` in ``list`` mode, but
    logged with ``log_batch``: one tracking call per thousand values instead
    of one per value, so a long training history is not one store write (or
    one round trip to a tracking server) per epoch.
    """

    def __init__(self, key: str, metadata: dict[str, Any] | None = None) -> None:
        self._key = key
        self.metadata = metadata

    def save(self, data: list[float]) -> None:
        """Log the values to the active run; without one, say so and skip."""
        run = mlflow.active_run()
        if run is None:
            logger.info("No active MLflow run: metric '%s' is not logged", self._key)
            return
        timestamp = int(time.time() * 1000)
        metrics = [
            Metric(self._key, float(value), timestamp, step)
            for step, value in enumerate(data)
        ]
        client = mlflow.MlflowClient()
        for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            client.log_batch(
                run.info.run_id, metrics=metrics[start : start + MAX_METRICS_PER_BATCH]
            )

    def load(self) -> list[float]:
        """The values logged to the active run, by step.

        Raises:
            DatasetError: No MLflow run is active.
        """
        run = mlflow.active_run()
        if run is None:
            msg = f"Metric '{self._key}' can only be read from an active MLflow run"
            raise DatasetError(msg)
        history = mlflow.MlflowClient().get_metric_history(run.info.run_id, self._key)
        return [metric.value for metric in sorted(history, key=lambda m: m.step)]

    def _describe(self) -> dict[str, Any]:
        return {"key": self._key}
