"""Encode the splits into sparse codes: the features this project produces."""

from __future__ import annotations

from typing import Any

import keras
import pandas as pd

from sae_pipelines.inference import InferenceModel
from sae_pipelines.inference.scoring import AnomalyScorer
from sae_pipelines.inference.tables import carried_columns, feature_matrix, id_column
from sae_pipelines.parameters.groups import DataParams, FeatureExtractionParams


def encode_splits(
    sae_model: keras.Model,
    normalizer: Any,
    anomaly_scorer: AnomalyScorer,
    model_input_train: pd.DataFrame,
    model_input_validation: pd.DataFrame,
    model_input_test: pd.DataFrame,
    data_params: DataParams,
    feature_extraction_params: FeatureExtractionParams,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Encode each normalised split with the inference model.

    Args:
        sae_model: The trained sparse autoencoder.
        normalizer: The normaliser fitted on the training split.
        anomaly_scorer: How rows are scored (see :func:`fit_anomaly_scorer`).
        model_input_train: The normalised training split (id, features, label).
        model_input_validation: The normalised validation split.
        model_input_test: The normalised test split.
        data_params: ``data`` parameters, to tell features from id and label.
        feature_extraction_params: ``column_prefix`` of the code columns.

    Returns:
        Per split: the id (and label) columns, one column per code unit,
        ``anomaly_score`` and ``l0``, as batch extraction writes them.
    """
    model = InferenceModel(
        sae_model,
        normalizer,
        scorer=anomaly_scorer,
        id_column=id_column(data_params),
        code_prefix=feature_extraction_params.column_prefix,
    )
    return (
        _encode(model, model_input_train, data_params),
        _encode(model, model_input_validation, data_params),
        _encode(model, model_input_test, data_params),
    )


def _encode(
    model: InferenceModel, model_input: pd.DataFrame, data_params: DataParams
) -> pd.DataFrame:
    codes, scores = model.encode_normalized(feature_matrix(model_input, data_params))
    return pd.concat(
        [
            carried_columns(model_input, data_params),
            model.output_columns(codes, scores).to_pandas(),
        ],
        axis=1,
    )
