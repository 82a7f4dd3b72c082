"""Run pipeline slices with Kedro's runner on an in-memory catalog."""

from typing import Any

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner


class KeptMemoryDataset(MemoryDataset):
    """A memory dataset the runner cannot release, so tests can read intermediates."""

    def _release(self) -> None:
        pass


def run_in_memory(
    pipeline: Pipeline, inputs: dict[str, Any], params: dict
) -> DataCatalog:
    """Run ``pipeline`` with ``inputs`` and ``params:*`` in memory; return the catalog."""
    catalog = DataCatalog(
        {name: MemoryDataset(value) for name, value in inputs.items()}
        | {f"params:{group}": MemoryDataset(value) for group, value in params.items()}
    )
    for name in pipeline.all_outputs() - set(catalog.keys()):
        catalog[name] = KeptMemoryDataset()
    SequentialRunner().run(pipeline, catalog)
    return catalog


@pytest.fixture
def fast_params(params) -> dict:
    """Project parameters with a short training schedule for small test data."""
    params["model"]["code_size"] = 12
    params["model"]["sparsity"]["topk"]["k"] = 3
    params["training"].update(
        epochs=30,
        batch_size=32,
        resample_dead_units={"every_epochs": 10, "until_epoch": 20},
    )
    return params
