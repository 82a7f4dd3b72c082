"""Normalised splits → trained sparse autoencoder and loss curves, anomaly scorer."""

from kedro.pipeline import Node, Pipeline

from sae_pipelines.pipelines.training.nodes import (
    fit_anomaly_scorer,
    train_sparse_autoencoder,
)


def create_pipeline(**kwargs) -> Pipeline:
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
                ],
                outputs=["sae_model", "train_loss", "val_loss"],
                name="train_sparse_autoencoder",
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
