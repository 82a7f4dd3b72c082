"""Each seed's metrics summed up: mean, spread and wins of every comparison."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from sae_pipelines.reporting.evaluation import COMPARISONS
from sae_pipelines.reporting.metrics import mlflow_metrics


def spread(values: list[float]) -> dict[str, Any]:
    """Mean, min, max and the 95% confidence interval of the mean (Student's t).

    With one value the interval is ``None``: one seed says nothing of the spread.
    """
    array = np.asarray(values, dtype=float)
    mean = float(array.mean())
    low = high = None
    if len(array) > 1:
        half = stats.t.ppf(0.975, len(array) - 1) * array.std(ddof=1)
        half /= math.sqrt(len(array))
        low, high = mean - half, mean + half
    return {
        "mean": mean,
        "min": float(array.min()),
        "max": float(array.max()),
        "ci95_low": low,
        "ci95_high": high,
        "values": array.tolist(),
    }


def summarise_repeats(*point_records: dict[str, Any]) -> dict[str, Any]:
    """Every SAE-versus-baseline comparison over the seeds, and every metric.

    Args:
        *point_records: Each seed's record (see :func:`..points.point_record`).

    Returns:
        ``{"seeds": [...], "comparisons": [...], "metrics": {name: spread}}``.
        A comparison is kept when every seed measured the SAE's figure and at
        least one baseline's; it holds the SAE's spread and, per baseline, its
        spread and ``sae_ahead``, the number of seeds the SAE did better on.
    """
    runs = [record["metrics"] for record in point_records]
    shared = set.intersection(*(set(metrics) for metrics in runs))
    comparisons = []
    for comparison in COMPARISONS:
        baselines = {
            name: key
            for name, key in comparison.baseline_metrics.items()
            if key in shared
        }
        if comparison.sae_metric not in shared or not baselines:
            continue
        sae = [metrics[comparison.sae_metric] for metrics in runs]
        sign = 1 if comparison.higher_is_better else -1
        comparisons.append(
            {
                "use": comparison.use,
                "measure": comparison.measure,
                "higher_is_better": comparison.higher_is_better,
                "metric": comparison.sae_metric,
                "sae": spread(sae),
                "baselines": {
                    name: {
                        "metric": key,
                        **spread([metrics[key] for metrics in runs]),
                        "sae_ahead": sum(
                            sign * (mine - metrics[key]) > 0
                            for mine, metrics in zip(sae, runs, strict=True)
                        ),
                    }
                    for name, key in baselines.items()
                },
            }
        )
    return {
        "seeds": [record["point"]["seed"] for record in point_records],
        "comparisons": comparisons,
        "metrics": {
            name: spread([metrics[name] for metrics in runs]) for name in sorted(shared)
        },
    }


def repeats_mlflow_metrics(repeats_summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as MLflow metrics of the parent run.

    ``<metric>_mean``, ``_min``, ``_max``, ``_ci95_low`` and ``_ci95_high`` of
    every metric, and ``<metric>_ahead_of_<baseline>`` (seeds the SAE won) of
    every comparison.
    """
    flat = {}
    for name, figures in repeats_summary["metrics"].items():
        for key in ("mean", "min", "max", "ci95_low", "ci95_high"):
            if figures[key] is not None:
                flat[f"{name}_{key}"] = figures[key]
    for comparison in repeats_summary["comparisons"]:
        for baseline, figures in comparison["baselines"].items():
            slug = baseline.replace(" ", "_").lower()
            flat[f"{comparison['metric']}_ahead_of_{slug}"] = figures["sae_ahead"]
    return mlflow_metrics(flat)
