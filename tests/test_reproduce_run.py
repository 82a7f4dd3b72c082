"""`kedro reproduce --run-id ID` from a fresh clone, through an `mlflow server`.

One training run is made in a git checkout of the project, tracked by a real
server that serves its artifacts; each test repeats or refuses it from its own
fresh `git clone`, which shares nothing with the checkout but the server.
"""

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from sae_pipelines.tracking.provenance import file_sha256
from sae_pipelines.tracking.reproduce import REPRODUCES_TAG
from sae_pipelines.tracking.snapshots import SHA256_TAG
from tests.project_runs import (
    PROJECT_ROOT,
    copy_project,
    free_port,
    kedro_cli,
    serve_mlflow,
)

pytestmark = pytest.mark.slow

GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
# A distribution present only while the original run is made.
PROBE_PACKAGE = "sae-reproduce-probe"
VALIDATED = "data/02_intermediate/validated_data.parquet"


def git(project: Path, *args: str) -> str:
    return subprocess.run(
        [*GIT, *args], cwd=project, capture_output=True, text=True, check=True
    ).stdout.strip()


def kedro(server: str, project: Path, *args: str, extra_path: Path | None = None):
    """``kedro ARGS`` in ``project``, tracked by the server."""
    env = os.environ | {"MLFLOW_TRACKING_URI": server}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return kedro_cli(project, *args, env=env)


def runs(server: str) -> list[mlflow.entities.Run]:
    """The server's runs, newest first."""
    mlflow.set_tracking_uri(server)
    return mlflow.search_runs(
        experiment_names=["sae_pipelines"],
        order_by=["start_time DESC"],
        output_format="list",
    )


