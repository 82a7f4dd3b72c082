"""Normalised splits → trained sparse autoencoder, its curves and metrics, anomaly scorer."""

from typing import Any

from kedro.pipeline import Node, Pipeline

from sae_pipelines.pipelines.training.nodes import (
    fit_anomaly_scorer,
    train_sparse_autoencoder,
    training_metrics,
)


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Create the ``training`` pipeline."""
    return Pipeline(
        [
            Node(
                train_sparse_autoencoder,
                inputs=[
                    "model_input_train",
                    "model_input_validation",
                    "params:model",
                    "params:training",
                    "params:data",
                    "training_callbacks",
                ],
                outputs=[
                    "sae_model",
                    "train_loss",
                    "val_loss",
                    "dead_fraction_recent",
                ],
                name="train_sparse_autoencoder",
            ),
            Node(
                training_metrics,
                inputs=[
                    "train_loss",
                    "val_loss",
                    "dead_fraction_recent",
                    "params:model",
                    "params:training",
                ],
                outputs="training_metrics",
                name="training_metrics",
            ),
            Node(
                fit_anomaly_scorer,
                inputs=[
                    "sae_model",
                    "normalizer",
                    "model_input_train",
                    "model_input_validation",
                    "params:anomaly",
                    "params:data",
                ],
                outputs="anomaly_scorer",
                name="fit_anomaly_scorer",
            ),
        ]
    )
