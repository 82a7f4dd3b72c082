"""The ``training`` pipeline."""

from sae_pipelines.pipelines.training.pipeline import create_pipeline

__all__ = ["create_pipeline"]
