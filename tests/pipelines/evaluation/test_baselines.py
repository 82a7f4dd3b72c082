import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from sae_pipelines.pipelines.evaluation.baselines import (
    baseline_anomaly_scores,
    fit_pca_baseline,
    pca_component_count,
    pca_reconstruction_metrics,
    scored_test_rows,
)
from tests.pipelines.conftest import typed


@pytest.mark.parametrize(
    ("test_l0", "rows", "width", "expected"),
    [(7.2, 100, 64, 8), (8.0, 100, 64, 8), (70.0, 100, 64, 64), (0.0, 100, 64, 1)],
)
def test_pca_gets_as_many_components_as_active_codes(test_l0, rows, width, expected):
    assert pca_component_count(test_l0, rows, width) == expected


@pytest.fixture
def planar_rows():
    """Rows on a 2-D plane in 6-D, and test rows of which the last 5 leave it."""
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(2, 6))
    train = rng.normal(size=(200, 2)) @ basis
    test = rng.normal(size=(50, 2)) @ basis
    test[-5:] += rng.normal(scale=3.0, size=(5, 6))
    columns = [f"f{i}" for i in range(6)]

    def as_table(x):
        return pd.DataFrame(x, columns=columns).rename_axis("row_id").reset_index()

    return as_table(train), as_table(test)


def test_pca_baseline_explains_a_plane_and_scores_points_off_it(params, planar_rows):
    params["data"]["label_column"] = None
    train, test = planar_rows
    pca = fit_pca_baseline(train, {"test_l0": 2.0}, typed(params)["data"])
    clean_test = test.iloc[:-5]
    assert pca_reconstruction_metrics(pca, clean_test, typed(params)["data"])[
        "pca_test_fvu"
    ] == pytest.approx(0.0, abs=1e-6)

    scores, sizes = baseline_anomaly_scores(
        pca, train, test, typed(params)["data"], typed(params)["evaluation"]
    )
    truth = np.arange(50) >= 45
    assert list(scores.columns) == [
        "pca_anomaly_score",
        "iforest_anomaly_score",
        "knn_anomaly_score",
    ]
    assert roc_auc_score(truth, scores["pca_anomaly_score"]) == 1.0
    assert roc_auc_score(truth, scores["iforest_anomaly_score"]) > 0.9
    assert roc_auc_score(truth, scores["knn_anomaly_score"]) > 0.9
    assert sizes == {
        "knn_neighbours": 5,
        "knn_reference_rows": 200,
        "knn_training_rows": 200,
        "anomaly_test_rows": 50,
    }


def test_knn_baseline_searches_a_sample_of_large_training_splits(params, planar_rows):
    params["data"]["label_column"] = None
    params["evaluation"]["knn"] = {"neighbours": 3, "max_rows": 50}
    train, test = planar_rows
    pca = fit_pca_baseline(train, {"test_l0": 2.0}, typed(params)["data"])
    scores, sizes = baseline_anomaly_scores(
        pca, train, test, typed(params)["data"], typed(params)["evaluation"]
    )
    assert sizes == {
        "knn_neighbours": 3,
        "knn_reference_rows": 50,
        "knn_training_rows": 200,
        "anomaly_test_rows": 50,
    }
    truth = np.arange(50) >= 45
    assert roc_auc_score(truth, scores["knn_anomaly_score"]) > 0.9


def test_large_test_splits_are_scored_on_a_seeded_sample(params, planar_rows):
    params["data"]["label_column"] = None
    params["evaluation"]["anomaly_rows"] = 20
    train, test = planar_rows
    pca = fit_pca_baseline(train, {"test_l0": 2.0}, typed(params)["data"])
    evaluation = typed(params)["evaluation"]
    scores, sizes = baseline_anomaly_scores(
        pca, train, test, typed(params)["data"], evaluation
    )
    rows = scored_test_rows(len(test), evaluation)
    assert len(scores) == sizes["anomaly_test_rows"] == len(rows) == 20
    assert np.array_equal(rows, scored_test_rows(len(test), evaluation))
    # The sample's scores are those of the same rows scored on their own.
    alone, _ = baseline_anomaly_scores(
        pca, train, test.iloc[rows], typed(params)["data"], evaluation
    )
    pd.testing.assert_frame_equal(scores, alone)
