"""Runs left RUNNING by a process that was killed are marked KILLED by the next."""

import os
import socket
import subprocess
import sys

import mlflow
import pytest

from sae_pipelines.tracking.abandoned_runs import (
    HOST_TAG,
    PID_TAG,
    START_TAG,
    end_abandoned_runs,
    process_start,
    process_tags,
)


@pytest.fixture
def experiment(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    return mlflow.MlflowClient().create_experiment("runs")


def running_run(experiment: str, tags: dict[str, str]) -> str:
    return mlflow.MlflowClient().create_run(experiment, tags=tags).info.run_id


def status(run_id: str) -> str:
    return mlflow.MlflowClient().get_run(run_id).info.status


def test_only_runs_of_processes_gone_from_this_host_are_ended(experiment):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = socket.gethostname()
    own = process_tags()
    gone = running_run(experiment, {HOST_TAG: host, PID_TAG: str(child.pid)})
    alive = running_run(experiment, own)
    # The same process id, given to a process started at another time.
    reused = running_run(experiment, own | {START_TAG: "1"})
    elsewhere = running_run(
        experiment, {HOST_TAG: f"not-{host}", PID_TAG: str(child.pid)}
    )
    untagged = running_run(experiment, {})

    assert sorted(end_abandoned_runs(experiment)) == sorted([gone, reused])

    assert status(gone) == status(reused) == "KILLED"
    assert status(alive) == status(elsewhere) == status(untagged) == "RUNNING"


def test_this_process_has_a_start_time():
    assert process_start(os.getpid())
    assert process_tags()[PID_TAG] == str(os.getpid())
