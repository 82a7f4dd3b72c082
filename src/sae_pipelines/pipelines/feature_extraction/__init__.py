"""The ``feature_extraction`` pipeline."""

from sae_pipelines.pipelines.feature_extraction.pipeline import create_pipeline

__all__ = ["create_pipeline"]
