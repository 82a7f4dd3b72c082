"""The frontier's table and plot, without running the project."""

import numpy as np

from sae_pipelines.pipelines.sparsity_frontier.nodes import (
    frontier_metrics,
    frontier_table,
)
from sae_pipelines.reporting.frontier import plot_frontier


def record(name, method, setting, value, l0, fvu):
    return {
        "name": name,
        "point": {"method": method, "setting": setting, "value": value},
        "metrics": {"test_l0": l0, "test_fvu": fvu, "pca_test_fvu": fvu + 0.1},
    }


def test_the_table_sorts_points_by_method_and_l0_and_keeps_only_known_metrics():
    table = frontier_table(
        record("topk_k_8", "topk", "k", 8, 8.0, 0.2),
        record("l1_weight_0_1", "l1", "weight", 0.1, 3.5, 0.5),
        record("topk_k_2", "topk", "k", 2, 2.0, 0.6),
    )

    assert table["point"].tolist() == ["l1_weight_0_1", "topk_k_2", "topk_k_8"]
    assert table["value"].tolist() == [0.1, 2, 8]
    assert list(table.columns) == [
        "point",
        "method",
        "setting",
        "value",
        "test_l0",
        "test_fvu",
        "pca_test_fvu",
    ]
    metrics = frontier_metrics(table)
    assert metrics["points"][1] == {
        "point": "topk_k_2",
        "method": "topk",
        "setting": "k",
        "value": 2,
        "test_l0": 2.0,
        "test_fvu": 0.6,
        "pca_test_fvu": np.float64(0.7),
    }
    axes = plot_frontier(table).axes[0]
    assert [line.get_label() for line in axes.lines] == [
        "l1",
        "topk",
        "PCA, ⌈L0⌉ components",
    ]
    # PCA at ⌈L0⌉ components: 2, 4 (⌈3.5⌉) and 8.
    assert axes.lines[-1].get_xdata().tolist() == [2.0, 4.0, 8.0]
