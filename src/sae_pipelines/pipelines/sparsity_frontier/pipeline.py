"""The sparsity–fidelity frontier: the model trained and judged at each grid point.

Each point of ``sparsity_frontier.points`` (see :mod:`..points`) is the training,
feature extraction and evaluation metric pipelines again, namespaced
``sparsity_frontier.<point>``, on the same splits as the rest of the run and
with that point's ``model`` and ``training`` parameters. Each point's record
becomes a nested MLflow run (``point_run``); the frontier table, plot and
report sum them up.
"""

from typing import Any

from kedro.pipeline import Node, Pipeline

from sae_pipelines.inference.tables import SPLITS
from sae_pipelines.pipelines import (
    data_processing,
    evaluation,
    feature_extraction,
    training,
)
from sae_pipelines.pipelines.points import FRONTIER, point_pipelines
from sae_pipelines.pipelines.sparsity_frontier.nodes import (
    frontier_metrics,
    frontier_table,
)
from sae_pipelines.reporting.frontier import plot_frontier, render_frontier_report


def point_steps() -> Pipeline:
    """Training, feature extraction and evaluation's metrics, on the run's splits."""
    return (
        training.create_pipeline()
        + feature_extraction.create_pipeline()
        + evaluation.create_pipeline().to_outputs("evaluation_metrics")
    )


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Create the ``sparsity_frontier`` pipeline (not part of ``__default__``)."""
    shared = {"normalizer", *(f"model_input_{split}" for split in SPLITS)}
    points, runs = point_pipelines(FRONTIER, point_steps(), shared)
    return (
        data_processing.create_pipeline()
        + points
        + Pipeline(
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
    )
