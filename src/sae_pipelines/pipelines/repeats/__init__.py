"""The ``repeats`` pipeline."""

from sae_pipelines.pipelines.repeats.pipeline import create_pipeline

__all__ = ["create_pipeline"]
