"""The ``batch_extraction`` pipeline."""

from sae_pipelines.pipelines.batch_extraction.pipeline import create_pipeline

__all__ = ["create_pipeline"]
