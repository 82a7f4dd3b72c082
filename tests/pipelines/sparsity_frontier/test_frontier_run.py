"""`kedro run --pipelines sparsity_frontier` on a two-point grid, tracked in MLflow."""

import json

import mlflow
import pytest

from tests.project_runs import kedro_cli, parent_and_nested_runs

pytestmark = pytest.mark.slow

# Two points, few epochs (conf/local changes the keys it names; null drops a
# method's grid); --params shortens training and the pretraining probe too.
GRID = """
sparsity_frontier:
  grids:
    topk:
      k: [4]
    l1:
      weight: [0.001]
    batchtopk: null
    jumprelu: null
  training:
    epochs: 10
"""
POINTS = {"topk_k_4": ("topk", "k", "4"), "l1_weight_0_001": ("l1", "weight", "0.001")}


def test_each_point_is_a_nested_run_under_the_frontier_run(project):
    (project / "conf/local/parameters_sparsity_frontier.yml").write_text(GRID)

    result = kedro_cli(
        project,
        "run",
        "--pipelines",
        "sparsity_frontier",
        "--params",
        "training.epochs=30,evaluation.pretraining.epochs=2",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    client = mlflow.MlflowClient()
    parent, nested = parent_and_nested_runs()
    assert parent.info.run_name.startswith("sparsity_frontier")
    assert parent.info.status == "FINISHED"
    assert {name: run.info.status for name, run in nested.items()} == {
        name: "FINISHED" for name in POINTS
    }
    children = list(nested.values())
    for child in children:
        method, setting, value = POINTS[child.info.run_name]
        assert child.data.params == {
            "model.sparsity.method": method,
            f"model.sparsity.{method}.{setting}": value,
            "training.epochs": "10",
        }
        metrics = child.data.metrics
        assert 0 < metrics["test_fvu"] < 1
        assert 0 < metrics["pca_test_fvu"] < 1
        assert metrics["probe_accuracy"] > 0.5  # chance is 0.1
        assert 0 < metrics["test_l0"] < 256  # of the 256 codes, not all active
        assert len(client.get_metric_history(child.info.run_id, "train_loss")) == 10
    topk = next(c for c in children if c.info.run_name == "topk_k_4")
    assert topk.data.metrics["test_l0"] == pytest.approx(4)

    artifacts = {
        f.path
        for folder in ("plots", "reports")
        for f in client.list_artifacts(parent.info.run_id, folder)
    }
    assert {
        "plots/sparsity_frontier.png",
        "reports/sparsity_frontier_report.html",
        "reports/sparsity_frontier_metrics.json",
    } <= artifacts
    assert not client.search_model_versions()  # a frontier run releases no model

    (report,) = (project / "data/08_reporting/sparsity_frontier_report.html").glob(
        "*/sparsity_frontier_report.html"
    )
    html = report.read_text()
    assert "data:image/png;base64," in html
    assert all(name in html for name in POINTS)
    (metrics_file,) = (
        project / "data/08_reporting/sparsity_frontier_metrics.json"
    ).glob("*/sparsity_frontier_metrics.json")
    rows = json.loads(metrics_file.read_text())["points"]
    assert {row["point"] for row in rows} == set(POINTS)
    assert {row["point"]: row["test_fvu"] for row in rows} == {
        child.info.run_name: pytest.approx(child.data.metrics["test_fvu"])
        for child in children
    }
