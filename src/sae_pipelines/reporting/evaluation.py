"""The one page a person reads first: SAE vs baselines, every metric, every plot."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import keras
from matplotlib.figure import Figure

from sae_pipelines.reporting.render import RenderedPlot, png, render_template
from sae_pipelines.sae.dictionary import UnitNormDecoder
from sae_pipelines.sae.methods import method_of_layer
from sae_pipelines.sae.model import (
    CODES_LAYER,
    RECONSTRUCTION_LAYER,
    centring_of,
    code_size_of,
)

SAE = "sparse autoencoder"


@dataclass(frozen=True)
class Comparison:
    """One use of the codes: the SAE's metric and the baselines' metrics."""

    use: str
    measure: str
    higher_is_better: bool
    sae_metric: str
    baseline_metrics: dict[str, str] = field(default_factory=dict)


COMPARISONS = (
    Comparison(
        "Feature learning",
        "linear probe accuracy",
        True,
        "probe_accuracy",
        {"raw inputs": "probe_accuracy_raw", "PCA": "probe_accuracy_pca"},
    ),
    Comparison(
        "Clustering",
        "k-means NMI",
        True,
        "cluster_nmi",
        {"raw inputs": "cluster_nmi_raw"},
    ),
    Comparison(
        "Dimensionality reduction",
        "test FVU",
        False,
        "test_fvu",
        {"PCA": "pca_test_fvu"},
    ),
    Comparison(
        "Anomaly detection",
        "ROC-AUC",
        True,
        "anomaly_roc_auc",
        {
            "kNN": "knn_anomaly_roc_auc",
            "PCA": "pca_anomaly_roc_auc",
            "IsolationForest": "iforest_anomaly_roc_auc",
        },
    ),
    Comparison(
        "Denoising",
        "MSE to the clean rows",
        False,
        "denoise_mse",
        {"noisy input": "noisy_mse"},
    ),
    Comparison(
        "Pretraining",
        "accuracy with few labels",
        True,
        "pretrained_accuracy",
        {"from scratch": "scratch_accuracy"},
    ),
)

PLOT_CAPTIONS = {
    "reconstructions": "test rows and their reconstructions",
    "codes_2d": "test codes projected to 2-D, coloured by label",
    "mean_activation": "mean activation of each code unit",
    "feature_density": "how often each unit fires; dead units are counted apart",
    "decoder_tiles": "what each code unit adds to a reconstruction",
    "top_activating": "test rows that activate the most used units most",
    "anomaly_scores": "test anomaly scores and the threshold",
}


def comparison_rows(
    metrics: dict[str, float],
) -> tuple[list[dict[str, Any]], list[str]]:
    """The comparisons this run measured, each with its winner.

    Returns:
        One row per comparison with the SAE's figure and at least one
        baseline's, and the names of the comparisons left out.
    """
    rows, skipped = [], []
    for comparison in COMPARISONS:
        baselines = {
            name: metrics[key]
            for name, key in comparison.baseline_metrics.items()
            if key in metrics
        }
        if comparison.sae_metric not in metrics or not baselines:
            skipped.append(comparison.use.lower())
            continue
        sae = metrics[comparison.sae_metric]
        rows.append(
            {
                "use": comparison.use,
                "measure": comparison.measure,
                "higher_is_better": comparison.higher_is_better,
                "sae": sae,
                "baselines": baselines,
                "winner": _winner({SAE: sae, **baselines}, comparison.higher_is_better),
            }
        )
    return rows, skipped


def _winner(values: dict[str, float], higher_is_better: bool) -> str:
    best = max(values.values()) if higher_is_better else min(values.values())
    winners = [name for name, value in values.items() if value == best]
    return winners[0] if len(winners) == 1 else "tie: " + ", ".join(winners)


def baseline_notes(metrics: dict[str, float]) -> list[str]:
    """What the reader must know about how a baseline was fitted."""
    reference, training = (
        metrics.get("knn_reference_rows"),
        metrics.get("knn_training_rows"),
    )
    notes = []
    if (
        reference is not None
        and training is not None
        and "knn_anomaly_roc_auc" in metrics
    ):
        sample = f"a random sample of {reference:,.0f} of the {training:,.0f}"
        rows = sample if reference < training else f"all {training:,.0f}"
        nth = _ordinal(int(metrics["knn_neighbours"]))
        notes.append(f"kNN: the distance to the {nth} nearest of {rows} training rows.")
    if "anomaly_test_rows" in metrics and "anomaly_roc_auc" in metrics:
        notes.append(
            f"Anomaly scores judged on {metrics['anomaly_test_rows']:,.0f} test rows."
        )
    splits = ("train", "validation", "test")
    used = [metrics.get(f"label_metrics_{split}_rows") for split in splits]
    if None not in used:
        counts = ", ".join(
            f"{n:,.0f} {split}" for n, split in zip(used, splits, strict=True)
        )
        notes.append(f"Probe, clustering and pretraining: {counts} rows.")
    return notes


def unit_health(metrics: dict[str, float]) -> list[str]:
    """How the code units fared: dead, dense, and how far the fit learnt its rows."""
    lines = []
    if "dead_fraction_train" in metrics:
        lines.append(
            f"{metrics['dead_fraction_train']:.1%} never fire on the training rows"
        )
    if "dead_fraction_last_epoch" in metrics:
        lines.append(
            f"{metrics['dead_fraction_last_epoch']:.1%} fired on no row of the last "
            "training epoch"
        )
    if "dense_units" in metrics:
        lines.append(
            f"{metrics['dense_units']:.0f} fire on more than half of the training rows"
        )
    if "val_train_loss_ratio" in metrics:
        lines.append(
            "validation loss "
            f"{metrics['val_train_loss_ratio']:.2f}× the training loss at the kept "
            "epoch (far above 1: the model learnt its training rows)"
        )
    return lines


def _ordinal(number: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{'th' if 10 <= number % 100 <= 20 else suffix}"


def render_report(
    evaluation_metrics: dict[str, float],
    sae_model: keras.Model,
    seed: int,
    plot_dpi: int,
    **figures: Figure,
) -> tuple[str, dict[str, RenderedPlot]]:
    """Render the HTML report and hand on the plots to be saved as files.

    Args:
        evaluation_metrics: Every metric of the run.
        sae_model: The trained model, described in the report's header.
        seed: The run's training seed, named beside the comparisons.
        plot_dpi: Resolution of the plots, in the report and in their files.
        **figures: The plots, by name (see ``PLOT_CAPTIONS``).

    Returns:
        A self-contained HTML page (plots embedded as PNG), and the same PNGs as
        ``{"<name>.png": plot}``.
    """
    plots = {
        name: RenderedPlot(png(figure, plot_dpi)) for name, figure in figures.items()
    }
    comparisons, skipped = comparison_rows(evaluation_metrics)
    html = render_template(
        "report.html.j2",
        model=describe(sae_model),
        seed=seed,
        comparisons=comparisons,
        skipped=skipped,
        notes=baseline_notes(evaluation_metrics),
        health=unit_health(evaluation_metrics),
        metrics=dict(sorted(evaluation_metrics.items())),
        plots=[
            {
                "name": name,
                "caption": PLOT_CAPTIONS.get(name, ""),
                "png": base64.b64encode(plot.png).decode("ascii"),
            }
            for name, plot in plots.items()
        ],
    )
    return html, {f"{name}.png": plot for name, plot in plots.items()}


def describe(autoencoder: keras.Model) -> str:
    """One line on the model, e.g. ``64 → 256 codes, TopK k=24, centred, unit-norm decoder``."""
    codes = autoencoder.get_layer(CODES_LAYER)
    sparsity = method_of_layer(codes).describe(codes)
    recipe = [
        part
        for part, present in (
            ("centred", centring_of(autoencoder) is not None),
            (
                "unit-norm decoder",
                isinstance(
                    autoencoder.get_layer(RECONSTRUCTION_LAYER), UnitNormDecoder
                ),
            ),
        )
        if present
    ]
    hidden = [
        str(layer.units)
        for layer in autoencoder.layers
        if layer.name.startswith("encoder_")
    ]
    path = " → ".join([str(autoencoder.input_shape[-1]), *hidden])
    return ", ".join([f"{path} → {code_size_of(autoencoder)} codes", sparsity, *recipe])
