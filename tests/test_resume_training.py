"""A `kedro run` killed while training, started again with the same command.

The second run resumes from the fit's last complete epoch (its backup under
``training.backup_folder``) and ends with exactly the weights and training
metrics of a run never killed.
"""

import json
import os
import signal
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.project_runs import copy_project, kedro_cli, start_kedro

pytestmark = pytest.mark.slow

RUN = ("run", "--pipelines", "data_processing,training")
BACKUPS = "data/06_models/training_backups"


def newest(root: Path, dataset: str) -> Path:
    """The newest version's file of a versioned dataset, e.g. ``06_models/x.keras``."""
    folder = root / "data" / dataset
    return max(folder.iterdir()) / folder.name


def weights(root: Path) -> list[np.ndarray]:
    model = keras.models.load_model(newest(root, "06_models/sae_model.keras"))
    return model.get_weights()


def training_metrics(root: Path) -> dict:
    return json.loads(newest(root, "08_reporting/training_metrics.json").read_text())


def kill_during_training(root: Path, after_epochs: int) -> int:
    """Start the run, SIGKILL it once ``after_epochs`` epochs are backed up."""
    child = start_kedro(root, *RUN)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        saved = sorted((root / BACKUPS).glob("*/epoch_*[0-9]"))
        if saved and int(saved[-1].name.split("_")[1]) >= after_epochs:
            break
        assert child.poll() is None, child.stdout.read()[-3000:]
        time.sleep(0.02)
    else:
        pytest.fail(f"no backup of {after_epochs} epochs within 300 s")
    os.killpg(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()
    (backup,) = (root / BACKUPS).glob("*/epoch_*[0-9]")
    return int(backup.name.split("_")[1])


def test_a_run_killed_while_training_resumes_to_an_uninterrupted_runs_end(
    tmp_path, monkeypatch
):
    whole, killed = (copy_project(tmp_path / name) for name in ("whole", "killed"))
    for root in (whole, killed):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        if root is whole:
            result = kedro_cli(root, *RUN)
            assert result.returncode == 0, result.stderr[-3000:]
            continue
        done = kill_during_training(root, after_epochs=5)
        resumed = kedro_cli(root, *RUN)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert (
            f"Resuming training after epoch {done}" in resumed.stdout + resumed.stderr
        )

    assert training_metrics(killed) == training_metrics(whole)
    assert training_metrics(whole)["epochs_trained"] > done
    for resumed_weights, whole_weights in zip(
        weights(killed), weights(whole), strict=True
    ):
        np.testing.assert_array_equal(resumed_weights, whole_weights)
    assert not any((killed / BACKUPS).iterdir())  # the finished fit removed its own
