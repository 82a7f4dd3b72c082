"""`kedro reproduce --run-id ID` on a git checkout of the project, end to end."""

import os
import shutil
import subprocess
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from sae_pipelines.tracking.reproduce import REPRODUCES_TAG
from tests.project_runs import PROJECT_ROOT, copy_project, kedro_cli

pytestmark = pytest.mark.slow

GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
# A distribution present only while the original run is made.
PROBE_PACKAGE = "sae-reproduce-probe"


def git(project: Path, *args: str) -> str:
    return subprocess.run(
        [*GIT, *args], cwd=project, capture_output=True, text=True, check=True
    ).stdout.strip()


def kedro(project: Path, *args: str, extra_path: Path | None = None):
    """``kedro ARGS`` in ``project``, tracking in its own relative SQLite store."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return kedro_cli(project, *args, env=env)


def runs(project: Path) -> list[mlflow.entities.Run]:
    """The project's MLflow runs, newest first."""
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlflow.db'}")
    return mlflow.search_runs(
        experiment_names=["sae_pipelines"],
        order_by=["start_time DESC"],
        output_format="list",
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A git checkout of the project with one training run; returns (path, run)."""
    root = copy_project(tmp_path_factory.mktemp("reproduce") / "project")
    shutil.copy(PROJECT_ROOT / ".gitignore", root / ".gitignore")
    shutil.copytree(
        PROJECT_ROOT / "src/sae_pipelines",
        root / "src/sae_pipelines",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "project")
    probe = tmp_path_factory.mktemp("site") / f"{PROBE_PACKAGE}-1.0.dist-info"
    probe.mkdir()
    (probe / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {PROBE_PACKAGE}\nVersion: 1.0\n"
    )
    # A runtime parameter, which only the run's record holds.
    result = kedro(
        root, "run", "--params", "training.epochs=40", extra_path=probe.parent
    )
    assert result.returncode == 0, result.stderr[-3000:]
    [run] = runs(root)
    return root, run


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def copy_of(trained, tmp_path) -> tuple[Path, mlflow.entities.Run]:
    root, run = trained
    copy = tmp_path / "project"
    shutil.copytree(root, copy, symlinks=True)
    return copy, run


def test_a_run_is_repeated_exactly_after_data_parameters_and_code_change(
    trained, tmp_path
):
    project, original = copy_of(trained, tmp_path)
    run_id = original.info.run_id
    assert original.data.params["training.epochs"] == "40"
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
    before = sorted(p.relative_to(project) for p in (project / "data").rglob("*"))

    result = kedro(project, "reproduce", "--run-id", run_id)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "reproduced exactly" in result.stdout
    assert "Model weights: identical" in result.stdout
    assert "test_fvu" in result.stdout and " NO " not in result.stdout
    assert f"{PROBE_PACKAGE} 1.0 (run) → not installed (now)" in result.stderr
    reproduced, *_ = runs(project)
    assert reproduced.data.tags[REPRODUCES_TAG] == run_id
    assert reproduced.info.status == "FINISHED"
    assert reproduced.data.tags["git_commit"] == original.data.tags["git_commit"]
    assert reproduced.data.params["training.epochs"] == "40"
    assert reproduced.data.params["training.learning_rate"] == "auto"
    assert reproduced.data.metrics == original.data.metrics
    # The repeat added versions; every earlier file is still there.
    after = {p.relative_to(project) for p in (project / "data").rglob("*")}
    assert set(before) < after


def test_a_deleted_data_version_is_named_and_nothing_runs(trained, tmp_path):
    project, original = copy_of(trained, tmp_path)
    version = original.data.tags["kedro_save_version"]
    shutil.rmtree(project / "data/02_intermediate/validated_data.parquet" / version)

    result = kedro(project, "reproduce", "--run-id", original.info.run_id)

    assert result.returncode == 1
    assert (
        f"data version deleted: dataset 'validated_data' version {version}"
        in result.stderr
    )
    assert [r.info.run_id for r in runs(project)] == [original.info.run_id]


def test_a_commit_gone_from_the_repository_is_named(trained, tmp_path):
    project, original = copy_of(trained, tmp_path)
    commit = original.data.tags["git_commit"]
    # Rewrite history so that the run's commit is unreachable, then drop it.
    git(project, "checkout", "-q", "--orphan", "rewritten")
    git(project, "commit", "-qm", "history rewritten")
    for branch in git(project, "branch", "--format=%(refname:short)").split():
        if branch != "rewritten":
            git(project, "branch", "-qD", branch)
    git(project, "reflog", "expire", "--expire=now", "--all")
    git(project, "gc", "-q", "--prune=now")

    result = kedro(project, "reproduce", "--run-id", original.info.run_id)

    assert result.returncode == 1
    assert f"commit {commit} of run {original.info.run_id} is not in" in result.stderr
    assert [r.info.run_id for r in runs(project)] == [original.info.run_id]