@dataclass(frozen=True)
class Trained:
    """The checkout, its training run, and the server that tracked it."""

    root: Path
    run: mlflow.entities.Run
    server: str
    artifacts: Path  # the server's artifact store

    def snapshots(self) -> list[Path]:
        """Every file under ``snapshots/`` of the server's artifact store."""
        return sorted(p for p in self.artifacts.glob("*/snapshots/**/*") if p.is_file())

    def reproduce(self, project: Path) -> subprocess.CompletedProcess:
        """``kedro reproduce --run-id`` of the run, in ``project``."""
        return kedro(self.server, project, "reproduce", "--run-id", self.run_id)

    @property
    def run_id(self) -> str:
        return self.run.info.run_id

    def run_ids(self) -> list[str]:
        """The ids of the server's runs, newest first."""
        return [run.info.run_id for run in runs(self.server)]

    def clone(self, tmp_path: Path) -> Path:
        """A fresh clone of the checkout: no data/ but the committed raw file."""
        destination = tmp_path / "clone"
        git(tmp_path, "clone", "-q", str(self.root), str(destination))
        return destination


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A git checkout of the project with one run tracked by an mlflow server."""
    folder = tmp_path_factory.mktemp("reproduce")
    root = copy_project(folder / "project")
    shutil.copy(PROJECT_ROOT / ".gitignore", root / ".gitignore")
    shutil.copytree(
        PROJECT_ROOT / "src/sae_pipelines",
        root / "src/sae_pipelines",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (root / "conf/local/.gitkeep").touch()  # as the repository keeps conf/local
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "project")
    probe = tmp_path_factory.mktemp("site") / f"{PROBE_PACKAGE}-1.0.dist-info"
    probe.mkdir()
    (probe / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {PROBE_PACKAGE}\nVersion: 1.0\n"
    )
    with serve_mlflow(folder) as server:
        # A runtime parameter, which only the run's record holds.
        result = kedro(
            server,
            root,
            *("run", "--params", "training.epochs=40"),
            extra_path=probe.parent,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        [run] = runs(server)
        yield Trained(root, run, server, folder / "server-artifacts")


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_the_run_input_is_stored_once_as_its_mlflow_dataset(trained):
    version = trained.run.data.tags["kedro_save_version"]
    local = trained.root / VALIDATED / version / "validated_data.parquet"
    digest = file_sha256(local)
    [snapshot] = trained.snapshots()
    assert snapshot.parent.name == digest
    assert snapshot.read_bytes() == local.read_bytes()
    [dataset_input] = trained.run.inputs.dataset_inputs
    dataset = dataset_input.dataset
    assert dataset.name == "validated_data"
    assert digest.startswith(dataset.digest)
    assert {t.key: t.value for t in dataset_input.tags}[SHA256_TAG] == digest
    assert f"snapshots/sha256/{digest}/validated_data.parquet" in dataset.source
    assert dataset.source.startswith('{"uri": "mlflow-artifacts:/')
    assert '"name": "pixel_0_0"' in dataset.schema
    assert '"num_rows": 1797' in dataset.profile


def test_a_run_is_repeated_exactly_from_a_fresh_clone_after_changes(trained, tmp_path):
    project, original = trained.clone(tmp_path), trained.run
    run_id = original.info.run_id
    version = original.data.tags["kedro_save_version"]
    assert original.data.params["training.epochs"] == "40"
    assert not (project / VALIDATED).exists()
    # New raw rows, a committed parameter change, and a code change that would
    # double every FVU if the current code ran.
    raw = project / "data/01_raw/digits.csv"
    pd.read_csv(raw).iloc[::-1].head(900).to_csv(raw, index=False)
    replace(
        project / "conf/base/parameters_training.yml",
        "learning_rate: auto",
        "learning_rate: 0.01",
    )
    replace(
        project / "src/sae_pipelines/sae/metrics.py",
        "return float(residual / total)",
        "return float(2 * residual / total)",
    )
    git(project, "commit", "-qam", "new data, learning rate and FVU")

    result = trained.reproduce(project)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "reproduced exactly" in result.stdout
    assert "Model weights: identical" in result.stdout
    assert "test_fvu" in result.stdout and " NO " not in result.stdout
    assert f"{PROBE_PACKAGE} 1.0 (run) → not installed (now)" in result.stderr
    reproduced, *_ = runs(trained.server)
    assert reproduced.data.tags[REPRODUCES_TAG] == run_id
    assert reproduced.info.status == "FINISHED"
    assert reproduced.data.tags["git_commit"] == original.data.tags["git_commit"]
    assert reproduced.data.params["training.epochs"] == "40"
    assert reproduced.data.params["training.learning_rate"] == "auto"
    assert reproduced.data.metrics == original.data.metrics
    # The snapshot came into the clone at the run's version, and the repeat,
    # a second run on the same data, stored no second copy.
    fetched = project / VALIDATED / version / "validated_data.parquet"
    [snapshot] = trained.snapshots()
    assert file_sha256(fetched) == snapshot.parent.name
    [repeat_input] = reproduced.inputs.dataset_inputs
    assert (
        repeat_input.dataset.digest == original.inputs.dataset_inputs[0].dataset.digest
    )


def test_a_corrupted_snapshot_is_refused_by_its_digest(trained, tmp_path):
    project, original = trained.clone(tmp_path), trained.run
    [snapshot] = trained.snapshots()
    recorded = snapshot.parent.name
    kept = snapshot.read_bytes()
    runs_before = trained.run_ids()
    snapshot.write_bytes(kept[:-1] + bytes([kept[-1] ^ 1]))
    try:
        result = trained.reproduce(project)
    finally:
        snapshot.write_bytes(kept)

    assert result.returncode == 1
    message = " ".join(result.stderr.split())  # as the terminal wrapped it
    assert "digest mismatch" in message
    assert f"of run {original.info.run_id}" in message
    assert f"{recorded}/validated_data.parquet" in message
    assert f"the run recorded {recorded}" in message
    assert file_sha256(snapshot) == recorded  # restored
    assert not (project / VALIDATED).exists()
    assert trained.run_ids() == runs_before


def test_a_snapshot_missing_from_the_store_is_named_and_nothing_runs(trained, tmp_path):
    project, original = trained.clone(tmp_path), trained.run
    version = original.data.tags["kedro_save_version"]
    [snapshot] = trained.snapshots()
    runs_before = trained.run_ids()
    aside = tmp_path / "aside"
    snapshot.rename(aside)
    try:
        result = trained.reproduce(project)
    finally:
        aside.rename(snapshot)

    assert result.returncode == 1
    message = " ".join(result.stderr.split())
    assert (
        f"snapshot missing from the store: dataset 'validated_data' version {version}"
        in message
    )
    assert trained.run_ids() == runs_before
    assert not (project / VALIDATED).exists()


def test_an_unreachable_server_is_named_within_30_s(trained, tmp_path):
    project = trained.clone(tmp_path)
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = os.environ | {"MLFLOW_TRACKING_URI": uri}
    started = time.monotonic()
    result = kedro_cli(project, "reproduce", "--run-id", trained.run_id, env=env)
    elapsed = time.monotonic() - started

    assert result.returncode == 1
    assert f"the MLflow tracking server at {uri} cannot be reached" in " ".join(
        result.stderr.split()
    )
    assert elapsed < 30


def test_a_commit_gone_from_the_repository_is_named(trained, tmp_path):
    project, original = trained.clone(tmp_path), trained.run
    commit = original.data.tags["git_commit"]
    runs_before = trained.run_ids()
    # Rewrite history so that the run's commit is unreachable, then drop it.
    git(project, "checkout", "-q", "--orphan", "rewritten")
    git(project, "commit", "-qm", "history rewritten")
    for branch in git(project, "branch", "--format=%(refname:short)").split():
        if branch != "rewritten":
            git(project, "branch", "-qD", branch)
    git(project, "remote", "remove", "origin")
    git(project, "reflog", "expire", "--expire=now", "--all")
    git(project, "gc", "-q", "--prune=now")

    result = trained.reproduce(project)

    assert result.returncode == 1
    assert f"commit {commit} of run {original.info.run_id} is not in" in result.stderr
    assert trained.run_ids() == runs_before
