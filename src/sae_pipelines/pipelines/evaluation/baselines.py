"""The plain baselines each SAE figure is compared with, fitted on the same split.

PCA gets as many components as the SAE has active codes per test row
(``⌈test_l0⌉``), so both reconstruct from the same number of numbers.
IsolationForest is the usual off-the-shelf anomaly detector.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest

from sae_pipelines.sae import metrics
from sae_pipelines.tables import feature_matrix

logger = logging.getLogger(__name__)


def pca_component_count(test_l0: float, rows: int, width: int) -> int:
    """``⌈test_l0⌉``, kept within what PCA can fit on ``rows × width``."""
    return max(1, min(math.ceil(test_l0), rows, width))


def fit_pca_baseline(
    model_input_train: pd.DataFrame,
    sparsity_metrics: dict[str, float],
    data_params: dict[str, Any],
) -> PCA:
    """Fit PCA with ``⌈test_l0⌉`` components on the normalised training split."""
    features = feature_matrix(model_input_train, data_params)
    components = pca_component_count(sparsity_metrics["test_l0"], *features.shape)
    logger.info("PCA baseline: %d components", components)
    return PCA(n_components=components, random_state=0).fit(features)


def pca_reconstruct(pca: PCA, features: np.ndarray) -> np.ndarray:
    """Project rows on the principal components and back."""
    return pca.inverse_transform(pca.transform(features))


def pca_reconstruction_metrics(
    pca_baseline: PCA, model_input_test: pd.DataFrame, data_params: dict[str, Any]
) -> dict[str, float]:
    """``pca_test_fvu``: the PCA baseline's FVU on the test split, beside ``test_fvu``."""
    features = feature_matrix(model_input_test, data_params)
    return {
        "pca_test_fvu": metrics.fraction_of_variance_unexplained(
            features, pca_reconstruct(pca_baseline, features)
        )
    }


def baseline_anomaly_scores(
    pca_baseline: PCA,
    model_input_train: pd.DataFrame,
    model_input_test: pd.DataFrame,
    data_params: dict[str, Any],
    evaluation_params: dict[str, Any],
) -> pd.DataFrame:
    """Score test rows with the baselines, trained on the same rows as the SAE.

    Returns:
        ``pca_anomaly_score`` (row MSE of the PCA reconstruction, like the SAE's
        score) and ``iforest_anomaly_score`` (IsolationForest's negated
        ``score_samples``: higher is more anomalous), one row per test row.
    """
    train = feature_matrix(model_input_train, data_params)
    test = feature_matrix(model_input_test, data_params)
    forest = IsolationForest(random_state=evaluation_params["seed"]).fit(train)
    return pd.DataFrame(
        {
            "pca_anomaly_score": metrics.row_squared_errors(
                test, pca_reconstruct(pca_baseline, test)
            ),
            "iforest_anomaly_score": -forest.score_samples(test),
        }
    )
