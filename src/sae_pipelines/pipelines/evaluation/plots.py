"""Plot nodes: the tables and parameters they need, drawn by :mod:`...reporting.plots`."""

from __future__ import annotations

import keras
import pandas as pd
from matplotlib.figure import Figure

from sae_pipelines.inference.tables import code_matrix, feature_matrix
from sae_pipelines.parameters.groups import (
    DataParams,
    EvaluationParams,
    FeatureExtractionParams,
)
from sae_pipelines.reporting import plots


def plot_codes_2d(
    codes_test: pd.DataFrame,
    data_params: DataParams,
    feature_extraction_params: FeatureExtractionParams,
) -> Figure:
    """Test codes in 2-D, coloured by label where there is one."""
    label = data_params.label_column
    return plots.codes_2d(
        code_matrix(codes_test, feature_extraction_params.column_prefix),
        codes_test[label] if label else None,
    )


def plot_mean_activation(
    codes_test: pd.DataFrame, feature_extraction_params: FeatureExtractionParams
) -> Figure:
    """Each code unit's mean activation on the test split."""
    return plots.mean_activation(
        code_matrix(codes_test, feature_extraction_params.column_prefix)
    )


def plot_reconstructions(
    model_input_test: pd.DataFrame,
    reconstruction_test: pd.DataFrame,
    data_params: DataParams,
    evaluation_params: EvaluationParams,
) -> Figure:
    """Original vs reconstructed test rows."""
    return plots.reconstructions(
        feature_matrix(model_input_test, data_params),
        feature_matrix(reconstruction_test, data_params),
        evaluation_params.reconstruction_samples,
    )


def plot_anomaly_scores(anomaly_scores: pd.DataFrame) -> Figure:
    """Test anomaly scores, by label when known, and the threshold."""
    return plots.anomaly_histogram(anomaly_scores)


def plot_decoder_tiles(
    sae_model: keras.Model,
    codes_test: pd.DataFrame,
    feature_extraction_params: FeatureExtractionParams,
    evaluation_params: EvaluationParams,
) -> Figure:
    """Each code unit's decoder direction."""
    return plots.decoder_tiles(
        sae_model,
        code_matrix(codes_test, feature_extraction_params.column_prefix),
        evaluation_params.active_threshold,
    )


def plot_top_activating(
    codes_test: pd.DataFrame,
    model_input_test: pd.DataFrame,
    data_params: DataParams,
    feature_extraction_params: FeatureExtractionParams,
    evaluation_params: EvaluationParams,
) -> Figure:
    """For the most often active units, the test rows that activate them most."""
    return plots.top_activating(
        code_matrix(codes_test, feature_extraction_params.column_prefix),
        feature_matrix(model_input_test, data_params),
        evaluation_params.active_threshold,
        evaluation_params.top_units,
        evaluation_params.top_samples,
    )


def plot_feature_density(
    codes_test: pd.DataFrame,
    feature_extraction_params: FeatureExtractionParams,
    evaluation_params: EvaluationParams,
) -> Figure:
    """How often each unit fires on the test split; dead units counted apart."""
    return plots.feature_density(
        code_matrix(codes_test, feature_extraction_params.column_prefix),
        evaluation_params.active_threshold,
    )
