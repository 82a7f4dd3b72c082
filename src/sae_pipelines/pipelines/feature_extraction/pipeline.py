"""Trained model + normalised splits → one codes table per split."""

from typing import Any

from kedro.pipeline import Node, Pipeline

from sae_pipelines.inference.tables import SPLITS
from sae_pipelines.pipelines.feature_extraction.nodes import encode_splits


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Create the ``feature_extraction`` pipeline."""
    return Pipeline(
        [
            Node(
                encode_splits,
                inputs=[
                    "sae_model",
                    "normalizer",
                    "anomaly_scorer",
                    *(f"model_input_{split}" for split in SPLITS),
                    "params:data",
                    "params:feature_extraction",
                ],
                outputs=[f"codes_{split}" for split in SPLITS],
                name="encode_splits",
            )
        ]
    )
