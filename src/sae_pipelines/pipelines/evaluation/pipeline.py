"""Model, inputs and codes → metrics, anomaly scores and plots."""

from kedro.pipeline import Node, Pipeline

from sae_pipelines.pipelines.evaluation.nodes import (
    anomaly_metrics,
    collect_metrics,
    reconstruct,
    reconstruction_metrics,
    score_anomalies,
    sparsity_metrics,
)
from sae_pipelines.pipelines.evaluation.plots import (
    plot_anomaly_scores,
    plot_codes_2d,
    plot_mean_activation,
    plot_reconstructions,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Create the ``evaluation`` pipeline."""
    return Pipeline(
        [
            *(
                Node(
                    reconstruct,
                    inputs=[
                        "sae_model",
                        f"model_input_{split}",
                        "params:data",
                        "params:feature_extraction",
                    ],
                    outputs=f"reconstruction_{split}",
                    name=f"reconstruct_{split}",
                )
                for split in ("validation", "test")
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
                    "codes_validation",
                    "codes_test",
                    "params:feature_extraction",
                    "params:evaluation",
                ],
                outputs="sparsity_metrics",
                name="sparsity_metrics",
            ),
            Node(
                score_anomalies,
                inputs=[
                    "model_input_validation",
                    "reconstruction_validation",
                    "model_input_test",
                    "reconstruction_test",
                    "params:data",
                    "params:anomaly",
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
                collect_metrics,
                inputs=[
                    "reconstruction_metrics",
                    "sparsity_metrics",
                    "anomaly_metrics",
                ],
                outputs=["evaluation_metrics", "evaluation_metrics_mlflow"],
                name="collect_metrics",
            ),
            Node(
                plot_codes_2d,
                inputs=["codes_test", "params:data", "params:feature_extraction"],
                outputs="plot_codes_2d",
                name="plot_codes_2d",
            ),
            Node(
                plot_mean_activation,
                inputs=["codes_test", "params:feature_extraction"],
                outputs="plot_mean_activation",
                name="plot_mean_activation",
            ),
            Node(
                plot_reconstructions,
                inputs=[
                    "model_input_test",
                    "reconstruction_test",
                    "params:data",
                    "params:evaluation",
                ],
                outputs="plot_reconstructions",
                name="plot_reconstructions",
            ),
            Node(
                plot_anomaly_scores,
                inputs="anomaly_scores_test",
                outputs="plot_anomaly_scores",
                name="plot_anomaly_scores",
            ),
        ]
    )
