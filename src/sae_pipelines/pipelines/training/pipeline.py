"""Normalised splits → trained sparse autoencoder (file, MLflow model, loss curves)."""

from kedro.pipeline import Node, Pipeline

from sae_pipelines.pipelines.training.nodes import (
    model_for_mlflow,
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
                model_for_mlflow,
                inputs="sae_model",
                outputs="sae_model_mlflow",
                name="log_model_to_mlflow",
            ),
        ]
    )
