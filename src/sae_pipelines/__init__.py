"""Sparse autoencoders as production data pipelines."""

from sae_pipelines.quiet import quiet_libraries

# First of all: every entry point imports this package before TensorFlow or
# MLflow, which read their settings when they load.
quiet_libraries()

__version__ = "0.1.0"
