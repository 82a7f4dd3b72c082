"""The sparsity–fidelity frontier: the model trained and judged at each grid point.

Each point of ``sparsity_frontier.points`` (see :mod:`..points`) is the training,
feature extraction and evaluation metric pipelines again, namespaced
``sparsity_frontier.<point>``, on the same splits as the rest of the run and
with that point's ``model`` and ``training`` parameters. Each point's record
becomes a nested MLflow run (``point_run``); the frontier table, plot and
report sum them up.

The points' pipelines are the registered ones (``data_processing``,
``training``, ``feature_extraction``, ``evaluation``): ``pipeline_registry``
hands them to :func:`with_points`, so that this pipeline imports none of them.
"""

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from sae_pipelines.inference.tables import SPLITS
from sae_pipelines.pipelines.points import FRONTIER, point_pipelines, point_runs
from sae_pipelines.pipelines.sparsity_frontier.nodes import (
    frontier_metrics,
    frontier_table,
)
from sae_pipelines.reporting.frontier import plot_frontier, render_frontier_report


def with_points(registered: Mapping[str, Pipeline]) -> Pipeline:
    """The whole ``sparsity_frontier`` pipeline (not part of ``__default__``).

    Args:
        registered: The project's pipelines, this one's own nodes among them.

    Returns:
        The run's splits, then every point's training, feature extraction and
        evaluation metrics on them, then the frontier of the points.
    """
    shared = {"normalizer", *(f"model_input_{split}" for split in SPLITS)}
    point_steps = (
        registered["training"]
        + registered["feature_extraction"]
        + registered["evaluation"].to_outputs("evaluation_metrics")
    )
    points, _ = point_pipelines(FRONTIER, point_steps, shared)
    return registered["data_processing"] + points + registered[FRONTIER]


def create_pipeline(**kwargs: Any) -> Pipeline:
    """The ``sparsity_frontier`` pipeline's own nodes: the points' frontier."""
    runs = point_runs(FRONTIER)
    return Pipeline(
        [
            Node(
                frontier_table,
                inputs=runs,
                outputs="sparsity_frontier_table",
                name="frontier_table",
                namespace=FRONTIER,
            ),
            Node(
                frontier_metrics,
                inputs="sparsity_frontier_table",
                outputs="sparsity_frontier_metrics",
                name="frontier_metrics",
                namespace=FRONTIER,
            ),
            Node(
                plot_frontier,
                inputs="sparsity_frontier_table",
                outputs="figure_sparsity_frontier",
                name="plot_frontier",
                namespace=FRONTIER,
            ),
            Node(
                render_frontier_report,
                inputs=[
                    "sparsity_frontier_table",
                    "figure_sparsity_frontier",
                    "params:evaluation.plot_dpi",
                ],
                outputs=["sparsity_frontier_report", "sparsity_frontier_plots"],
                name="render_frontier_report",
                namespace=FRONTIER,
            ),
        ]
    )
