"""Judge the trained model: reconstruction, sparsity and anomaly detection."""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from sae_pipelines.inference import InferenceModel
from sae_pipelines.inference.model import FLAG_COLUMN, SCORE_COLUMN
from sae_pipelines.inference.scoring import AnomalyScorer
from sae_pipelines.inference.tables import (
    RowTable,
    code_matrix,
    code_names,
    feature_columns,
    feature_matrix,
    id_column,
    read_columns,
    row_table,
)
from sae_pipelines.parameters.groups import (
    AnomalyParams,
    DataParams,
    EvaluationParams,
    FeatureExtractionParams,
)
from sae_pipelines.pipelines.evaluation.baselines import scored_test_rows
from sae_pipelines.reporting.metrics import mlflow_metrics
from sae_pipelines.sae import TrainingConfig, input_corruption, metrics
from sae_pipelines.tracking.registry_datasets import ModelRelease

logger = logging.getLogger(__name__)

# The baselines' scores are <model>_anomaly_score beside the SAE's anomaly_score.
SCORE_SUFFIX = SCORE_COLUMN
EXAMPLE_ROWS = 5


def reconstruct(
    sae_model: keras.Model,
    model_input: pd.DataFrame,
    data_params: DataParams,
    feature_extraction_params: FeatureExtractionParams,
) -> pd.DataFrame:
    """Pass a normalised table through the autoencoder.

    Returns:
        A table of the same layout whose features are the reconstructions.
    """
    reconstructed = sae_model.predict(
        feature_matrix(model_input, data_params),
        batch_size=feature_extraction_params.batch_size,
        verbose=0,
    )
    table = model_input.copy(deep=False)  # copy on write: model_input stays
    table[feature_columns(model_input, data_params)] = reconstructed
    return table


def reconstruction_metrics(
    model_input_test: pd.DataFrame,
    reconstruction_test: pd.DataFrame,
    data_params: DataParams,
) -> dict[str, float]:
    """``test_mse`` and ``test_fvu`` (see :mod:`sae_pipelines.sae.metrics`)."""
    inputs = feature_matrix(model_input_test, data_params)
    outputs = feature_matrix(reconstruction_test, data_params)
    return {
        "test_mse": metrics.reconstruction_mse(inputs, outputs),
        "test_fvu": metrics.fraction_of_variance_unexplained(inputs, outputs),
    }


def sparsity_metrics(
    codes_train: pd.DataFrame | RowTable,
    codes_validation: pd.DataFrame | RowTable,
    codes_test: pd.DataFrame | RowTable,
    feature_extraction_params: FeatureExtractionParams,
    evaluation_params: EvaluationParams,
) -> dict[str, float]:
    """``test_l0``, ``test_mean_activation``, dead and dense units.

    A unit is active on a row when ``|z| > evaluation.active_threshold``.
    ``dead_fraction``: the share of units active on no validation or test
    row; ``dead_fraction_train``: on no training row; ``dense_units``: how
    many units are active on more than half of the training rows (a unit that
    fires on most rows spends the sparsity budget on what rows share). Every
    row counts; the codes are read a part at a time.
    """
    prefix = feature_extraction_params.column_prefix
    threshold = evaluation_params.active_threshold
    train, validation, test = (
        _code_counts(row_table(codes), prefix, threshold)
        for codes in (codes_train, codes_validation, codes_test)
    )
    return {
        "test_l0": test.mean_l0(),
        "test_mean_activation": test.mean_activation(),
        "dead_fraction": (validation + test).dead_fraction(),
        "dead_fraction_train": train.dead_fraction(),
        "dense_units": float(train.dense_units().sum()),
    }


def _code_counts(codes: RowTable, prefix: str, threshold: float) -> metrics.CodeCounts:
    names = code_names(codes.columns, prefix)
    counts = metrics.CodeCounts(len(names), threshold)
    for part in codes.chunks(names):
        counts.add(code_matrix(part, prefix))
    return counts


def score_anomalies(
    codes_validation: pd.DataFrame | RowTable,
    codes_test: pd.DataFrame | RowTable,
    baseline_anomaly_scores: pd.DataFrame,
    data_params: DataParams,
    anomaly_params: AnomalyParams,
    evaluation_params: EvaluationParams,
) -> pd.DataFrame:
    """Flag the test rows whose anomaly score is above the threshold.

    The rows are those the baselines scored: all test rows up to
    ``evaluation.anomaly_rows``, a seeded sample of them beyond.

    The scores are the inference model's, from feature extraction. The
    threshold is the ``anomaly.threshold_quantile`` quantile of the validation
    scores (normal rows only when ``anomaly.normal_labels`` is set).

    Returns:
        The id (and label) of each test row with ``anomaly_score``,
        ``threshold``, ``is_flagged``, the baselines' scores and, with anomaly
        labels, ``is_anomaly``.
    """
    validation_scores = read_columns(codes_validation, [SCORE_COLUMN])
    threshold = float(
        np.quantile(
            validation_scores[SCORE_COLUMN].to_numpy(np.float64),
            anomaly_params.threshold_quantile,
        )
    )
    carried = [id_column(data_params)] + (
        [data_params.label_column] if data_params.label_column else []
    )
    scored = scored_test_rows(len(row_table(codes_test)), evaluation_params)
    scores = row_table(codes_test).take(scored, [*carried, SCORE_COLUMN])
    scores["threshold"] = threshold
    scores[FLAG_COLUMN] = scores[SCORE_COLUMN] > threshold
    scores[list(baseline_anomaly_scores.columns)] = baseline_anomaly_scores.to_numpy()
    normal_labels = anomaly_params.normal_labels
    if normal_labels is not None:
        label = data_params.label_column
        scores["is_anomaly"] = ~scores[label].isin(normal_labels)
    return scores


