"""Trained model + normalised splits → one codes table per split."""

from kedro.pipeline import Node, Pipeline

from sae_pipelines.pipelines.feature_extraction.nodes import encode_split
from sae_pipelines.tables import SPLITS


def create_pipeline(**kwargs) -> Pipeline:
    """Create the ``feature_extraction`` pipeline."""
    return Pipeline(
        [
            Node(
                encode_split,
                inputs=[
                    "sae_model",
                    f"model_input_{split}",
                    "params:data",
                    "params:feature_extraction",
                ],
                outputs=f"codes_{split}",
                name=f"encode_{split}",
            )
            for split in SPLITS
        ]
    )
