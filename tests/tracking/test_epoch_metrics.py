"""Each epoch's metrics reach the MLflow run as training goes."""

import mlflow
import pytest
from kedro.io import DatasetError

from sae_pipelines.tracking.epoch_metrics import (
    ESTIMATE_TAG,
    EpochMetricsDataset,
    EpochMetricsLogger,
)

NAMES = {"loss": "train_loss", "val_loss": "val_loss"}


def train(logger: EpochMetricsLogger, epochs: int, stop_after: int) -> None:
    """Call the logger as Keras's ``fit`` does, stopping early after ``stop_after``."""
    logger.set_params({"epochs": epochs})
    logger.on_train_begin()
    for epoch in range(stop_after):
        logger.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0, "x": 0})
    logger.on_train_end()


def history(run_id: str, name: str) -> list[tuple[int, float]]:
    metrics = mlflow.MlflowClient().get_metric_history(run_id, name)
    return sorted((m.step, m.value) for m in metrics)


def test_each_epoch_is_logged_once_by_step(tracking):
    [logger] = EpochMetricsDataset(NAMES).load()
    with mlflow.start_run() as run:
        train(logger, epochs=10, stop_after=4)
    run_id = run.info.run_id
    assert history(run_id, "train_loss") == [(0, 1.0), (1, 0.5), (2, 1 / 3), (3, 0.25)]
    assert history(run_id, "val_loss") == [(step, 2.0) for step in range(4)]
    logged = mlflow.MlflowClient().get_run(run_id).data
    assert set(logged.metrics) == {"train_loss", "val_loss"}  # "x" is not asked for
    assert float(logged.tags[ESTIMATE_TAG]) >= 0


def test_the_first_epoch_is_there_before_the_next_write(tracking):
    logger = EpochMetricsLogger(NAMES, flush_every_s=3600)
    logger.set_params({"epochs": 10})
    with mlflow.start_run() as run:
        logger.on_train_begin()
        logger.on_epoch_end(0, {"loss": 1.0, "val_loss": 2.0})
        logger.on_epoch_end(1, {"loss": 0.5, "val_loss": 1.5})
        assert history(run.info.run_id, "train_loss") == [(0, 1.0)]
        assert ESTIMATE_TAG in mlflow.MlflowClient().get_run(run.info.run_id).data.tags
        logger.on_train_end()
        assert history(run.info.run_id, "train_loss") == [(0, 1.0), (1, 0.5)]


def test_without_a_run_nothing_is_logged(tracking):
    train(EpochMetricsLogger(NAMES), epochs=3, stop_after=3)
    assert mlflow.search_runs(search_all_experiments=True).empty


def test_the_dataset_is_read_only():
    with pytest.raises(DatasetError, match="read-only"):
        EpochMetricsDataset(NAMES).save([])
