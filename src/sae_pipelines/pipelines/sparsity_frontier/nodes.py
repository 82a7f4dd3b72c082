"""Each grid point's record, and the frontier they draw together."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

# The table's columns: the point, then evaluation's metrics of it. PCA's FVU
# is at ⌈test_l0⌉ components, as evaluation's baseline has it; anomaly
# ROC-AUC only exists with anomaly labels (anomaly.normal_labels).
POINT_COLUMNS = ["point", "method", "setting", "value"]
METRIC_COLUMNS = [
    "test_l0",
    "test_fvu",
    "pca_test_fvu",
    "probe_accuracy",
    "anomaly_roc_auc",
]


def frontier_table(*point_records: dict[str, Any]) -> pd.DataFrame:
    """One row per point: method, setting, value and its metrics, by method and L0.

    Metric columns no point has (anomaly ROC-AUC without anomaly labels) are
    left out.
    """
    rows = [
        {
            "point": record["name"],
            **record["point"],
            **{name: record["metrics"].get(name, np.nan) for name in METRIC_COLUMNS},
        }
        for record in point_records
    ]
    table = pd.DataFrame(rows, columns=POINT_COLUMNS + METRIC_COLUMNS)
    # As given (k=4, λ=0.001), not all cast to float.
    table["value"] = pd.Series([row["value"] for row in rows], dtype=object)
    table = table.dropna(axis="columns", how="all")
    return table.sort_values(["method", "test_l0"], ignore_index=True)


def frontier_metrics(sparsity_frontier_table: pd.DataFrame) -> dict[str, Any]:
    """The table as JSON: ``{"points": [row, …]}``, missing values as null."""
    rows = sparsity_frontier_table.to_dict(orient="records")
    return {
        "points": [
            {key: None if _missing(value) else value for key, value in row.items()}
            for row in rows
        ]
    }


def _missing(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