def release_inference_model(
    sae_model: keras.Model,
    normalizer: Any,
    anomaly_scorer: AnomalyScorer,
    anomaly_metrics: dict[str, float],
    validated_data: pd.DataFrame,
    data_params: DataParams,
    feature_extraction_params: FeatureExtractionParams,
) -> ModelRelease:
    """The inference model to register: normaliser, autoencoder, scorer, threshold.

    It also records which features hold integers in the validated table: the
    rows it scores must hold whole numbers there.

    Its input example is the first rows of the validated table: the features,
    and the id column when ``data.id_column`` names one.
    """
    features = list(normalizer.feature_names_in_)
    model = InferenceModel(
        sae_model,
        normalizer,
        threshold=anomaly_metrics["anomaly_threshold"],
        scorer=anomaly_scorer,
        id_column=id_column(data_params),
        code_prefix=feature_extraction_params.column_prefix,
        integer_features=tuple(
            str(name)
            for name in features
            if pd.api.types.is_integer_dtype(validated_data[name])
        ),
    )
    shown = model.feature_columns
    if data_params.id_column:
        shown = [model.id_column, *shown]
    return ModelRelease(model, validated_data[shown].head(EXAMPLE_ROWS))


def anomaly_metrics(anomaly_scores: pd.DataFrame) -> dict[str, float]:
    """Detection quality against the anomaly labels, when there are any.

    Every score column ``<model>anomaly_score`` of the table (the SAE's, and
    the baselines' ``pca_`` and ``iforest_``) is judged the same way.

    Returns:
        Always ``anomaly_threshold`` and ``anomaly_flagged_fraction``. With
        anomaly labels of both kinds in the test split: ``<model>anomaly_roc_auc``
        and ``<model>anomaly_pr_auc`` (average precision) of each score, and the
        SAE's ``anomaly_precision``, ``anomaly_recall``, ``anomaly_f1`` at its
        threshold.
    """
    result = {
        "anomaly_threshold": float(anomaly_scores["threshold"].iloc[0]),
        "anomaly_flagged_fraction": float(anomaly_scores["is_flagged"].mean()),
    }
    if "is_anomaly" not in anomaly_scores:
        logger.info("No anomaly labels (anomaly.normal_labels is null): no AUCs")
        return result
    truth = anomaly_scores["is_anomaly"].to_numpy()
    if truth.all() or not truth.any():
        logger.warning("The test split holds only one class: no anomaly AUCs")
        return result
    for column in anomaly_scores.columns:
        if column.endswith(SCORE_SUFFIX):
            name = column.removesuffix("score")
            score = anomaly_scores[column].to_numpy()
            result[f"{name}roc_auc"] = float(roc_auc_score(truth, score))
            result[f"{name}pr_auc"] = float(average_precision_score(truth, score))
    precision, recall, f1, _ = precision_recall_fscore_support(
        truth,
        anomaly_scores["is_flagged"].to_numpy(),
        average="binary",
        zero_division=0,
    )
    return {
        **result,
        "anomaly_precision": float(precision),
        "anomaly_recall": float(recall),
        "anomaly_f1": float(f1),
    }


def denoising_metrics(
    sae_model: keras.Model,
    model_input_test: pd.DataFrame,
    data_params: DataParams,
    feature_extraction_params: FeatureExtractionParams,
    training_params: TrainingConfig,
    evaluation_params: EvaluationParams,
) -> dict[str, float]:
    """How well the model removes the corruption it was trained against.

    The test split is corrupted as in training (``training.corruption``), with
    the evaluation seed.

    Returns:
        ``denoise_mse`` (clean rows vs reconstructions of the corrupted rows) and
        ``noisy_mse`` (clean vs corrupted rows); nothing without corruption.
    """
    corruption = input_corruption(
        training_params.corruption, seed=evaluation_params.seed
    )
    if corruption is None:
        logger.info("training.corruption.method is none: no denoising metrics")
        return {}
    clean = feature_matrix(model_input_test, data_params)
    corrupted = np.asarray(corruption(clean, training=True))
    denoised = sae_model.predict(
        corrupted, batch_size=feature_extraction_params.batch_size, verbose=0
    )
    return {
        "denoise_mse": metrics.reconstruction_mse(clean, denoised),
        "noisy_mse": metrics.reconstruction_mse(clean, corrupted),
    }


def collect_metrics(
    *metric_groups: dict[str, float],
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Merge metric dicts into one report and its MLflow form.

    Returns:
        The flat ``{name: value}`` report, and ``{name: {"value", "step"}}`` for
        kedro-mlflow's metrics dataset.
    """
    merged = {name: value for group in metric_groups for name, value in group.items()}
    for name, value in sorted(merged.items()):
        logger.info("%s = %.5f", name, value)
    return merged, mlflow_metrics(merged)
