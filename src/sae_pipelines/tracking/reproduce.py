"""Repeat a tracked run from its MLflow record: same code, parameters and data.

A run's provenance (see :mod:`~sae_pipelines.tracking.recorded_run`) names its git commit, its
resolved parameters and the version of every dataset it read and wrote. To
repeat it, the commit's files are exported to a temporary folder, its parameter
files are replaced by the run's resolved parameters, and ``kedro run`` starts
there from the run's own version of ``validated_data`` (the validated copy of
the raw table), with ``data/`` shared with the project (a clone other than the
run's first fetches that version from its snapshot in the artifact store, see
:mod:`~sae_pipelines.tracking.snapshots`). The new run logs into an MLflow run
tagged with the original's id, and its metrics and model weights are compared
with the original's.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import mlflow
import numpy as np
from mlflow.exceptions import MlflowException

from sae_pipelines.inference.artifacts import ARTIFACT_FILES
from sae_pipelines.tracking.recorded_run import (
    START_DATASET,
    CannotReproduceError,
    RecordedRun,
    load_recorded_run,
)

REPRODUCES_TAG = "reproduces_run_id"
MODEL_DATASET = "sae_model"
WEIGHTS_FILE = "model.weights.h5"  # inside a .keras archive


@dataclass(frozen=True)
class MetricComparison:
    """One metric's last value in the original run and in its repeat."""

    name: str
    original: float | None
    reproduced: float | None

    @property
    def matches(self) -> bool:
        """Exactly equal (NaN matches NaN); False when either run lacks it."""
        if self.original is None or self.reproduced is None:
            return False
        both_nan = math.isnan(self.original) and math.isnan(self.reproduced)
        return both_nan or self.original == self.reproduced


@dataclass(frozen=True)
class Reproduction:
    """The outcome of repeating a run."""

    original_run_id: str
    reproduced_run_id: str
    metrics: list[MetricComparison]
    weights_match: bool | None  # None when either model file is missing

    @property
    def matches(self) -> bool:
        """Every metric equal, and the model weights too when both files exist."""
        return all(m.matches for m in self.metrics) and self.weights_match is not False


def export_source(recorded: RecordedRun, project_path: Path, destination: Path) -> Path:
    """Write the run's commit to ``destination``, set up to repeat the run there.

    The commit's files are exported (``git archive``); ``data/`` becomes a link to
    the project's; every parameter file is replaced by one holding the run's
    resolved parameters; non-parameter files of the project's ``conf/local``
    (credentials, say, which git does not hold) are copied in.

    Returns:
        ``destination``.
    """
    archive = subprocess.run(
        ["git", "archive", "--format=tar", recorded.tags["git_commit"]],
        cwd=project_path,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(destination, filter="data")
    shutil.rmtree(destination / "data", ignore_errors=True)
    (destination / "data").symlink_to(project_path.resolve() / "data")
    conf = destination / "conf"
    for path in sorted(conf.rglob("parameters*"), reverse=True):
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert recorded.parameters is not None  # blocking_problems: a run without them
    (conf / "base" / "parameters.yml").write_text(recorded.parameters)
    local = project_path / "conf" / "local"
    (conf / "local").mkdir(exist_ok=True)  # Kedro's default env; git keeps no empty dir
    for path in _non_parameter_files(local):
        target = conf / "local" / path.relative_to(local)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return destination


def _non_parameter_files(folder: Path) -> Iterator[Path]:
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and not any(
            part.startswith("parameters") for part in relative.parts
        ):
            yield path


def run_command(recorded: RecordedRun) -> list[str]:
    """The ``kedro run`` that repeats the run from its input versions."""
    load_versions = ",".join(
        f"{name}:{record['version']}"
        for name, record in sorted(recorded.input_versions().items())
    )
    pipelines = ",".join(json.loads(recorded.tags["kedro_pipelines"]))
    return [
        *(sys.executable, "-m", "kedro", "run"),
        *("--pipelines", pipelines),
        *("--env", recorded.tags["kedro_env"]),
        *("--from-inputs", START_DATASET),
        *("--load-versions", load_versions),
    ]


def absolute_tracking_uri(uri: str, project_path: Path) -> str:
    """Make a relative SQLite URI (``sqlite:///mlflow.db``) absolute.

    The repeat runs in another folder, so a store relative to the working
    directory would be a different, empty one there.
    """
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not Path(uri.removeprefix(prefix)).is_absolute():
        return prefix + str(project_path.resolve() / uri.removeprefix(prefix))
    return uri


def run_reproduction(
    recorded: RecordedRun,
    project_path: Path,
    client: mlflow.MlflowClient,
    workspace: Path,
) -> Reproduction:
    """Repeat a run whose :func:`blocking_problems` are none, and compare.

    Args:
        recorded: The run to repeat.
        project_path: The project, holding its git repository and ``data/``.
        client: Client of the tracking store that holds the run.
        workspace: An empty folder for the exported commit; it is left to the
            caller to delete.

    Returns:
        The comparison of the repeat with the original.

    Raises:
        CannotReproduceError: The repeat's ``kedro run`` failed; its MLflow run
            is marked failed.
    """
    source = export_source(recorded, project_path, workspace / "source")
    original = recorded.run
    run_name = f"reproduce-{original.info.run_name}"
    reproduced = client.create_run(
        original.info.experiment_id,
        run_name=run_name,
        tags={REPRODUCES_TAG: recorded.run_id},
    )
    reproduced_id = reproduced.info.run_id
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(source / "src"), os.environ.get("PYTHONPATH")])
        ),
        "MLFLOW_TRACKING_URI": absolute_tracking_uri(
            mlflow.get_tracking_uri(), project_path
        ),
        "MLFLOW_RUN_ID": reproduced_id,  # the repeat logs into the tagged run
    }
    result = subprocess.run(run_command(recorded), cwd=source, env=env, check=False)
    # The repeat ran the commit's exported files, outside any git work tree,
    # and kedro-mlflow renamed the run after its pipeline.
    client.set_tag(reproduced_id, "git_commit", recorded.tags["git_commit"])
    client.set_tag(reproduced_id, "git_dirty", "false")
    client.update_run(reproduced_id, name=run_name)
    if result.returncode != 0:
        client.set_terminated(reproduced_id, "FAILED")
        msg = f"the repeat of run {recorded.run_id} (run {reproduced_id}) failed"
        raise CannotReproduceError(msg)
    repeat = load_recorded_run(client, reproduced_id)
    return Reproduction(
        original_run_id=recorded.run_id,
        reproduced_run_id=reproduced_id,
        metrics=compare_metrics(original.data.metrics, repeat.run.data.metrics),
        weights_match=_same_model(recorded, repeat, project_path, workspace),
    )


