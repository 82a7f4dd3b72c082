"""Metrics in the form they are reported in."""

from __future__ import annotations


def mlflow_metrics(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{name: {"value", "step": 0}}``: kedro-mlflow's metrics dataset's form."""
    return {name: {"value": value, "step": 0} for name, value in metrics.items()}
