import math
import subprocess
from pathlib import Path

import mlflow
import pytest
import yaml

from sae_pipelines.tracking.provenance import (
    DATASETS_ARTIFACT,
    PARAMETERS_ARTIFACT,
    REQUIREMENTS_ARTIFACT,
)
from sae_pipelines.tracking.recorded_run import (
    CannotReproduceError,
    blocking_problems,
    fetch_missing_inputs,
    load_recorded_run,
    warnings_for,
)
from sae_pipelines.tracking.reproduce import (
    MetricComparison,
    absolute_tracking_uri,
    compare_metrics,
    export_source,
    run_command,
    same_weights,
)
from sae_pipelines.tracking.snapshots import (
    SHA256_TAG,
    Snapshot,
    dataset_input,
    store_snapshot,
)
from tests.conftest import topk_autoencoder

GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
VERSION = "2026-01-02T03.04.05.678Z"
SNAPSHOT = (
    f"data/02_intermediate/validated_data.parquet/{VERSION}/validated_data.parquet"
)
PARAMETERS = {"training": {"epochs": 400, "seed": 42}, "model": {"code_size": "auto"}}


@pytest.fixture
def repository(tmp_path):
    """A git repository holding a small project tree; returns (path, commit)."""
    root = tmp_path / "project"
    for name, text in {
        "conf/base/parameters_training.yml": "training:\n  epochs: 1\n",
        "conf/base/catalog.yml": "raw_data: {}\n",
        "conf/local/.gitkeep": "",
        "data/01_raw/table.csv": "x\n1\n",
        "src/pkg/__init__.py": "",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    subprocess.run([*GIT, "init", "-q"], cwd=root, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "first"], cwd=root, check=True)
    commit = subprocess.check_output(
        ["git", "rev-parse", "HEAD"], cwd=root, text=True
    ).strip()
    snapshot = root / SNAPSHOT
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(b"parquet")
    return root, commit


