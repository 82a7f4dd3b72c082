"""Project pipelines."""

from typing import cast

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

SEPARATE_PIPELINES = ("batch_extraction", "sparsity_frontier", "repeats")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    ``__default__`` trains and evaluates; ``batch_extraction`` (the scheduled
    job over new data), ``sparsity_frontier`` (the model trained over a grid
    of sparsity settings) and ``repeats`` (trained and judged once per seed)
    run on their own.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
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
