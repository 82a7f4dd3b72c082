"""Sparse autoencoders as production data pipelines."""

__version__ = "0.1.0"
