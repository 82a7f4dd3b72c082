"""Plot nodes: the tables and parameters they need, drawn by :mod:`...reporting.plots`."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sae_pipelines.inference.scoring import sample_positions
from sae_pipelines.inference.tables import (
    RowTable,
    code_matrix,
    code_names,
    feature_matrix,
    row_table,
)
from sae_pipelines.parameters.groups import (
    DataParams,
    EvaluationParams,
    FeatureExtractionParams,
)
from sae_pipelines.reporting import plots


def plotted_rows(
    codes_test: pd.DataFrame | RowTable, evaluation_params: EvaluationParams
) -> np.ndarray:
    """Positions of the test rows the plots draw: at most ``sample_rows``, seeded."""
    return sample_positions(
        len(row_table(codes_test)),
        evaluation_params.sample_rows,
        evaluation_params.seed,
    )


def sampled_codes(
    codes_test: pd.DataFrame | RowTable,
    evaluation_params: EvaluationParams,
    prefix: str,
    extra: tuple[str, ...] = (),
) -> pd.DataFrame:
    """The code columns (and ``extra`` ones) of the plots' test rows."""
    table = row_table(codes_test)
    names = [*extra, *code_names(table.columns, prefix)]
    return table.take(plotted_rows(codes_test, evaluation_params), names)


def plot_codes_2d(
    codes_test: pd.DataFrame | RowTable,
    data_params: DataParams,
    feature_extraction_params: FeatureExtractionParams,
    evaluation_params: EvaluationParams,
) -> Figure:
    """Test codes in 2-D, coloured by label where there is one."""
    label = data_params.label_column
    prefix = feature_extraction_params.column_prefix
    codes = sampled_codes(
        codes_test, evaluation_params, prefix, (label,) if label else ()
    )
    return plots.codes_2d(code_matrix(codes, prefix), codes[label] if label else None)


def plot_mean_activation(
    codes_test: pd.DataFrame | RowTable,
    feature_extraction_params: FeatureExtractionParams,
    evaluation_params: EvaluationParams,
) -> Figure:
    """Each code unit's mean activation on the test split."""
    prefix = feature_extraction_params.column_prefix
    codes = sampled_codes(codes_test, evaluation_params, prefix)
    return plots.mean_activation(code_matrix(codes, prefix))


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
    codes_test: pd.DataFrame | RowTable,
    feature_extraction_params: FeatureExtractionParams,
    evaluation_params: EvaluationParams,
) -> Figure:
    """Each code unit's decoder direction."""
    prefix = feature_extraction_params.column_prefix
    codes = sampled_codes(codes_test, evaluation_params, prefix)
    return plots.decoder_tiles(
        sae_model, code_matrix(codes, prefix), evaluation_params.active_threshold
    )


def plot_top_activating(
    codes_test: pd.DataFrame | RowTable,
    model_input_test: pd.DataFrame,
    data_params: DataParams,
    feature_extraction_params: FeatureExtractionParams,
    evaluation_params: EvaluationParams,
) -> Figure:
    """For the most often active units, the test rows that activate them most."""
    prefix = feature_extraction_params.column_prefix
    rows = plotted_rows(codes_test, evaluation_params)
    codes = sampled_codes(codes_test, evaluation_params, prefix)
    return plots.top_activating(
        code_matrix(codes, prefix),
        feature_matrix(model_input_test.take(rows), data_params),
        evaluation_params.active_threshold,
        evaluation_params.top_units,
        evaluation_params.top_samples,
    )


def plot_feature_density(
    codes_test: pd.DataFrame | RowTable,
    feature_extraction_params: FeatureExtractionParams,
    evaluation_params: EvaluationParams,
) -> Figure:
    """How often each unit fires on the test split; dead units counted apart."""
    prefix = feature_extraction_params.column_prefix
    codes = sampled_codes(codes_test, evaluation_params, prefix)
    return plots.feature_density(
        code_matrix(codes, prefix), evaluation_params.active_threshold
    )
