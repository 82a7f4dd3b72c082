"""Kedro datasets of this project: streamed partitions and registered models."""
