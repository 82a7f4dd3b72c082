"""Model, inputs and codes → metrics beside baselines, anomaly scores, plots, report."""

from collections.abc import Callable
from typing import Any

from kedro.pipeline import Node, Pipeline

from sae_pipelines.inference.tables import SPLITS
from sae_pipelines.pipelines.evaluation.baselines import (
    baseline_anomaly_scores,
    fit_pca_baseline,
    pca_reconstruction_metrics,
)
from sae_pipelines.pipelines.evaluation.feature_quality import label_metrics
from sae_pipelines.pipelines.evaluation.nodes import (
    anomaly_metrics,
    collect_metrics,
    denoising_metrics,
    reconstruct,
    reconstruction_metrics,
    release_inference_model,
    score_anomalies,
    sparsity_metrics,
)
from sae_pipelines.pipelines.evaluation.plots import (
    plot_anomaly_scores,
    plot_codes_2d,
    plot_decoder_tiles,
    plot_feature_density,
    plot_mean_activation,
    plot_reconstructions,
    plot_top_activating,
)
from sae_pipelines.reporting.evaluation import render_report

PLOTS: dict[str, tuple[Callable[..., Any], list[str]]] = {
    "reconstructions": (
        plot_reconstructions,
        [
            "model_input_test",
            "reconstruction_test",
            "params:data",
            "params:evaluation",
        ],
    ),
    "codes_2d": (
        plot_codes_2d,
        [
            "codes_test",
            "params:data",
            "params:feature_extraction",
            "params:evaluation",
        ],
    ),
    "mean_activation": (
        plot_mean_activation,
        ["codes_test", "params:feature_extraction", "params:evaluation"],
    ),
    "feature_density": (
        plot_feature_density,
        ["codes_test", "params:feature_extraction", "params:evaluation"],
    ),
    "decoder_tiles": (
        plot_decoder_tiles,
        [
            "sae_model",
            "codes_test",
            "params:feature_extraction",
            "params:evaluation",
        ],
    ),
    "top_activating": (
        plot_top_activating,
        [
            "codes_test",
            "model_input_test",
            "params:data",
            "params:feature_extraction",
            "params:evaluation",
        ],
    ),
    "anomaly_scores": (plot_anomaly_scores, ["anomaly_scores_test"]),
}


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Create the ``evaluation`` pipeline."""
    return Pipeline(
        [
            Node(
                reconstruct,
                inputs=[
                    "sae_model",
                    "model_input_test",
                    "params:data",
                    "params:feature_extraction",
                ],
                outputs="reconstruction_test",
                name="reconstruct_test",
            ),
            Node(
                reconstruction_metrics,
                inputs=["model_input_test", "reconstruction_test", "params:data"],
                outputs="reconstruction_metrics",
                name="reconstruction_metrics",
            ),
            Node(
                sparsity_metrics,
                inputs=[
                    "codes_train",
                    "codes_validation",
                    "codes_test",
                    "params:feature_extraction",
                    "params:evaluation",
                ],
                outputs="sparsity_metrics",
                name="sparsity_metrics",
            ),
            Node(
                fit_pca_baseline,
                inputs=["model_input_train", "sparsity_metrics", "params:data"],
                outputs="pca_baseline",
                name="fit_pca_baseline",
            ),
            Node(
                pca_reconstruction_metrics,
                inputs=["pca_baseline", "model_input_test", "params:data"],
                outputs="pca_reconstruction_metrics",
                name="pca_reconstruction_metrics",
            ),
            Node(
                baseline_anomaly_scores,
                inputs=[
                    "pca_baseline",
                    "model_input_train",
                    "model_input_test",
                    "params:data",
                    "params:evaluation",
                ],
                outputs=["baseline_anomaly_scores", "knn_baseline_sizes"],
                name="baseline_anomaly_scores",
            ),
            Node(
                score_anomalies,
                inputs=[
                    "codes_validation",
                    "codes_test",
                    "baseline_anomaly_scores",
                    "params:data",
                    "params:anomaly",
                    "params:evaluation",
                ],
                outputs="anomaly_scores_test",
                name="score_anomalies",
            ),
            Node(
                anomaly_metrics,
                inputs="anomaly_scores_test",
                outputs="anomaly_metrics",
                name="anomaly_metrics",
            ),
            Node(
                release_inference_model,
                inputs=[
                    "sae_model",
                    "normalizer",
                    "anomaly_scorer",
                    "anomaly_metrics",
                    "validated_data",
                    "params:data",
                    "params:feature_extraction",
                ],
                outputs="inference_model",
                name="release_inference_model",
            ),
            Node(
                denoising_metrics,
                inputs=[
                    "sae_model",
                    "model_input_test",
                    "params:data",
                    "params:feature_extraction",
                    "params:training",
                    "params:evaluation",
                ],
                outputs="denoising_metrics",
                name="denoising_metrics",
            ),
            Node(
                label_metrics,
                inputs=[
                    "sae_model",
                    *(f"codes_{split}" for split in SPLITS),
                    *(f"model_input_{split}" for split in SPLITS),
                    "pca_baseline",
                    "params:data",
                    "params:feature_extraction",
                    "params:evaluation",
                ],
                outputs="label_metrics",
                name="label_metrics",
            ),
            Node(
                collect_metrics,
                inputs=[
                    "training_metrics",
                    "reconstruction_metrics",
                    "pca_reconstruction_metrics",
                    "sparsity_metrics",
                    "anomaly_metrics",
                    "knn_baseline_sizes",
                    "denoising_metrics",
                    "label_metrics",
                ],
                outputs=["evaluation_metrics", "evaluation_metrics_mlflow"],
                name="collect_metrics",
            ),
            *(
                Node(
                    function,
                    inputs=inputs,
                    outputs=f"figure_{name}",
                    name=f"plot_{name}",
                )
                for name, (function, inputs) in PLOTS.items()
            ),
            Node(
                render_report,
                inputs={
                    "evaluation_metrics": "evaluation_metrics",
                    "sae_model": "sae_model",
                    "seed": "params:training.seed",
                    "plot_dpi": "params:evaluation.plot_dpi",
                    **{name: f"figure_{name}" for name in PLOTS},
                },
                outputs=["evaluation_report", "evaluation_plots"],
                name="render_report",
            ),
        ]
    )
