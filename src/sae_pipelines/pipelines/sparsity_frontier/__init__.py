"""The ``sparsity_frontier`` pipeline."""

from sae_pipelines.pipelines.sparsity_frontier.pipeline import (
    create_pipeline,
    with_points,
)

__all__ = ["create_pipeline", "with_points"]