@pytest.fixture
def client(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    return mlflow.MlflowClient(tracking_uri=uri)


def record_run(client, commit, **overrides):
    """A tracked run as ProvenanceHooks logs it; ``overrides`` drop or change parts."""
    tags = {
        "git_commit": commit,
        "git_dirty": "false",
        "kedro_env": "local",
        "kedro_pipelines": '["__default__"]',
    }
    tags.update(overrides.get("tags", {}))
    version = {"version": VERSION, "path": SNAPSHOT}
    datasets = overrides.get(
        "datasets", {"loaded": {"validated_data": version}, "saved": {}}
    )
    with mlflow.start_run() as run:
        mlflow.set_tags({k: v for k, v in tags.items() if v is not None})
        mlflow.log_metric("test_fvu", 0.25)
        if datasets is not None:
            mlflow.log_dict(datasets, DATASETS_ARTIFACT)
        if snapshot := overrides.get("snapshot"):
            mlflow.log_input(
                dataset_input(b"parquet", "validated_data", snapshot),
                tags={SHA256_TAG: snapshot.sha256},
            )
        mlflow.log_text(yaml.safe_dump(PARAMETERS), PARAMETERS_ARTIFACT)
        mlflow.log_text(
            overrides.get("requirements", "kedro==1.7.0\n"), REQUIREMENTS_ARTIFACT
        )
    return load_recorded_run(client, run.info.run_id)


def test_a_recorded_run_with_its_commit_and_data_can_be_repeated(repository, client):
    root, commit = repository
    recorded = record_run(client, commit)
    assert yaml.safe_load(recorded.parameters) == PARAMETERS
    assert recorded.input_versions() == {
        "validated_data": {"version": VERSION, "path": SNAPSHOT}
    }
    assert blocking_problems(recorded, root) == []
    command = run_command(recorded)
    assert command[-8:] == [
        "--pipelines",
        "__default__",
        "--env",
        "local",
        "--from-inputs",
        "validated_data",
        "--load-versions",
        f"validated_data:{VERSION}",
    ]


def test_an_unknown_run_id_is_named(client):
    with pytest.raises(CannotReproduceError, match="no MLflow run with id 'abc123'"):
        load_recorded_run(client, "abc123")


def test_a_deleted_data_version_is_named(repository, client):
    root, commit = repository
    (root / SNAPSHOT).unlink()
    problems = blocking_problems(record_run(client, commit), root)
    assert problems == [
        f"data version deleted: dataset 'validated_data' version {VERSION} "
        f"({SNAPSHOT}) no longer exists"
    ]


def test_a_deleted_data_version_is_fetched_from_its_snapshot(
    repository, client, tmp_path
):
    root, commit = repository
    snapshot = store_snapshot(root / SNAPSHOT, str(tmp_path / "store"))
    recorded = record_run(client, commit, snapshot=snapshot)
    assert recorded.snapshot("validated_data") == snapshot
    (root / SNAPSHOT).unlink()
    assert blocking_problems(recorded, root) == []
    fetch_missing_inputs(recorded, root)
    assert (root / SNAPSHOT).read_bytes() == b"parquet"


def test_a_snapshot_missing_from_the_store_is_named(repository, client, tmp_path):
    root, commit = repository
    snapshot = store_snapshot(root / SNAPSHOT, str(tmp_path / "store"))
    recorded = record_run(client, commit, snapshot=snapshot)
    (root / SNAPSHOT).unlink()
    Path(snapshot.uri).unlink()
    assert blocking_problems(recorded, root) == [
        f"snapshot missing from the store: dataset 'validated_data' version "
        f"{VERSION} ({SNAPSHOT}) is not here, and its snapshot {snapshot.uri} "
        f"(SHA-256 {snapshot.sha256}) is not in the artifact store"
    ]


def test_a_data_version_present_here_is_not_fetched(repository, client, tmp_path):
    root, commit = repository
    # A store that does not exist: any download would fail.
    gone = Snapshot(f"{tmp_path}/gone/validated_data.parquet", "0" * 64)
    recorded = record_run(client, commit, snapshot=gone)
    assert blocking_problems(recorded, root) == []
    fetch_missing_inputs(recorded, root)
    assert (root / SNAPSHOT).read_bytes() == b"parquet"


def test_a_commit_missing_from_the_repository_is_named(repository, client):
    root, _ = repository
    recorded = record_run(client, "0" * 40)
    [problem] = blocking_problems(recorded, root)
    assert problem.startswith(f"commit {'0' * 40} of run {recorded.run_id} is not in")


def test_a_run_outside_git_or_without_provenance_says_so(repository, client):
    root, commit = repository
    recorded = record_run(client, "unknown")
    assert blocking_problems(recorded, root) == [
        f"run {recorded.run_id} was not made from a git checkout, so its code is "
        "unknown"
    ]
    bare = record_run(client, commit, tags={"kedro_env": None}, datasets=None)
    [problem] = blocking_problems(bare, root)
    assert f"run {bare.run_id} has no provenance record" in problem
    assert "kedro_env" in problem and DATASETS_ARTIFACT in problem
    no_snapshot = record_run(client, commit, datasets={"loaded": {}, "saved": {}})
    [problem] = blocking_problems(no_snapshot, root)
    assert "neither saved nor loaded 'validated_data'" in problem


def test_different_packages_and_a_dirty_tree_are_warnings(repository, client):
    root, commit = repository
    recorded = record_run(
        client,
        commit,
        tags={"git_dirty": "true"},
        requirements="kedro==1.7.0\nGone_Pkg==1.0\ntensorflow==2.20.0\n",
    )
    assert blocking_problems(recorded, root) == []
    dirty, packages = warnings_for(
        recorded, "kedro==1.7.0\ntensorflow==2.21.0\nnew-pkg==2.0\n"
    )
    assert "made with uncommitted changes" in dirty
    assert packages.splitlines()[1:] == [
        "  gone-pkg 1.0 (run) → not installed (now)",
        "  new-pkg not installed (run) → 2.0 (now)",
        "  tensorflow 2.20.0 (run) → 2.21.0 (now)",
    ]
    clean = record_run(client, commit)
    assert warnings_for(clean, "kedro==1.7.0\n") == []


def test_the_exported_commit_holds_the_run_parameters_and_shares_data(
    repository, client, tmp_path
):
    root, commit = repository
    recorded = record_run(client, commit)
    # After the run: a parameter change is committed, secrets sit in conf/local.
    (root / "conf/base/parameters_training.yml").write_text("training:\n  epochs: 9\n")
    subprocess.run([*GIT, "commit", "-qam", "change"], cwd=root, check=True)
    (root / "conf/local/credentials.yml").write_text("db: secret\n")
    (root / "conf/local/parameters.yml").write_text("training:\n  epochs: 3\n")

    source = export_source(recorded, root, tmp_path / "source")

    parameter_files = sorted(p.name for p in (source / "conf").rglob("parameters*"))
    assert parameter_files == ["parameters.yml"]
    assert yaml.safe_load((source / "conf/base/parameters.yml").read_text()) == (
        PARAMETERS
    )
    assert (source / "conf/local/credentials.yml").read_text() == "db: secret\n"
    assert (source / "data").resolve() == (root / "data").resolve()
    assert (source / SNAPSHOT).read_bytes() == b"parquet"
    assert (source / "src/pkg/__init__.py").exists()


def test_metrics_match_only_when_exactly_equal():
    comparisons = compare_metrics(
        {"a": 0.1, "b": math.nan, "c": 1.0, "d": 2.0},
        {"a": 0.1, "b": math.nan, "c": 1.0 + 1e-15, "e": 3.0},
    )
    assert [(c.name, c.matches) for c in comparisons] == [
        ("a", True),
        ("b", True),
        ("c", False),
        ("d", False),
        ("e", False),
    ]
    assert MetricComparison("d", 2.0, None).matches is False


def test_model_files_compare_by_their_weights(tmp_path):
    model = topk_autoencoder(width=6, code_size=8, k=2)
    model.save(tmp_path / "first.keras")
    model.save(tmp_path / "second.keras")  # the same weights, another archive
    assert same_weights(tmp_path / "first.keras", tmp_path / "second.keras")
    kernel = model.trainable_weights[0]
    kernel.assign(kernel + 1e-7)
    model.save(tmp_path / "changed.keras")
    assert not same_weights(tmp_path / "first.keras", tmp_path / "changed.keras")


def test_relative_sqlite_stores_become_absolute(tmp_path):
    assert absolute_tracking_uri("sqlite:///mlflow.db", tmp_path) == (
        f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}"
    )
    absolute = f"sqlite:///{tmp_path / 'x.db'}"
    assert absolute_tracking_uri(absolute, tmp_path) == absolute
    server = "http://127.0.0.1:5000"
    assert absolute_tracking_uri(server, tmp_path) == server
