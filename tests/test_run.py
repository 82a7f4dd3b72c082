"""Whole-project runs through a KedroSession, read back from MLflow.

Each test works on a copy of the project in a temporary folder, with its own
MLflow store, so the repository's data/ and mlflow.db are never touched.
"""

import math
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import Version
from kedro_datasets.pandas import ParquetDataset
from sklearn.decomposition import PCA

from sae_pipelines.sae.metrics import fraction_of_variance_unexplained
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

REQUIRED_METRICS = {"test_mse", "test_fvu", "test_l0", "dead_fraction"}
ANOMALY_METRICS = {"anomaly_roc_auc", "anomaly_pr_auc", "anomaly_f1"}
SHORT_TRAINING = {"training": {"epochs": 15}}


def copy_project(destination: Path) -> Path:
    """Copy what `kedro run` needs: pyproject, conf/base, data folders, raw data."""
    destination.mkdir()
    (destination / "src").mkdir()  # the package itself is installed
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT_ROOT / name, destination / name)
    shutil.copytree(PROJECT_ROOT / "conf" / "base", destination / "conf" / "base")
    (destination / "conf" / "local").mkdir()
    for layer in sorted((PROJECT_ROOT / "data").iterdir()):
        (destination / "data" / layer.name).mkdir(parents=True)
    shutil.copy(
        PROJECT_ROOT / "data/01_raw/digits.csv", destination / "data/01_raw/digits.csv"
    )
    return destination


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A fresh project copy, the working directory, with a SQLite MLflow store."""
    root = copy_project(tmp_path / "project")
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return root


class ProjectRunError(RuntimeError):
    """A run in the child process failed; the message holds its traceback."""


def _run_session(root: Path, runtime_params: dict | None, errors) -> None:
    try:
        bootstrap_project(root)
        with KedroSession.create(
            project_path=root, runtime_params=runtime_params
        ) as session:
            session.run()
    except Exception:  # noqa: BLE001 - reported to the parent test
        errors.put(traceback.format_exc())
    else:
        errors.put(None)


def run_project(root: Path, runtime_params: dict | None = None) -> mlflow.entities.Run:
    """Run the default pipeline through a KedroSession; return its MLflow run.

    Each session runs in a fresh process, as each `kedro run` does: kedro-mlflow
    keeps its run in process-wide MLflow state that a second session would reuse.
    """
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    child = context.Process(target=_run_session, args=(root, runtime_params, errors))
    child.start()
    error = errors.get(timeout=600)
    child.join(timeout=60)
    if error is not None:
        raise ProjectRunError(error)
    return latest_run()


def latest_run() -> mlflow.entities.Run:
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    runs = mlflow.search_runs(
        experiment_names=["sae_pipelines"],
        order_by=["start_time DESC"],
        output_format="list",
    )
    return runs[0]


def data_files(root: Path) -> dict[str, float]:
    """Every file under data/ with its modification time."""
    return {
        str(p.relative_to(root)): p.stat().st_mtime
        for p in (root / "data").rglob("*")
        if p.is_file()
    }


def latest_version(root: Path, relative: str) -> pd.DataFrame:
    """Load the newest version of a versioned parquet dataset, as Kedro does."""
    return ParquetDataset(
        filepath=str(root / relative), version=Version(None, None)
    ).load()


def test_default_run_tracks_everything_and_beats_pca(project):
    run = run_project(project)
    client = mlflow.MlflowClient()
    metrics = run.data.metrics
    assert run.info.status == "FINISHED"
    assert REQUIRED_METRICS <= set(metrics)
    assert not ANOMALY_METRICS & set(metrics)
    assert run.data.params["model.sparsity.method"] == "topk"
    train_loss = client.get_metric_history(run.info.run_id, "train_loss")
    val_loss = client.get_metric_history(run.info.run_id, "val_loss")
    assert len(train_loss) == len(val_loss) > 10
    assert [m.step for m in train_loss] == list(range(len(train_loss)))
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {
        f"plots/{n}.png"
        for n in ("codes_2d", "mean_activation", "reconstructions", "anomaly_scores")
    }
    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    assert [m.source_run_id for m in models] == [run.info.run_id]
    assert mlflow.keras.load_model(f"models:/{models[0].model_id}").input_shape == (
        None,
        64,
    )

    # Quality on digits: truly sparse, few dead units, better than PCA with as many components.
    assert metrics["test_l0"] <= 16
    assert metrics["dead_fraction"] < 0.05
    train = latest_version(project, "data/05_model_input/model_input_train.parquet")
    test = latest_version(project, "data/05_model_input/model_input_test.parquet")
    pixels = [c for c in train.columns if c.startswith("pixel_")]
    pca = PCA(n_components=math.ceil(metrics["test_l0"])).fit(train[pixels])
    x_test = test[pixels].to_numpy()
    pca_fvu = fraction_of_variance_unexplained(
        x_test, pca.inverse_transform(pca.transform(x_test))
    )
    assert metrics["test_fvu"] < pca_fvu
    summary = f"test_l0={metrics['test_l0']} test_fvu={metrics['test_fvu']:.4f} pca_fvu={pca_fvu:.4f}"
    print(summary)  # noqa: T201


def test_same_data_and_parameters_give_the_same_metrics(project):
    first = run_project(project, SHORT_TRAINING)
    second = run_project(project, SHORT_TRAINING)
    assert first.info.run_id != second.info.run_id
    assert first.data.metrics == second.data.metrics


def test_one_class_digits_from_the_command_line(project):
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--params", "anomaly.normal_labels=[0]"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    run = latest_run()
    assert run.data.params["anomaly.normal_labels"] == "[0]"
    assert ANOMALY_METRICS <= set(run.data.metrics)
    assert run.data.metrics["anomaly_roc_auc"] >= 0.99


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on a free loopback port with a SQLite backend."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert server.poll() is None, "mlflow server exited"
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("mlflow server did not start in 120 s")
    yield uri
    server.terminate()
    server.wait(timeout=30)


def test_run_against_a_real_mlflow_server(project, mlflow_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    run = run_project(project, SHORT_TRAINING)
    assert run.info.status == "FINISHED"
    assert REQUIRED_METRICS <= set(run.data.metrics)
    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    assert len(client.list_artifacts(run.info.run_id, "plots")) == 4
    assert len(client.get_metric_history(run.info.run_id, "val_loss")) == 15


@pytest.fixture
def trained_project(project):
    """A project copy after one short, successful run."""
    run_project(project, SHORT_TRAINING)
    return project


def assert_run_fails_and_keeps_outputs(
    root: Path, runtime_params: dict, message: str
) -> None:
    before = data_files(root)
    with pytest.raises(ProjectRunError, match=message):
        run_project(root, runtime_params)
    assert data_files(root) == before


def test_bad_raw_data_stops_before_training_and_keeps_earlier_outputs(trained_project):
    raw = trained_project / "data/01_raw/digits.csv"
    table = pd.read_csv(raw)
    table.loc[5, "pixel_3_3"] = np.nan
    table.to_csv(raw, index=False)
    assert_run_fails_and_keeps_outputs(
        trained_project, SHORT_TRAINING, r"NaN or infinite.*'pixel_3_3': 1"
    )


def test_missing_raw_file_is_named(trained_project):
    (trained_project / "data/01_raw/digits.csv").unlink()
    assert_run_fails_and_keeps_outputs(trained_project, SHORT_TRAINING, r"digits\.csv")


def test_bad_parameter_stops_before_anything_is_written(trained_project):
    params = {"model": {"sparsity": {"topk": {"k": 100}}}}
    assert_run_fails_and_keeps_outputs(
        trained_project, params, "larger than code_size=64"
    )