def compare_metrics(
    original: dict[str, float], reproduced: dict[str, float]
) -> list[MetricComparison]:
    """Each metric of either run, by name, with its value in both."""
    return [
        MetricComparison(name, original.get(name), reproduced.get(name))
        for name in sorted(original.keys() | reproduced.keys())
    ]


def _same_model(
    original: RecordedRun, reproduced: RecordedRun, project_path: Path, folder: Path
) -> bool | None:
    paths = [
        _model_file(run, project_path, folder / run.run_id)
        for run in (original, reproduced)
    ]
    original_file, reproduced_file = paths
    if original_file is None or reproduced_file is None:
        return None
    return same_weights(original_file, reproduced_file)


def _model_file(run: RecordedRun, project_path: Path, folder: Path) -> Path | None:
    """The run's Keras model: its ``data/`` file, else the one logged to MLflow.

    A clone other than the run's has no file of it; the autoencoder of the
    inference model the run logged holds the same weights. That one is
    downloaded into ``folder``.
    """
    record = run.dataset(MODEL_DATASET)
    if record is not None and (project_path / record["path"]).exists():
        return project_path / record["path"]
    autoencoder = f"artifacts/{ARTIFACT_FILES['autoencoder']}"  # as pyfunc keeps it
    for output in run.run.outputs.model_outputs if run.run.outputs else []:
        with contextlib.suppress(MlflowException):  # gone, or a model of another kind
            location = mlflow.get_logged_model(output.model_id).artifact_location
            return Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=f"{location}/{autoencoder}", dst_path=str(folder)
                )
            )
    return None


def same_weights(first: Path, second: Path) -> bool:
    """Whether two ``.keras`` files hold exactly the same weight arrays.

    Only the weights are read, so models saved by other code versions compare
    without their layer classes.
    """
    arrays, others = _weights(first), _weights(second)
    return arrays.keys() == others.keys() and all(
        np.array_equal(array, others[name], equal_nan=True)
        for name, array in arrays.items()
    )


def _weights(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as archive:
        content = io.BytesIO(archive.read(WEIGHTS_FILE))
    arrays: dict[str, np.ndarray] = {}

    def keep(name: str, item: h5py.Dataset | h5py.Group) -> None:
        if isinstance(item, h5py.Dataset):
            arrays[name] = item[()]

    with h5py.File(content, "r") as weights:
        weights.visititems(keep)
    return arrays
