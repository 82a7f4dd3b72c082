"""A file lock on batch extraction's output folder, taken before the pipeline runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from filelock import FileLock
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog

from sae_pipelines.batch.lock import OUTPUT_DATASET, PIPELINE, take_lock

if TYPE_CHECKING:
    from sae_pipelines.batch.partitions import ExtractedPartitionsDataset


class BatchLockHooks:
    """Takes a file lock on the output folder before batch extraction runs.

    A second run started while one holds the lock stops at once with a clear
    message, before it reads or writes anything.
    """

    def __init__(self) -> None:
        self._catalog: DataCatalog | None = None
        self._lock: FileLock | None = None

    @hook_impl
    def after_catalog_created(self, catalog: DataCatalog) -> None:
        """Keep the catalog, to find the output folder."""
        self._catalog = catalog

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Take the lock when the batch extraction pipeline is about to run.

        Raises:
            BatchLockedError: Another batch extraction holds the lock.
        """
        if PIPELINE not in (run_params.get("pipeline_names") or []):
            return
        assert self._catalog is not None  # after_catalog_created came first
        # The catalog cannot type its entries: the YAML says which class this is.
        output = cast("ExtractedPartitionsDataset", self._catalog.get(OUTPUT_DATASET))
        self._lock = take_lock(Path(output.folder))

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Release the lock after a successful run."""
        self._release()

    @hook_impl
    def on_pipeline_error(self) -> None:
        """Release the lock after a failed run."""
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
