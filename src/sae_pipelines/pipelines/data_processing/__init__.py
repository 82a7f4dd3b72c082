"""The ``data_processing`` pipeline."""

from sae_pipelines.pipelines.data_processing.pipeline import create_pipeline

__all__ = ["create_pipeline"]
