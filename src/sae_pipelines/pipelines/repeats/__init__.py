"""The ``repeats`` pipeline."""

from sae_pipelines.pipelines.repeats.pipeline import create_pipeline, with_points

__all__ = ["create_pipeline", "with_points"]
