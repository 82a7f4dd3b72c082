"""Runs stopped midway, as a user meets them through the `kedro` CLI.

Ctrl+C, SIGTERM, SIGKILL, or a tracking server that goes away: each run is a
`kedro run` subprocess of a project copy, stopped while it trains. The MLflow
run must say what happened (KILLED or FAILED, never RUNNING or FINISHED), and
nothing of the run may stay: no file version under data/, no model version.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import mlflow
import pytest

from tests.project_runs import (
    copy_project,
    free_port,
    mlflow_server,
    serve_mlflow,
    start_kedro,
)

pytestmark = pytest.mark.slow

# Training that would run for minutes: it is stopped long before it ends.
LONG = "training.epochs=2000,training.early_stopping_patience=2000"
SHORT = "training.epochs=15"
MAX_LINES = 40
BACKUPS = "data/06_models/training_backups"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project copy after one short run (registered version 1), and its store."""
    root = copy_project(tmp_path_factory.mktemp("interrupted") / "project")
    store = f"sqlite:///{root.parent / 'mlflow.db'}"
    run_to_end(root, store, "--params", SHORT)
    return root, store


def run_to_end(root: Path, store: str, *args: str) -> str:
    """``kedro run ARGS``, which must succeed; its output."""
    child = start_kedro(root, "run", *args, env={"MLFLOW_TRACKING_URI": store})
    output = child.communicate(timeout=600)[0]
    assert child.returncode == 0, output[-3000:]
    return output


def start_training(
    root: Path, store: str, columns: int = 400
) -> tuple[subprocess.Popen, str]:
    """Start a long ``kedro run``; return once it has trained for a few seconds.

    Returns:
        The process, and its output so far.
    """
    child = start_kedro(
        root,
        "run",
        "--params",
        LONG,
        env={"MLFLOW_TRACKING_URI": store, "COLUMNS": str(columns)},
    )
    lines = []
    for line in child.stdout:
        lines.append(line)
        if "Training on " in line:
            break
    else:
        pytest.fail("".join(lines)[-3000:])
    time.sleep(4)  # a few epochs in, and past the first write of its metrics
    return child, "".join(lines)


def finish(child: subprocess.Popen, output: str, timeout: float) -> list[str]:
    """The output of a stopped run from ``output`` on, once it has exited, as lines.

    ``output``, what it wrote before it was stopped, is left out.
    """
    return child.communicate(timeout=timeout)[0].rstrip().splitlines()


def data_files(root: Path) -> dict[str, int]:
    """Each file under data/, with its modification time, but the fit's backups.

    A fit cut short keeps its last complete epoch there, to resume from.
    """
    backups = root / BACKUPS
    return {
        str(path.relative_to(root)): path.stat().st_mtime_ns
        for path in (root / "data").rglob("*")
        if path.is_file() and path.name != ".lock" and backups not in path.parents
    }


def model_versions(store: str) -> list[str]:
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    return sorted(
        v.version for v in client.search_model_versions("name = 'sae_pipelines'")
    )


def latest_run(store: str) -> mlflow.entities.Run:
    client = mlflow.MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("sae_pipelines")
    return client.search_runs(
        [experiment.experiment_id], order_by=["attributes.start_time DESC"]
    )[0]


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)]
)
def test_a_signalled_run_ends_killed_and_keeps_nothing(trained, signum, status):
    root, store = trained
    files, versions = data_files(root), model_versions(store)
    child, output = start_training(root, store)

    child.send_signal(signum)
    signalled = time.monotonic()
    lines = finish(child, output, timeout=60)

    assert child.returncode == status, "\n".join(lines[-40:])
    assert time.monotonic() - signalled < 15
    assert f"interrupted by {signum.name}" in lines[-1]
    assert "Traceback" not in "\n".join(lines)
    run = latest_run(store)
    assert run.info.status == "KILLED"
    client = mlflow.MlflowClient(tracking_uri=store)
    assert client.get_metric_history(run.info.run_id, "train_loss")  # it trained
    assert data_files(root) == files
    assert model_versions(store) == versions
    assert list((root / BACKUPS).glob("*/epoch_*"))  # the same command resumes


def test_a_run_killed_outright_is_marked_killed_by_the_next_run(trained):
    root, store = trained
    child, _ = start_training(root, store)
    child.kill()
    child.communicate(timeout=60)
    killed = latest_run(store)
    assert killed.info.status == "RUNNING"
    assert killed.data.tags["process_id"] == str(child.pid)

    output = run_to_end(root, store, "--pipelines", "data_processing")

    client = mlflow.MlflowClient(tracking_uri=store)
    assert client.get_run(killed.info.run_id).info.status == "KILLED"
    assert f"MLflow run {killed.info.run_id}" in output
    assert latest_run(store).info.status == "FINISHED"
    version = killed.data.tags["run_id"]  # the save version of its files
    assert f"Removed the 5 file versions {version}" in output
    assert not list((root / "data").rglob(version))


def test_a_tracking_server_that_goes_away_ends_the_run_within_a_minute(tmp_path):
    root = copy_project(tmp_path / "project")
    (tmp_path / "server").mkdir()
    port = free_port()
    files = data_files(root)
    with serve_mlflow(tmp_path / "server", port) as uri:
        # At the width of a terminal: the output's lines are what a user reads.
        child, output = start_training(root, uri, columns=80)
    stopped = time.monotonic()  # the server is gone
    lines = finish(child, output, timeout=120)

    assert time.monotonic() - stopped < 90
    assert child.returncode not in (0, None), "\n".join(lines)
    assert len(lines) <= MAX_LINES, "\n".join(lines)  # from when it was stopped
    assert uri in lines[-1] and "stopped answering" in lines[-1], lines[-1]
    assert "Traceback" not in "\n".join(lines)
    assert data_files(root) == files

    with serve_mlflow(tmp_path / "server", port):
        assert model_versions(uri) == []
        failed = latest_run(uri)
        run_to_end(root, uri, "--params", SHORT)
        assert model_versions(uri) == ["1"]
        assert latest_run(uri).info.status == "FINISHED"
        # The server could not be told; the rerun marked it.
        client = mlflow.MlflowClient(tracking_uri=uri)
        assert client.get_run(failed.info.run_id).info.status == "KILLED"


def test_a_tracking_server_that_hangs_ends_the_run_within_90_s(tmp_path):
    root = copy_project(tmp_path / "project")
    (tmp_path / "server").mkdir()
    files = data_files(root)
    with mlflow_server(tmp_path / "server") as (uri, server):
        child, output = start_training(root, uri, columns=80)
        # Stopped, not gone: connections are taken, and never answered.
        os.killpg(server.pid, signal.SIGSTOP)
        stopped = time.monotonic()
        try:
            lines = finish(child, output, timeout=180)
        finally:
            os.killpg(server.pid, signal.SIGCONT)
        waited = time.monotonic() - stopped

    assert waited < 90, waited
    assert child.returncode not in (0, None), "\n".join(lines)
    assert len(lines) <= MAX_LINES, "\n".join(lines)
    assert uri in lines[-1] and "stopped answering" in lines[-1], lines[-1]
    assert data_files(root) == files
