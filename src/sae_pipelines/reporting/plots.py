"""Evaluation plots: arrays and settings in, a matplotlib ``Figure`` out.

Figures are built with ``matplotlib.figure.Figure`` rather than ``pyplot`` so no
global figure state is kept between nodes or runs.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from sae_pipelines.inference.model import SCORE_COLUMN
from sae_pipelines.sae import metrics
from sae_pipelines.sae.model import unit_directions


def codes_2d(codes: np.ndarray, labels: pd.Series | None) -> Figure:
    """Test codes in 2-D: the two units themselves, else a PCA projection.

    Coloured by ``labels`` (one per row, named) where there are any.
    """
    if codes.shape[1] == 2:
        points, axes_names = codes, ("code unit 0", "code unit 1")
    else:
        points = PCA(n_components=2, random_state=0).fit_transform(codes)
        axes_names = ("codes PC 1", "codes PC 2")
    figure = Figure(figsize=(6, 5), layout="constrained")
    ax = figure.subplots()
    if labels is not None:
        scatter = ax.scatter(
            points[:, 0],
            points[:, 1],
            c=_label_codes(labels),
            cmap="tab10",
            s=10,
        )
        figure.colorbar(scatter, ax=ax, label=labels.name)
    else:
        ax.scatter(points[:, 0], points[:, 1], s=10)
    ax.set(xlabel=axes_names[0], ylabel=axes_names[1], title="Test codes in 2-D")
    return figure


def _label_codes(labels: pd.Series) -> np.ndarray:
    return pd.Categorical(labels).codes


def mean_activation(codes: np.ndarray) -> Figure:
    """Bar chart of each code unit's mean activation on the test split."""
    figure = Figure(figsize=(max(6, codes.shape[1] * 0.12), 4), layout="constrained")
    ax = figure.subplots()
    ax.bar(np.arange(codes.shape[1]), metrics.mean_activation_per_unit(codes))
    ax.set(
        xlabel="code unit", ylabel="mean activation", title="Mean activation per unit"
    )
    return figure


def reconstructions(
    originals: np.ndarray, reconstructed: np.ndarray, samples: int
) -> Figure:
    """The first ``samples`` test rows and their reconstructions: images when square."""
    count = min(samples, len(originals))
    side = _image_side(originals.shape[1])
    figure = Figure(figsize=(1.6 * count, 3.6), layout="constrained")
    axes = figure.subplots(2, count, squeeze=False)
    for column in range(count):
        for row, (values, name) in enumerate(
            ((originals, "original"), (reconstructed, "reconstructed"))
        ):
            ax = axes[row, column]
            if side:
                ax.imshow(values[column].reshape(side, side), cmap="gray_r")
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                ax.plot(values[column])
            if column == 0:
                ax.set_ylabel(name)
    figure.suptitle("Test rows: original (top) vs reconstructed (bottom)")
    return figure


def anomaly_histogram(anomaly_scores: pd.DataFrame) -> Figure:
    """Histogram of test anomaly scores, split by label when known, with threshold."""
    figure = Figure(figsize=(7, 4), layout="constrained")
    ax = figure.subplots()
    scores = anomaly_scores[SCORE_COLUMN]
    bins = np.histogram_bin_edges(scores, bins=40)
    if "is_anomaly" in anomaly_scores:
        for flag, name in ((False, "normal"), (True, "anomaly")):
            subset = scores[anomaly_scores["is_anomaly"] == flag]
            ax.hist(
                subset, bins=bins.tolist(), alpha=0.6, label=f"{name} ({len(subset)})"
            )
    else:
        ax.hist(
            scores, bins=bins.tolist(), alpha=0.8, label=f"test rows ({len(scores)})"
        )
    ax.axvline(anomaly_scores["threshold"].iloc[0], color="red", label="threshold")
    ax.set(xlabel="anomaly score", ylabel="rows", title="Anomaly scores")
    ax.legend()
    return figure


