"""Training you can watch: each epoch's metrics in the MLflow run as it trains.

:class:`EpochMetricsLogger` is a Keras callback; :class:`EpochMetricsDataset`
hands it to the training node from the catalog, so that the ``sae`` package
knows nothing of MLflow or Kedro.
"""

from __future__ import annotations

import time
from typing import Any

import keras
import mlflow
from kedro.io import AbstractDataset, DatasetError
from mlflow.entities import Metric, RunTag

ESTIMATE_TAG = "training_estimated_seconds"
# Seconds between writes to the tracking store: one per epoch would be a
# store write (or a round trip to a server) every few milliseconds.
FLUSH_EVERY_S = 2.0


class EpochMetricsLogger(keras.callbacks.Callback):
    """Logs Keras's per-epoch values to the active MLflow run, step = epoch.

    Values are sent together every :data:`FLUSH_EVERY_S` seconds, after the
    first epoch, and at the end. Each flush also sets the tag
    :data:`ESTIMATE_TAG`: the whole fit's seconds at the pace so far (an upper
    bound when training stops early). Without an active run it does nothing.

    Args:
        names: Keras's name of each value to log (``loss``) → its MLflow name
            (``train_loss``); values Keras does not report are skipped.
        flush_every_s: Seconds between writes.
    """

    def __init__(
        self, names: dict[str, str], flush_every_s: float = FLUSH_EVERY_S
    ) -> None:
        super().__init__()
        self._names = dict(names)
        self._flush_every_s = flush_every_s
        self._run_id: str | None = None
        self._pending: list[Metric] = []
        self._started = self._flushed = 0.0
        self._epochs_done = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Find the run to log to, and start the clock."""
        run = mlflow.active_run()
        self._run_id = None if run is None else run.info.run_id
        self._pending = []
        self._started = self._flushed = time.monotonic()
        self._epochs_done = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Queue the epoch's values; send them when it is time."""
        if self._run_id is None:
            return
        timestamp = int(time.time() * 1000)
        logs = logs or {}
        self._pending += [
            Metric(name, float(logs[key]), timestamp, epoch)
            for key, name in self._names.items()
            if key in logs
        ]
        self._epochs_done = epoch + 1
        now = time.monotonic()
        if epoch == 0 or now - self._flushed >= self._flush_every_s:
            self._flush()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        """Send what is left."""
        if self._run_id is not None and self._pending:
            self._flush()

    def _flush(self) -> None:
        elapsed = time.monotonic() - self._started
        epochs = self.params.get("epochs") or self._epochs_done
        estimate = elapsed / self._epochs_done * epochs
        assert self._run_id is not None  # only a tracked fit queues metrics
        mlflow.MlflowClient().log_batch(
            self._run_id,
            metrics=self._pending,
            tags=[RunTag(ESTIMATE_TAG, f"{estimate:.0f}")],
        )
        self._pending = []
        self._flushed = time.monotonic()


class EpochMetricsDataset(AbstractDataset[None, list[keras.callbacks.Callback]]):
    """Keras callbacks for training: an :class:`EpochMetricsLogger`, read-only.

    Args:
        metrics: Keras's name of each value → its MLflow name.
        flush_every_s: Seconds between writes to the tracking store.
        metadata: Kedro-Viz and other plugins' metadata.
    """

    def __init__(
        self,
        metrics: dict[str, str],
        flush_every_s: float = FLUSH_EVERY_S,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._metrics = dict(metrics)
        self._flush_every_s = flush_every_s
        self.metadata = metadata

    def load(self) -> list[keras.callbacks.Callback]:
        """A new logger, in a list to hand to ``fit_sparse_autoencoder``."""
        return [EpochMetricsLogger(self._metrics, self._flush_every_s)]

    def save(self, data: None) -> None:
        """Callbacks are made here, not saved."""
        msg = "EpochMetricsDataset is read-only"
        raise DatasetError(msg)

    def _describe(self) -> dict[str, Any]:
        return {"metrics": self._metrics, "flush_every_s": self._flush_every_s}
