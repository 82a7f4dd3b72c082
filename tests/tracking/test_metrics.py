import mlflow
import pytest
from kedro.io import DatasetError

from sae_pipelines.tracking.metrics import MetricHistoryDataset


def test_a_long_history_is_logged_by_step_and_read_back(tracking):
    values = [1.0 / (step + 1) for step in range(2500)]  # three log_batch calls
    dataset = MetricHistoryDataset("val_loss")
    with mlflow.start_run() as run:
        dataset.save(values)
        assert dataset.load() == values
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "val_loss")
    assert sorted((m.step, m.value) for m in history) == list(enumerate(values))


def test_without_a_run_nothing_is_logged_and_reading_says_why(tracking):
    dataset = MetricHistoryDataset("train_loss")
    dataset.save([0.5, 0.4])
    assert mlflow.search_runs(search_all_experiments=True).empty
    with pytest.raises(DatasetError, match="'train_loss' can only be read"):
        dataset.load()
