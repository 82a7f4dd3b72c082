"""`kedro run --pipelines repeats` with two seeds, tracked in MLflow."""

import json

import mlflow
import pytest

from tests.project_runs import kedro_cli, parent_and_nested_runs

pytestmark = pytest.mark.slow

SEEDS = """
repeats:
  seeds: [3, 4]
"""
SHORT = "training.epochs=10,evaluation.pretraining.epochs=2"


def test_each_seed_is_a_nested_run_and_the_parent_holds_the_spread(project):
    (project / "conf/local/parameters_repeats.yml").write_text(SEEDS)

    result = kedro_cli(project, "run", "--pipelines", "repeats", "--params", SHORT)

    assert result.returncode == 0, result.stdout + result.stderr
    client = mlflow.MlflowClient()
    parent, children = parent_and_nested_runs()
    assert parent.info.run_name.startswith("repeats")
    assert parent.info.status == "FINISHED"
    assert sorted(children) == ["seed_3", "seed_4"]
    for seed, child in ((3, children["seed_3"]), (4, children["seed_4"])):
        assert child.info.status == "FINISHED"
        assert child.data.params == {
            f"{group}.seed": str(seed)
            for group in ("anomaly", "evaluation", "split", "training")
        }
        assert len(client.get_metric_history(child.info.run_id, "train_loss")) == 10
    probes = [child.data.metrics["probe_accuracy"] for child in children.values()]
    raw = [child.data.metrics["probe_accuracy_raw"] for child in children.values()]
    assert probes[0] != probes[1] and raw[0] != raw[1]  # other splits, other models

    metrics = parent.data.metrics
    assert metrics["probe_accuracy_mean"] == pytest.approx(sum(probes) / 2)
    assert (metrics["probe_accuracy_min"], metrics["probe_accuracy_max"]) == (
        pytest.approx(min(probes)),
        pytest.approx(max(probes)),
    )
    assert metrics["probe_accuracy_ci95_low"] < min(probes)
    assert metrics["probe_accuracy_ci95_high"] > max(probes)
    won = sum(p > r for p, r in zip(probes, raw, strict=True))
    assert metrics["probe_accuracy_ahead_of_raw_inputs"] == won

    summary = json.loads(
        mlflow.artifacts.load_text(
            f"runs:/{parent.info.run_id}/reports/repeats_summary.json"
        )
    )
    assert summary["seeds"] == [3, 4]
    measures = {row["measure"] for row in summary["comparisons"]}
    assert {"linear probe accuracy", "k-means NMI", "test FVU"} <= measures
    page = mlflow.artifacts.load_text(
        f"runs:/{parent.info.run_id}/reports/repeats_report.html"
    )
    low, high = sorted(probes)
    assert f"{sum(probes) / 2:.4f} ({low:.4f}–{high:.4f})" in page
    assert f"{won} of 2" in page
    table = mlflow.artifacts.load_text(
        f"runs:/{parent.info.run_id}/reports/repeats_table.md"
    )
    assert table.startswith("Seeds 3, 4: mean (min–max)")
    assert not client.search_model_versions()  # repeats release no model
