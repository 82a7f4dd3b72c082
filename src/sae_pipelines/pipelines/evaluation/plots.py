"""Evaluation plots. Each node returns a matplotlib ``Figure`` for the catalog.

Figures are built with ``matplotlib.figure.Figure`` rather than ``pyplot`` so no
global figure state is kept between nodes or runs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from sae_pipelines.sae.metrics import mean_activation_per_unit
from sae_pipelines.tables import code_matrix, feature_matrix


def plot_codes_2d(
    codes_test: pd.DataFrame,
    data_params: dict[str, Any],
    feature_extraction_params: dict[str, Any],
) -> Figure:
    """Test codes in 2-D: the two units themselves, else a PCA projection."""
    codes = code_matrix(codes_test, feature_extraction_params["column_prefix"])
    if codes.shape[1] == 2:
        points, axes_names = codes, ("code unit 0", "code unit 1")
    else:
        points = PCA(n_components=2, random_state=0).fit_transform(codes)
        axes_names = ("codes PC 1", "codes PC 2")
    figure = Figure(figsize=(6, 5), layout="constrained")
    ax = figure.subplots()
    label = data_params.get("label_column")
    if label:
        scatter = ax.scatter(
            points[:, 0],
            points[:, 1],
            c=_label_codes(codes_test[label]),
            cmap="tab10",
            s=10,
        )
        figure.colorbar(scatter, ax=ax, label=label)
    else:
        ax.scatter(points[:, 0], points[:, 1], s=10)
    ax.set(xlabel=axes_names[0], ylabel=axes_names[1], title="Test codes in 2-D")
    return figure


def _label_codes(labels: pd.Series) -> np.ndarray:
    return pd.Categorical(labels).codes


def plot_mean_activation(
    codes_test: pd.DataFrame, feature_extraction_params: dict[str, Any]
) -> Figure:
    """Bar chart of each code unit's mean activation on the test split."""
    codes = code_matrix(codes_test, feature_extraction_params["column_prefix"])
    figure = Figure(figsize=(max(6, codes.shape[1] * 0.12), 4), layout="constrained")
    ax = figure.subplots()
    ax.bar(np.arange(codes.shape[1]), mean_activation_per_unit(codes))
    ax.set(
        xlabel="code unit", ylabel="mean activation", title="Mean activation per unit"
    )
    return figure


def plot_reconstructions(
    model_input_test: pd.DataFrame,
    reconstruction_test: pd.DataFrame,
    data_params: dict[str, Any],
    evaluation_params: dict[str, Any],
) -> Figure:
    """Original vs reconstructed test rows: images when rows are square images."""
    originals = feature_matrix(model_input_test, data_params)
    reconstructions = feature_matrix(reconstruction_test, data_params)
    count = min(evaluation_params["reconstruction_samples"], len(originals))
    side = math.isqrt(originals.shape[1])
    figure = Figure(figsize=(1.6 * count, 3.6), layout="constrained")
    axes = figure.subplots(2, count, squeeze=False)
    for column in range(count):
        for row, (values, name) in enumerate(
            ((originals, "original"), (reconstructions, "reconstructed"))
        ):
            ax = axes[row, column]
            if side * side == originals.shape[1]:
                ax.imshow(values[column].reshape(side, side), cmap="gray_r")
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                ax.plot(values[column])
            if column == 0:
                ax.set_ylabel(name)
    figure.suptitle("Test rows: original (top) vs reconstructed (bottom)")
    return figure


def plot_anomaly_scores(anomaly_scores: pd.DataFrame) -> Figure:
    """Histogram of test anomaly scores, split by label when known, with threshold."""
    figure = Figure(figsize=(7, 4), layout="constrained")
    ax = figure.subplots()
    scores = anomaly_scores["anomaly_score"]
    bins = np.histogram_bin_edges(scores, bins=40)
    if "is_anomaly" in anomaly_scores:
        for flag, name in ((False, "normal"), (True, "anomaly")):
            subset = scores[anomaly_scores["is_anomaly"] == flag]
            ax.hist(subset, bins=bins, alpha=0.6, label=f"{name} ({len(subset)})")
    else:
        ax.hist(scores, bins=bins, alpha=0.8, label=f"test rows ({len(scores)})")
    ax.axvline(anomaly_scores["threshold"].iloc[0], color="red", label="threshold")
    ax.set(xlabel="anomaly score (row MSE)", ylabel="rows", title="Anomaly scores")
    ax.legend()
    return figure
