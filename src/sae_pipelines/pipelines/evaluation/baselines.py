"""The plain baselines each SAE figure is compared with, fitted on the same split.

PCA gets as many components as the SAE has active codes per test row
(``⌈test_l0⌉``), so both reconstruct from the same number of numbers.
IsolationForest is the usual off-the-shelf anomaly detector, and the distance
to the k-th nearest training row (kNN) the strongest simple one on tabular data.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import NearestNeighbors

from sae_pipelines.inference.scoring import sample_positions, sample_rows
from sae_pipelines.inference.tables import feature_matrix
from sae_pipelines.parameters.groups import DataParams, EvaluationParams
from sae_pipelines.sae import metrics

logger = logging.getLogger(__name__)


def pca_component_count(test_l0: float, rows: int, width: int) -> int:
    """``⌈test_l0⌉``, kept within what PCA can fit on ``rows × width``."""
    return max(1, min(math.ceil(test_l0), rows, width))


def fit_pca_baseline(
    model_input_train: pd.DataFrame,
    sparsity_metrics: dict[str, float],
    data_params: DataParams,
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
    pca_baseline: PCA, model_input_test: pd.DataFrame, data_params: DataParams
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
    data_params: DataParams,
    evaluation_params: EvaluationParams,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Score test rows with the baselines, trained on the same rows as the SAE.

    Returns:
        The scores, one row per test row: ``pca_anomaly_score`` (row MSE of the
        PCA reconstruction), ``iforest_anomaly_score`` (IsolationForest's
        negated ``score_samples``: higher is more anomalous) and
        ``knn_anomaly_score`` (distance to the ``evaluation.knn.neighbours``-th
        nearest training row). And ``knn_neighbours``, ``knn_reference_rows``
        and ``knn_training_rows``: kNN searches at most ``evaluation.knn.max_rows``
        training rows, a random sample of them when there are more; and
        ``anomaly_test_rows``, the test rows scored (:func:`scored_test_rows`).
    """
    train = feature_matrix(model_input_train, data_params)
    scored = scored_test_rows(len(model_input_test), evaluation_params)
    test = feature_matrix(model_input_test.take(scored), data_params)
    seed = evaluation_params.seed
    forest = IsolationForest(random_state=seed).fit(train)
    knn = evaluation_params.knn
    reference = sample_rows(train, knn.max_rows, seed)
    if len(reference) < len(train):
        logger.info(
            "kNN baseline: a sample of %d of the %d training rows",
            len(reference),
            len(train),
        )
    neighbours = NearestNeighbors(n_neighbors=min(knn.neighbours, len(reference)))
    distances, _ = neighbours.fit(reference).kneighbors(test)
    scores = pd.DataFrame(
        {
            "pca_anomaly_score": metrics.row_squared_errors(
                test, pca_reconstruct(pca_baseline, test)
            ),
            "iforest_anomaly_score": -forest.score_samples(test),
            "knn_anomaly_score": distances[:, -1],
        }
    )
    sizes = {
        "knn_neighbours": neighbours.n_neighbors,
        "knn_reference_rows": len(reference),
        "knn_training_rows": len(train),
        "anomaly_test_rows": len(scored),
    }
    return scores, sizes


def scored_test_rows(test_rows: int, evaluation_params: EvaluationParams) -> np.ndarray:
    """Positions of the test rows whose anomaly scores are judged.

    All of them up to ``evaluation.anomaly_rows``, a seeded sample beyond:
    the baselines' scoring grows with the rows times the model's size.
    """
    return sample_positions(
        test_rows, evaluation_params.anomaly_rows, evaluation_params.seed
    )
