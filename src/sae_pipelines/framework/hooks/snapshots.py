"""Copies of the data a run read and wrote, stored once by content and linked to its MLflow run."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl

from sae_pipelines.framework.hooks.versions import RunVersionsHooks
from sae_pipelines.tracking.snapshots import (
    SHA256_TAG,
    SNAPSHOT_METADATA_KEY,
    dataset_input,
    default_location,
    store_snapshot,
)


class SnapshotHooks:
    """Stores the file of each opted-in dataset a run saves or loads, by digest.

    The file may be local or on any fsspec filesystem (``s3://``...).

    The catalog entry opts in with ``metadata: {mlflow_snapshot: {location:
    <URI or null>}}``. The file is logged as the run's dataset input, named as
    the dataset, with its digest, the snapshot's URI as source, and the
    table's schema and row count.
    """

    def __init__(self, versions: RunVersionsHooks) -> None:
        self._versions = versions
        self._logged: set[tuple[str, str]] = set()

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        """Snapshot a just-saved version."""
        self._snapshot(dataset_name, data, self._versions.saved_version)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        """Snapshot the loaded version (a repeat's or a later pipeline's input)."""
        self._snapshot(dataset_name, data, self._versions.loaded_version)

    def _snapshot(
        self, dataset_name: str, data: Any, version_of: Callable[[str], str | None]
    ) -> None:
        run = mlflow.active_run()
        metadata = self._versions.config(dataset_name).get("metadata") or {}
        settings = metadata.get(SNAPSHOT_METADATA_KEY)
        if run is None or settings is None:
            return
        key = (run.info.run_id, dataset_name)
        version = version_of(dataset_name)
        path = self._versions.dataset_file(dataset_name, version)
        if key in self._logged or version is None or path is None:
            return
        self._logged.add(key)
        location = (settings or {}).get("location") or default_location(run)
        snapshot = store_snapshot(path, location)
        with warnings.catch_warnings():
            # Its advice on integer columns and missing values is for model
            # signatures; this schema only describes the stored table.
            warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer")
            mlflow.log_input(
                dataset_input(data, dataset_name, snapshot),
                context="training",
                tags={SHA256_TAG: snapshot.sha256},
            )
