"""The sparsity–fidelity frontier: the model trained and judged at each grid point.

Each point of ``sparsity_frontier.points`` (see :mod:`.grid`) is the training,
feature extraction and evaluation metric pipelines again, namespaced
``sparsity_frontier.<point>``, on the same splits as the rest of the run and
with that point's ``model`` and ``training`` parameters. Each point's record
becomes a nested MLflow run (``point_run``); the frontier table, plot and
report sum them up.
"""

from kedro.pipeline import Node, Pipeline, pipeline

from sae_pipelines.inference.tables import SPLITS
from sae_pipelines.pipelines import (
    data_processing,
    evaluation,
    feature_extraction,
    training,
)
from sae_pipelines.pipelines.sparsity_frontier.grid import (
    FRONTIER,
    configured_points,
)
from sae_pipelines.pipelines.sparsity_frontier.nodes import (
    frontier_metrics,
    frontier_table,
    plot_frontier,
    point_record,
)
from sae_pipelines.pipelines.sparsity_frontier.report import render_frontier_report

# The point's own parameters; every other parameter is the run's.
POINT_PARAMETERS = ("model", "training", "point")
POINT_RUN = "point_run"


def point_pipeline(name: str) -> Pipeline:
    """Training, feature extraction and evaluation's metrics for one point."""
    template = (
        training.create_pipeline()
        + feature_extraction.create_pipeline()
        + evaluation.create_pipeline().to_outputs("evaluation_metrics")
        + Pipeline(
            [
                Node(
                    point_record,
                    inputs=[
                        "params:point",
                        "evaluation_metrics",
                        "train_loss",
                        "val_loss",
                    ],
                    outputs=POINT_RUN,
                    name="point_record",
                )
            ]
        )
    )
    shared = {
        parameter
        for parameter in template.inputs()
        if parameter.startswith("params:")
        and parameter.removeprefix("params:") not in POINT_PARAMETERS
    }
    return pipeline(
        template,
        namespace=f"{FRONTIER}.{name}",
        inputs={"normalizer", *(f"model_input_{split}" for split in SPLITS)},
        parameters={
            **{parameter: parameter for parameter in shared},
            **{
                f"params:{key}": f"params:{FRONTIER}.points.{name}.{key}"
                for key in ("model", "training")
            },
            "params:point": f"params:{FRONTIER}.points.{name}.label",
        },
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Create the ``sparsity_frontier`` pipeline (not part of ``__default__``)."""
    names = configured_points()
    return (
        data_processing.create_pipeline()
        + sum((point_pipeline(name) for name in names), Pipeline([]))
        + Pipeline(
            [
                Node(
                    frontier_table,
                    inputs=[f"{FRONTIER}.{name}.{POINT_RUN}" for name in names],
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
