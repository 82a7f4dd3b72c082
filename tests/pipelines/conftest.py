"""Run pipeline slices with Kedro's runner on an in-memory catalog."""

from collections.abc import Iterator
from typing import Any

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from kedro.validation import ParameterValidator
from pydantic import BaseModel

from sae_pipelines.parameters.groups import PARAMETER_GROUPS


class KeptMemoryDataset(MemoryDataset):
    """A memory dataset the runner cannot release, so tests can read intermediates."""

    def _release(self) -> None:
        pass


def run_in_memory(
    pipeline: Pipeline, inputs: dict[str, Any], params: dict
) -> DataCatalog:
    """Run ``pipeline`` with ``inputs`` and ``params:*`` in memory; return the catalog.

    As in a Kedro session, the parameters are validated against the nodes'
    type hints (groups become models), and every nested parameter has its own
    entry too (``params:evaluation.plot_dpi``).
    """
    validated = ParameterValidator({"pipeline": pipeline}).validate_raw_params(params)
    catalog = DataCatalog(
        {name: MemoryDataset(value) for name, value in inputs.items()}
        | {name: MemoryDataset(value) for name, value in _parameter_entries(validated)}
    )
    for name in pipeline.all_outputs() - set(catalog.keys()):
        catalog[name] = KeptMemoryDataset()
    SequentialRunner().run(pipeline, catalog)
    return catalog


def _parameter_entries(params: dict, prefix: str = "params:") -> Iterator[tuple]:
    for key, value in params.items():
        yield f"{prefix}{key}", value
        fields = value
        if isinstance(value, BaseModel):
            fields = {name: getattr(value, name) for name in type(value).model_fields}
        if isinstance(fields, dict):
            yield from _parameter_entries(fields, f"{prefix}{key}.")


@pytest.fixture
def fast_params(params) -> dict:
    """Project parameters with a short training schedule for small test data."""
    params["model"]["code_size"] = 12
    params["model"]["sparsity"]["topk"]["k"] = 3
    params["training"].update(
        epochs=30,
        batch_size=32,
        resample_dead_units={"every": 1 / 3, "until": 2 / 3},
    )
    return params


def typed(params: dict) -> dict:
    """Each parameter group as the model its nodes take, as Kedro passes them."""
    return {
        group: PARAMETER_GROUPS[group].model_validate(value)
        for group, value in params.items()
        if group in PARAMETER_GROUPS
    }
