"""The model trained and judged again for each seed, and the spread of every figure.

Each point of ``repeats.points`` (one per seed, see :mod:`..points`) is the
split, normalisation, training, feature extraction and evaluation metric
pipelines again, namespaced ``repeats.seed_<n>``, from the run's validated
table, with every seeded parameter group set to that seed. Each seed's record
becomes a nested MLflow run (``point_run``); the summary, its metrics and the
report sum them up.
"""

from typing import Any

from kedro.pipeline import Node, Pipeline

from sae_pipelines.pipelines import (
    data_processing,
    evaluation,
    feature_extraction,
    training,
)
from sae_pipelines.pipelines.points import REPEATS, point_pipelines
from sae_pipelines.pipelines.repeats.nodes import (
    repeats_mlflow_metrics,
    summarise_repeats,
)
from sae_pipelines.reporting.repeats import (
    render_repeats_report,
    repeats_markdown,
)

SHARED = "validated_data"


def seed_steps() -> Pipeline:
    """From the validated table to evaluation's metrics: everything a seed changes."""
    return (
        data_processing.create_pipeline().from_inputs(SHARED)
        + training.create_pipeline()
        + feature_extraction.create_pipeline()
        + evaluation.create_pipeline().to_outputs("evaluation_metrics")
    )


def create_pipeline(**kwargs: Any) -> Pipeline:
    """Create the ``repeats`` pipeline (not part of ``__default__``)."""
    points, runs = point_pipelines(REPEATS, seed_steps(), {SHARED})
    return (
        data_processing.create_pipeline().to_outputs(SHARED)
        + points
        + Pipeline(
            [
                Node(
                    summarise_repeats,
                    inputs=runs,
                    outputs="repeats_summary",
                    name="summarise_repeats",
                    namespace=REPEATS,
                ),
                Node(
                    repeats_mlflow_metrics,
                    inputs="repeats_summary",
                    outputs="repeats_metrics_mlflow",
                    name="repeats_mlflow_metrics",
                    namespace=REPEATS,
                ),
                Node(
                    render_repeats_report,
                    inputs="repeats_summary",
                    outputs="repeats_report",
                    name="render_repeats_report",
                    namespace=REPEATS,
                ),
                Node(
                    repeats_markdown,
                    inputs="repeats_summary",
                    outputs="repeats_table",
                    name="repeats_markdown",
                    namespace=REPEATS,
                ),
            ]
        )
    )
