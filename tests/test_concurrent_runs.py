"""Two `kedro run`s at once in one project, on one new SQLite MLflow store."""

import mlflow
import pytest

from sae_pipelines.tracking.provenance import DATASETS_ARTIFACT
from sae_pipelines.tracking.registry import PRODUCTION_ALIAS
from tests.project_runs import kedro_cli, start_kedro

pytestmark = pytest.mark.slow

# Short training keeps the four runs quick; the runs still write every dataset.
SHORT = "training.epochs=15,evaluation.pretraining.epochs=10"
SEEDS = (1, 2)
MODEL = "sae_pipelines"


def run_kedro(project, *seeds: int) -> None:
    """Start a run per seed at once; each must succeed."""
    runs = [
        start_kedro(project, "run", "--params", f"seed={seed},{SHORT}")
        for seed in seeds
    ]
    for run in runs:
        log = run.communicate(timeout=600)[0]
        assert run.returncode == 0, log[-2000:]


def runs_by_seed() -> dict[int, list[mlflow.entities.Run]]:
    """Each seed's MLflow runs, oldest first."""
    runs = mlflow.search_runs(
        experiment_names=["sae_pipelines"],
        order_by=["start_time ASC"],
        output_format="list",
    )
    by_seed: dict[int, list[mlflow.entities.Run]] = {}
    for run in runs:
        by_seed.setdefault(int(run.data.params["training.seed"]), []).append(run)
    return by_seed


def assert_reads_only_its_own_versions(run: mlflow.entities.Run) -> None:
    """Every dataset the run saved and loaded, it loaded as it saved it."""
    datasets = mlflow.artifacts.load_dict(
        f"runs:/{run.info.run_id}/{DATASETS_ARTIFACT}"
    )
    own = run.data.tags["kedro_save_version"]
    assert {record["version"] for record in datasets["saved"].values()} == {own}
    read_back = datasets["saved"].keys() & datasets["loaded"].keys()
    assert {"validated_data", "normalizer", "model_input_test"} <= read_back
    assert {datasets["loaded"][name]["version"] for name in read_back} == {own}


def test_two_runs_at_once_match_each_seed_run_alone(project):
    run_kedro(project, *SEEDS)

    together = runs_by_seed()
    assert sorted(together) == list(SEEDS)
    for (run,) in together.values():
        assert_reads_only_its_own_versions(run)
    client = mlflow.MlflowClient()
    versions = client.search_model_versions(f"name = '{MODEL}'")
    assert {v.run_id for v in versions} == {r.info.run_id for (r,) in together.values()}
    holders = [
        v.version
        for v in versions
        if PRODUCTION_ALIAS in client.get_model_version(MODEL, v.version).aliases
    ]
    assert len(holders) == 1

    for seed in SEEDS:
        run_kedro(project, seed)
    for concurrent, alone in runs_by_seed().values():
        assert concurrent.data.metrics == alone.data.metrics
        # Each run registers a new version; `production` stays until it is moved.
        assert alone.data.tags["registered_model_version"] in {"3", "4"}
    [holder] = holders
    production = client.get_model_version_by_alias(MODEL, PRODUCTION_ALIAS)
    assert str(production.version) == str(holder)
    moved = kedro_cli(project, "promote", "--version", "4")
    assert moved.returncode == 0, moved.stderr[-3000:]
    production = client.get_model_version_by_alias(MODEL, PRODUCTION_ALIAS)
    assert str(production.version) == "4"
    missing = kedro_cli(project, "promote", "--version", "9")
    assert missing.returncode != 0
    assert "version 3, version 4 (production)" in missing.stderr
