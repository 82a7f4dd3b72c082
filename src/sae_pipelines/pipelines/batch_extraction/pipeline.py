"""New partitions in data/01_raw/incoming → codes, anomaly scores and flags."""

from typing import Any

from kedro.pipeline import Node, Pipeline

from sae_pipelines.pipelines.batch_extraction.nodes import (
    extract_partitions,
    pending_partitions,
    summarize_batch,
)


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Create the ``batch_extraction`` pipeline (not part of ``__default__``)."""
    return Pipeline(
        [
            Node(
                pending_partitions,
                inputs=["incoming_partitions", "extraction_checkpoint"],
                outputs="pending_partitions",
                name="find_pending_partitions",
            ),
            Node(
                extract_partitions,
                inputs=[
                    "incoming_partitions",
                    "pending_partitions",
                    "serving_model",
                    "params:batch_extraction",
                ],
                outputs=["extracted_partitions", "model_used"],
                name="extract_partitions",
            ),
            Node(
                summarize_batch,
                inputs=["extracted_partitions", "pending_partitions", "model_used"],
                outputs=["batch_summary", "batch_metrics_mlflow"],
                name="summarize_batch",
            ),
        ]
    )
