import pytest
from kedro.framework.project import configure_project
from matplotlib.figure import Figure

from sae_pipelines.pipeline_registry import register_pipelines
from tests.pipelines.conftest import run_in_memory

PLOTS = (
    "plot_codes_2d",
    "plot_mean_activation",
    "plot_reconstructions",
    "plot_anomaly_scores",
)


@pytest.mark.parametrize("normal_labels", [None, [0]])
def test_default_pipeline_end_to_end_in_memory(
    labelled_table, fast_params, normal_labels
):
    fast_params["anomaly"]["normal_labels"] = normal_labels
    configure_project("sae_pipelines")
    pipelines = register_pipelines()
    catalog = run_in_memory(
        pipelines["__default__"], {"raw_data": labelled_table}, fast_params
    )
    report, for_mlflow = (
        catalog.load("evaluation_metrics"),
        catalog.load("evaluation_metrics_mlflow"),
    )
    assert report["test_l0"] == 3.0
    assert report["test_fvu"] > 0.0
    assert 0.0 <= report["dead_fraction"] <= 1.0
    assert for_mlflow["test_mse"] == {"value": report["test_mse"], "step": 0}
    if normal_labels is None:
        assert report["test_fvu"] < 1.0
        assert "anomaly_roc_auc" not in report
    else:
        # Classes are shifted Gaussians: class 0 rows reconstruct best.
        assert report["anomaly_roc_auc"] > 0.7
        assert {
            "anomaly_pr_auc",
            "anomaly_f1",
            "anomaly_precision",
            "anomaly_recall",
        } <= set(report)
    for name in PLOTS:
        assert isinstance(catalog.load(name), Figure)
    scores = catalog.load("anomaly_scores_test")
    assert len(scores) == len(catalog.load("model_input_test"))
    assert scores["is_flagged"].dtype == bool
