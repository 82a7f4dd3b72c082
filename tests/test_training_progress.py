"""Training you can watch: each epoch in the MLflow run while `kedro run` trains."""

import threading
import time

import mlflow
import pytest

from tests.project_runs import copy_project, latest_run, start_kedro

pytestmark = pytest.mark.slow

EPOCH_METRICS = ("train_loss", "val_loss", "train_l0", "val_l0", "dead_fraction_recent")


def test_each_epoch_is_in_mlflow_while_training_runs(tmp_path, monkeypatch):
    root = copy_project(tmp_path / "project")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    epochs = 300
    child = start_kedro(
        root,
        "run",
        "--params",
        f"training.epochs={epochs},training.early_stopping_patience={epochs}",
    )
    lines: list[str] = []  # read as written, so that the pipe never fills
    reader = threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True)
    reader.start()
    client = mlflow.MlflowClient(tracking_uri=store)
    seen: dict[str, int] = {}
    estimated = False
    deadline = time.monotonic() + 300
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(1)
        try:
            run = latest_run()
        except Exception:  # noqa: BLE001 - the store or its experiment is not made yet
            continue
        if run.info.status != "RUNNING":
            continue
        steps = {
            name: len(client.get_metric_history(run.info.run_id, name))
            for name in EPOCH_METRICS
        }
        if min(steps.values()) >= 3:
            seen = steps
            estimated = "training_estimated_seconds" in run.data.tags
            break
    child.wait(timeout=600)
    reader.join(timeout=60)
    output = "".join(lines)

    assert child.returncode == 0, output[-3000:]
    assert seen, "no per-epoch metrics while the run was running"
    assert estimated
    run = latest_run()
    assert run.info.status == "FINISHED"
    for name in EPOCH_METRICS:
        history = client.get_metric_history(run.info.run_id, name)
        assert sorted(m.step for m in history) == list(range(epochs))  # each once
    assert float(run.data.tags["training_estimated_seconds"]) > 0
