"""Train the sparse autoencoder, and fit the anomaly score on its outputs."""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np
import pandas as pd

from sae_pipelines.inference import InferenceModel
from sae_pipelines.inference.scoring import AnomalyScorer, fit_scorer, sample_rows
from sae_pipelines.inference.tables import feature_matrix
from sae_pipelines.parameters.groups import AnomalyParams, DataParams
from sae_pipelines.parameters.validation import check_model_fits
from sae_pipelines.sae import ModelConfig, TrainingConfig, fit_sparse_autoencoder
from sae_pipelines.sae.training import resampling_epochs

logger = logging.getLogger(__name__)


def train_sparse_autoencoder(
    model_input_train: pd.DataFrame,
    model_input_validation: pd.DataFrame,
    model_params: ModelConfig,
    training_params: TrainingConfig,
    data_params: DataParams,
    training_callbacks: list[keras.callbacks.Callback],
) -> tuple[keras.Model, list[float], list[float], list[float]]:
    """Fit a sparse autoencoder and return it with its training curves.

    Args:
        model_input_train: Normalised training split.
        model_input_validation: Normalised validation split (early stopping).
        model_params: ``model`` parameters.
        training_params: ``training`` parameters.
        data_params: ``data`` parameters, to tell features from id and label.
        training_callbacks: More Keras callbacks, e.g. one that logs each
            epoch's losses to the MLflow run as training goes.

    Returns:
        The trained model; the per-epoch training and validation losses; and
        per epoch, the share of code units that did not fire on that epoch's
        training rows.

    Raises:
        InvalidParametersError: The sizes cannot train on these rows, or in
            the memory free (checked here for the frontier's points too).
    """
    x_train = feature_matrix(model_input_train, data_params)
    check_model_fits(model_params, training_params, *x_train.shape[::-1])
    model, history = fit_sparse_autoencoder(
        x_train,
        feature_matrix(model_input_validation, data_params),
        model_params,
        training_params,
        callbacks=training_callbacks,
    )
    logger.info(
        "Trained for %d epochs; best val_loss=%.5f",
        len(history["loss"]),
        min(history["val_loss"]),
    )
    return (
        model,
        history["loss"],
        history["val_loss"],
        history["dead_fraction_recent"],
    )


def training_metrics(
    train_loss: list[float],
    val_loss: list[float],
    dead_fraction_recent: list[float],
    model_params: ModelConfig,
    training_params: TrainingConfig,
) -> dict[str, float]:
    """How the fit ended, for the report and MLflow.

    ``epochs_trained``; ``kept_epoch``, the epoch whose weights training kept
    (the lowest validation loss from the last resampling on);
    ``val_train_loss_ratio``, its validation loss over its training loss
    (well above 1 when the model learns its training rows rather than the
    data); and ``dead_fraction_last_epoch``, the share of code units that
    fired on none of the last epoch's training rows.
    """
    resampled = resampling_epochs(model_params, training_params)
    start = min(max(resampled, default=0), len(val_loss) - 1)
    kept = start + int(np.argmin(val_loss[start:]))
    return {
        "epochs_trained": float(len(train_loss)),
        "kept_epoch": float(kept + 1),
        "val_train_loss_ratio": val_loss[kept] / train_loss[kept],
        "dead_fraction_last_epoch": dead_fraction_recent[-1],
    }


def fit_anomaly_scorer(
    sae_model: keras.Model,
    normalizer: Any,
    model_input_train: pd.DataFrame,
    model_input_validation: pd.DataFrame,
    anomaly_params: AnomalyParams,
    data_params: DataParams,
) -> AnomalyScorer:
    """Fit the ``anomaly.score`` method on the normalised splits.

    The reference rows of the distance are a sample of the training split; the
    standardisation of ``combined`` is fitted on the validation split (at most
    ``anomaly.standardisation_rows`` of its rows), whose rows are all normal.

    Args:
        sae_model: The trained sparse autoencoder.
        normalizer: The normaliser fitted on the training split.
        model_input_train: Normalised training split.
        model_input_validation: Normalised validation split.
        anomaly_params: ``anomaly`` parameters: ``score`` and its settings.
        data_params: ``data`` parameters, to tell features from id and label.

    Returns:
        The fitted scorer, which the inference model carries.
    """
    validation = sample_rows(
        feature_matrix(model_input_validation, data_params),
        anomaly_params.standardisation_rows,
        anomaly_params.seed,
    )
    _, errors = InferenceModel(sae_model, normalizer).encode_normalized(validation)
    assert errors is not None  # encode_normalized scores by default
    scorer = fit_scorer(
        anomaly_params.score,
        feature_matrix(model_input_train, data_params),
        validation,
        errors,
        anomaly_params.model_dump(),
    )
    if scorer.needs_distances:
        assert scorer.reference is not None  # fit_scorer keeps it for distances
        logger.info(
            "Anomaly score: %s; distance to neighbour k=%d among %d training rows "
            "(weight %.2f), reconstruction error (weight %.2f)",
            scorer.method,
            scorer.neighbours,
            len(scorer.reference),
            scorer.distance_weight,
            scorer.error_weight,
        )
    return scorer
