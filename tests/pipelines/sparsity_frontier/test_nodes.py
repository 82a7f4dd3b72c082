"""The frontier's points, table and plot, without running the project."""

import numpy as np

from sae_pipelines.pipelines.sparsity_frontier.grid import grid_points
from sae_pipelines.pipelines.sparsity_frontier.nodes import (
    frontier_metrics,
    frontier_table,
    plot_frontier,
)

MODEL = {"code_size": "auto", "sparsity": {"method": "topk", "topk": {"k": 8}}}


def test_each_value_of_each_grid_is_a_point_with_its_model():
    points = grid_points(
        MODEL,
        {"epochs": 400, "seed": 1},
        {"topk": {"k": [2, 16]}, "l1": {"weight": [0.01]}},
        {"epochs": 50},
    )

    assert list(points) == ["topk_k_2", "topk_k_16", "l1_weight_0_01"]
    l1 = points["l1_weight_0_01"]
    assert l1["model"]["sparsity"]["method"] == "l1"
    assert l1["model"]["sparsity"]["l1"] == {"weight": 0.01}
    assert l1["training"] == {"epochs": 50, "seed": 1}
    assert points["topk_k_2"]["model"]["sparsity"]["topk"] == {"k": 2}
    assert MODEL["sparsity"]["topk"] == {"k": 8}  # the base model is left alone
    assert l1["label"]["params"] == {
        "model.sparsity.method": "l1",
        "model.sparsity.l1.weight": 0.01,
        "training.epochs": 50,
    }


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
