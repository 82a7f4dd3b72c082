"""The ``sparsity_frontier`` pipeline."""

from sae_pipelines.pipelines.sparsity_frontier.pipeline import create_pipeline

__all__ = ["create_pipeline"]
