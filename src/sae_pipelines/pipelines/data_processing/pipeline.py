"""Raw table → validated table → train/validation/test → normalised model inputs."""

from typing import Any

from kedro.pipeline import Node, Pipeline

from sae_pipelines.inference.tables import SPLITS
from sae_pipelines.pipelines.data_processing.nodes import (
    fit_normalizer,
    normalize,
    split_data,
    validate_raw_data,
)


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Create the ``data_processing`` pipeline."""
    return Pipeline(
        [
            Node(
                validate_raw_data,
                inputs=[
                    "raw_data",
                    "params:data",
                    "params:anomaly",
                    "params:split",
                    "params:model",
                    "params:training",
                ],
                outputs="validated_data",
                name="validate_raw_data",
            ),
            Node(
                split_data,
                inputs=[
                    "validated_data",
                    "params:split",
                    "params:data",
                    "params:anomaly",
                ],
                outputs=[f"{split}_split" for split in SPLITS],
                name="split_data",
            ),
            Node(
                fit_normalizer,
                inputs=["train_split", "params:normalization", "params:data"],
                outputs="normalizer",
                name="fit_normalizer",
            ),
            *(
                Node(
                    normalize,
                    inputs=[f"{split}_split", "normalizer", "params:data"],
                    outputs=f"model_input_{split}",
                    name=f"normalize_{split}",
                )
                for split in SPLITS
            ),
        ]
    )
