"""The lock on batch extraction's output folder, taken before the pipeline runs.

A file lock on the local disk, a lease on an object store
(:mod:`~sae_pipelines.batch.lock`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog

from sae_pipelines.batch.lock import OUTPUT_DATASET, PIPELINE, BatchLock, take_lock

if TYPE_CHECKING:
    from sae_pipelines.batch.partitions import ExtractedPartitionsDataset


class BatchLockHooks:
    """Takes the lock on the output folder before batch extraction runs.

    A second run started while one holds the lock stops at once with a clear
    message, before it reads or writes anything.
    """

    def __init__(self) -> None:
        self._catalog: DataCatalog | None = None
        self._lock: BatchLock | None = None

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
        self._lock = take_lock(output.location, output.lock_ttl_s)

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
