"""Normalised splits → trained sparse autoencoder (file, MLflow model, loss curves)."""

from kedro.pipeline import Node, Pipeline

from sae_pipelines.pipelines.training.nodes import train_sparse_autoencoder


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
        ]
    )
