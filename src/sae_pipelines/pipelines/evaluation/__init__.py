"""The ``evaluation`` pipeline."""

from sae_pipelines.pipelines.evaluation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
