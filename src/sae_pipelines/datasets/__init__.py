"""Kedro datasets for tracking: per-epoch metric histories logged to MLflow."""
