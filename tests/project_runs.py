"""Run a copy of the whole project through a KedroSession, as `kedro run` does.

Each test works on a copy of the project in a temporary folder, with its own
MLflow store, so the repository's data/ and mlflow.db are never touched.
"""

import contextlib
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from benchmarks.project import PROJECT_ROOT, copy_project


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A fresh project copy, the working directory, with a SQLite MLflow store."""
    root = copy_project(tmp_path / "project")
    monkeypatch.chdir(root)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow.set_tracking_uri(store)  # else an earlier test's stays in this process
    return root


@pytest.fixture(scope="module")
def trained_once(tmp_path_factory):
    """One project copy (its own MLflow store) that has trained and registered a model."""
    folder = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(copy_project(folder / "project"))
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        run_project(folder / "project", {"training": {"epochs": 15}})
    return folder


@pytest.fixture
def trained(trained_once, tmp_path, monkeypatch):
    """A fresh copy of the trained project and its store, the working directory.

    Registered version 1 is ``production``; ``data/01_raw/incoming`` is empty.
    """
    shutil.copytree(trained_once, tmp_path / "copy")
    project = tmp_path / "copy/project"
    monkeypatch.chdir(project)
    store = f"sqlite:///{tmp_path / 'copy/mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow.set_tracking_uri(store)
    (project / "data/01_raw/incoming").mkdir(parents=True, exist_ok=True)
    return project


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


def parent_and_nested_runs() -> tuple[
    mlflow.entities.Run, dict[str, mlflow.entities.Run]
]:
    """The latest run's outermost run, and the runs nested under it by name."""
    client = mlflow.MlflowClient()
    parent = latest_run()
    while parent.data.tags.get("mlflow.parentRunId"):
        parent = client.get_run(parent.data.tags["mlflow.parentRunId"])
    nested = mlflow.search_runs(
        experiment_ids=[parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
        output_format="list",
    )
    return parent, {run.info.run_name: run for run in nested}


def start_kedro(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start ``kedro ARGS`` in the project copy, in a process group of its own.

    Its stdout and stderr come as one text stream, a log record per line, as
    they are written. ``env``: more environment variables.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "kedro", *args],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"COLUMNS": "400", "PYTHONUNBUFFERED": "1"} | (env or {}),
        start_new_session=True,
    )


def code_columns(table: pd.DataFrame) -> list[str]:
    """The code columns of a scored table, in their order."""
    return [name for name in table.columns if name.startswith("code_")]


def digits(rows: int, start: int = 0) -> pd.DataFrame:
    """``rows`` unlabelled digit rows from ``start`` (repeated past the 1797th)."""
    pixels = pd.read_csv(PROJECT_ROOT / "data/01_raw/digits.csv").drop(columns="label")
    index = np.arange(start, start + rows) % len(pixels)
    return pixels.iloc[index].reset_index(drop=True)


def kedro_cli(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``kedro ARGS`` in the project copy, one log record per line.

    ``env`` replaces the process environment (default: this one's).
    """
    return subprocess.run(
        [sys.executable, "-m", "kedro", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=(os.environ if env is None else env) | {"COLUMNS": "400"},
    )


# Library warnings and TensorFlow's C++ log lines, which a run must not print.
NOISE_MARKERS = ("Warning", "WARNING", "E0000", "W0000", "I0000", "retracing")


def noise(output: tuple[str, str] | subprocess.CompletedProcess) -> list[str]:
    """The lines of a run's stdout and stderr with a :data:`NOISE_MARKERS` marker."""
    if isinstance(output, subprocess.CompletedProcess):
        output = (output.stdout, output.stderr)
    lines = "\n".join(output).splitlines()
    return [line for line in lines if any(mark in line for mark in NOISE_MARKERS)]


def assert_batch_run_tracked(
    partitions: int, rows: int, rows_by_sequence: list[tuple[int, float]]
) -> None:
    """The latest MLflow run is a batch run of registered version 1 with these counts.

    ``rows_by_sequence`` lists each partition's sequence number (the step of
    its drift metrics) and rows.
    """
    run = latest_run()
    assert run.data.metrics["batch_partitions"] == partitions
    assert run.data.metrics["batch_rows"] == rows
    assert run.data.metrics["model_version"] == 1
    history = mlflow.MlflowClient().get_metric_history(
        run.info.run_id, "partition_rows"
    )
    assert sorted((m.step, m.value) for m in history) == rows_by_sequence


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_mlflow(folder: Path, port: int | None = None) -> Iterator[str]:
    """A real `mlflow server` on a loopback port (default: a free one); yields its URI.

    Its SQLite store is ``folder/server.db``; it serves the artifacts it
    keeps under ``folder/server-artifacts``. Leaving the block stops it.
    """
    with mlflow_server(folder, port) as (uri, _):
        yield uri


@contextlib.contextmanager
def mlflow_server(
    folder: Path, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """:func:`serve_mlflow`, yielding its URI and its process.

    The process leads a process group of its own: its job runners too. Leaving
    the block stops them all (the job runners would outlive the server).
    """
    port = free_port() if port is None else port
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'server.db'}",
            "--artifacts-destination",
            str(folder / "server-artifacts"),
            "--serve-artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert server.poll() is None, "mlflow server exited"
            time.sleep(0.5)
    else:
        os.killpg(server.pid, signal.SIGKILL)
        pytest.fail("mlflow server did not start in 120 s")
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
