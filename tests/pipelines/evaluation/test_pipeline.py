import numpy as np
import pytest
from kedro.framework.project import configure_project

from sae_pipelines.inference.tables import read_columns
from sae_pipelines.pipeline_registry import register_pipelines
from sae_pipelines.pipelines.evaluation.pipeline import PLOTS
from tests.expected_metrics import ANOMALY_METRICS, LABEL_METRICS
from tests.pipelines.conftest import run_in_memory


@pytest.mark.parametrize("normal_labels", [None, [0]])
def test_default_pipeline_end_to_end_in_memory(
    labelled_table, fast_params, normal_labels
):
    fast_params["anomaly"]["normal_labels"] = normal_labels
    configure_project("sae_pipelines")
    pipelines = register_pipelines()
    catalog = run_in_memory(
        pipelines["__default__"],
        {"raw_data": labelled_table, "training_callbacks": []},
        fast_params,
    )
    report, for_mlflow = (
        catalog.load("evaluation_metrics"),
        catalog.load("evaluation_metrics_mlflow"),
    )
    # At most k: a row whose k-th largest pre-activation is negative keeps fewer.
    assert 2.5 < report["test_l0"] <= 3.0
    assert report["test_fvu"] > 0.0
    assert 0.0 <= report["dead_fraction"] <= 1.0
    assert for_mlflow["test_mse"] == {"value": report["test_mse"], "step": 0}
    assert 0.0 <= report["pca_test_fvu"]
    assert "denoise_mse" not in report  # trained without corruption
    if normal_labels is None:
        assert report["test_fvu"] < 1.0
        assert "anomaly_roc_auc" not in report
        assert LABEL_METRICS <= set(report)
        assert report["probe_accuracy_raw"] > 0.8  # three well separated classes
    else:
        # Classes are shifted Gaussians: class 0 rows reconstruct best.
        assert report["anomaly_roc_auc"] > 0.7
        assert ANOMALY_METRICS <= set(report)
        # One class in training: no probe can be fitted, so none is reported.
        assert not LABEL_METRICS & set(report)
    plots = catalog.load("evaluation_plots")
    assert set(plots) == {f"{name}.png" for name in PLOTS}
    assert all(plot.png.startswith(b"\x89PNG") for plot in plots.values())
    html = catalog.load("evaluation_report")
    assert html.count("data:image/png;base64,") == len(PLOTS)
    assert "Dimensionality reduction" in html
    scores = catalog.load("anomaly_scores_test")
    assert len(scores) == len(catalog.load("model_input_test"))
    assert scores["is_flagged"].dtype == bool

    # The released inference model scores the raw test rows as feature
    # extraction and evaluation did.
    release = catalog.load("inference_model")
    assert release.model.threshold == report["anomaly_threshold"]
    assert list(release.input_example.columns) == release.model.feature_columns
    raw_test = catalog.load("test_split")
    out = release.model.predict(raw_test[release.model.feature_columns])
    names = release.model.code_columns
    codes = read_columns(catalog.load("codes_test"), names)
    np.testing.assert_allclose(out[names], codes[names], rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        out["anomaly_score"], scores["anomaly_score"], rtol=0, atol=1e-5
    )
    assert (out["is_flagged"] == scores["is_flagged"]).all()
