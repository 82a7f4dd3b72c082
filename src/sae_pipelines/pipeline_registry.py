"""Project pipelines."""

from typing import cast

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from sae_pipelines.pipelines import (
    data_processing,
    evaluation,
    feature_extraction,
    repeats,
    sparsity_frontier,
    training,
)

SEPARATE_PIPELINES = ("batch_extraction", "sparsity_frontier", "repeats")
# What the repeats and the frontier run again at each of their points.
POINT_STEPS = {
    "data_processing": data_processing,
    "training": training,
    "feature_extraction": feature_extraction,
    "evaluation": evaluation,
}
WITH_POINTS = {"repeats": repeats, "sparsity_frontier": sparsity_frontier}


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    ``__default__`` trains and evaluates; ``batch_extraction`` (the scheduled
    job over new data), ``sparsity_frontier`` (the model trained over a grid
    of sparsity settings) and ``repeats`` (trained and judged once per seed)
    run on their own. The last two run other pipelines once per point: they
    are put together here, so that no pipeline imports another.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects; only those asked
        for when a run names its pipelines (``kedro run --pipelines``).
    """
    pipelines = find_pipelines(raise_errors=True)
    for name, package in WITH_POINTS.items():
        if name in pipelines:
            steps = {
                step: pipelines.get(step) or module.create_pipeline()
                for step, module in POINT_STEPS.items()
            }
            pipelines[name] = package.with_points({**steps, name: pipelines[name]})
    # sum starts from 0, which Pipeline.__radd__ takes; typeshed cannot say so.
    pipelines["__default__"] = cast(
        Pipeline,
        sum(
            pipeline
            for name, pipeline in pipelines.items()
            if name not in SEPARATE_PIPELINES
        ),
    )
    return pipelines
