import numpy as np
import pandas as pd
import pytest

from sae_pipelines.pipelines.evaluation.nodes import (
    anomaly_metrics,
    score_anomalies,
    sparsity_metrics,
)
from tests.pipelines.conftest import typed


def test_dead_and_dense_units_and_l0_from_codes_tables(params):
    codes = pd.DataFrame(
        {
            "row_id": [0, 1],
            "code_000": [0.0, 0.0],
            "code_001": [1.0, 0.0],
            "code_002": [0.5, 2.0],
        }
    )
    train = pd.DataFrame(
        {
            "row_id": [0, 1, 2],
            "code_000": [0.0, 0.0, 0.0],
            "code_001": [0.0, 0.0, 3.0],
            "code_002": [0.5, 2.0, 0.0],
        }
    )
    groups = typed(params)
    result = sparsity_metrics(
        train, codes, codes, groups["feature_extraction"], groups["evaluation"]
    )
    assert result["test_l0"] == 1.5
    assert result["dead_fraction"] == pytest.approx(1 / 3)
    assert result["dead_fraction_train"] == pytest.approx(1 / 3)
    assert result["dense_units"] == 1.0  # code_002: 2 of 3 training rows


def test_threshold_is_a_quantile_of_validation_scores_and_flags_above_it(params):
    params["data"]["label_column"] = None
    validation = pd.DataFrame(
        {"row_id": range(100), "anomaly_score": np.linspace(0, 1, 100) ** 2}
    )
    test = pd.DataFrame(
        {"row_id": [0, 1], "code_000": 0.0, "anomaly_score": [0.01, 4.0]}
    )
    scores = score_anomalies(
        validation,
        test,
        pd.DataFrame({"pca_anomaly_score": [0.3, 0.4]}),
        typed(params)["data"],
        typed(params)["anomaly"],
        typed(params)["evaluation"],
    )
    expected = np.quantile(
        np.linspace(0, 1, 100) ** 2, params["anomaly"]["threshold_quantile"]
    )
    assert scores["threshold"].iloc[0] == pytest.approx(expected)
    assert scores["is_flagged"].tolist() == [False, True]
    assert scores["pca_anomaly_score"].tolist() == [0.3, 0.4]
    assert "anomaly_roc_auc" not in anomaly_metrics(scores)


def test_anomaly_metrics_with_labels_are_perfect_for_separated_scores():
    scores = pd.DataFrame(
        {
            "anomaly_score": [0.1, 0.2, 0.9, 1.0],
            "pca_anomaly_score": [0.1, 0.9, 0.2, 1.0],
            "threshold": 0.5,
            "is_flagged": [False, False, True, True],
            "is_anomaly": [False, False, True, True],
        }
    )
    result = anomaly_metrics(scores)
    assert (
        result["anomaly_roc_auc"] == 1.0
        and result["anomaly_pr_auc"] == 1.0
        and result["anomaly_f1"] == 1.0
    )
    assert result["pca_anomaly_roc_auc"] == 0.75
