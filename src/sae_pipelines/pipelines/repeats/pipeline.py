"""The model trained and judged again for each seed, and the spread of every figure.

Each point of ``repeats.points`` (one per seed, see :mod:`..points`) is the
split, normalisation, training, feature extraction and evaluation metric
pipelines again, namespaced ``repeats.seed_<n>``, from the run's validated
table, with every seeded parameter group set to that seed. Each seed's record
becomes a nested MLflow run (``point_run``); the summary, its metrics and the
report sum them up.

The seeds' pipelines are the registered ones (``data_processing``, ``training``,
``feature_extraction``, ``evaluation``): ``pipeline_registry`` hands them to
:func:`with_points`, so that this pipeline imports none of them.
"""

from collections.abc import Mapping
from typing import Any

from kedro.pipeline import Node, Pipeline

from sae_pipelines.pipelines.points import REPEATS, point_pipelines, point_runs
from sae_pipelines.pipelines.repeats.nodes import (
    repeats_mlflow_metrics,
    summarise_repeats,
)
from sae_pipelines.reporting.repeats import (
    render_repeats_report,
    repeats_markdown,
)

SHARED = "validated_data"


def with_points(registered: Mapping[str, Pipeline]) -> Pipeline:
    """The whole ``repeats`` pipeline (not part of ``__default__``).

    Args:
        registered: The project's pipelines, this one's own nodes among them.

    Returns:
        The validated table, then every seed's steps from it to evaluation's
        metrics, then the summary of the seeds.
    """
    data_processing = registered["data_processing"]
    seed_steps = (
        data_processing.from_inputs(SHARED)
        + registered["training"]
        + registered["feature_extraction"]
        + registered["evaluation"].to_outputs("evaluation_metrics")
    )
    points, _ = point_pipelines(REPEATS, seed_steps, {SHARED})
    return data_processing.to_outputs(SHARED) + points + registered[REPEATS]


def create_pipeline(**kwargs: Any) -> Pipeline:
    """The ``repeats`` pipeline's own nodes: the summary of the seeds' records."""
    runs = point_runs(REPEATS)
    return Pipeline(
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
