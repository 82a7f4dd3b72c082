"""The run's inference model registered once the whole run has succeeded."""

from __future__ import annotations

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline

from sae_pipelines.tracking.registry_datasets import InferenceModelDataset


class ModelRegistrationHooks:
    """Registers the run's inference model once the whole run has succeeded.

    Kedro calls ``after_pipeline_run`` only after every node ran and every
    output was saved, so a run that fails registers no model version and
    moves no alias.
    """

    @hook_impl
    def after_pipeline_run(self, pipeline: Pipeline, catalog: DataCatalog) -> None:
        """Register each inference model the run logged."""
        for name in sorted(pipeline.datasets()):
            dataset = catalog.get(name)
            if isinstance(dataset, InferenceModelDataset):
                dataset.register()