def decoder_tiles(
    sae_model: keras.Model, codes: np.ndarray, active_threshold: float
) -> Figure:
    """Each code unit's decoder direction: image tiles, else a units × features map.

    A unit's direction is what it adds to a reconstruction when it fires alone
    at its mean active value on the test split (see :func:`unit_directions`).
    """
    scales = metrics.mean_active_value(codes, active_threshold)
    directions = unit_directions(sae_model, np.where(scales > 0, scales, 1.0))
    side = _image_side(directions.shape[1])
    figure = Figure(figsize=(8, 8), layout="constrained")
    ax = figure.subplots()
    limit = float(np.abs(directions).max()) or 1.0
    if side:
        columns = math.ceil(math.sqrt(len(directions)))
        image = ax.imshow(
            _mosaic(directions.reshape(-1, side, side), columns),
            cmap="RdBu_r",
            vmin=-limit,
            vmax=limit,
        )
        ax.set_axis_off()
        title = f"Decoder directions of the {len(directions)} code units"
    else:
        image = ax.imshow(
            directions, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit
        )
        ax.set(xlabel="input feature", ylabel="code unit")
        title = "Decoder directions (rows: code units)"
    figure.colorbar(image, ax=ax, shrink=0.8, label="change in reconstruction")
    ax.set_title(title)
    return figure


def top_activating(
    codes: np.ndarray,
    rows: np.ndarray,
    active_threshold: float,
    top_units: int,
    top_samples: int,
) -> Figure:
    """For the ``top_units`` most often active units, the rows that activate them most."""
    frequency = metrics.firing_frequency(codes, active_threshold)
    units = np.argsort(-frequency, kind="stable")[:top_units]
    count = min(top_samples, len(rows))
    side = _image_side(rows.shape[1])
    figure = Figure(
        figsize=(1.2 * count + 1.5 if side else 8, 1.2 * len(units) + 0.8),
        layout="constrained",
    )
    # One axes per unit, its rows side by side in one image: an axes per row
    # would be many small axes, slow to draw.
    axes = figure.subplots(len(units), 1, squeeze=False)[:, 0]
    for ax, unit in zip(axes, units, strict=True):
        top = np.argsort(-codes[:, unit], kind="stable")[:count]
        if side:
            ax.imshow(_mosaic(rows[top].reshape(-1, side, side), count), cmap="gray_r")
            ax.set_xticks([])
        else:
            ax.imshow(rows[top], aspect="auto", cmap="viridis")
        ax.set_yticks([])
        ax.set_ylabel(f"unit {unit}\n{frequency[unit]:.0%}", fontsize=8)
    figure.suptitle("Top-activating test rows of the most used units (share active)")
    return figure


def feature_density(codes: np.ndarray, active_threshold: float) -> Figure:
    """Histogram of log10 firing frequency per unit; dead units counted apart."""
    frequency = metrics.firing_frequency(codes, active_threshold)
    alive = frequency[frequency > 0]
    dead = int((frequency == 0).sum())
    figure = Figure(figsize=(7, 4), layout="constrained")
    ax = figure.subplots()
    if alive.size:
        ax.hist(np.log10(alive), bins=30, label=f"active units ({alive.size})")
    ax.axvline(
        math.log10(1 / len(codes)), color="grey", linestyle=":", label="once in test"
    )
    ax.set(
        xlabel="log10(share of test rows on which the unit fires)",
        ylabel="code units",
        title=f"Feature density: {alive.size} active units, {dead} dead",
    )
    ax.legend()
    return figure


def _image_side(width: int) -> int | None:
    """The side of the square image a row of ``width`` pixels is, if it is one."""
    side = math.isqrt(width)
    return side if side > 1 and side * side == width else None


def _mosaic(tiles: np.ndarray, columns: int) -> np.ndarray:
    """Lay ``(n, h, w)`` tiles out on a grid with one blank pixel between them."""
    count, height, width = tiles.shape
    rows = math.ceil(count / columns)
    sheet = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1), np.nan)
    for index, tile in enumerate(tiles):
        top, left = divmod(index, columns)
        sheet[
            top * (height + 1) : top * (height + 1) + height,
            left * (width + 1) : left * (width + 1) + width,
        ] = tile
    return sheet
