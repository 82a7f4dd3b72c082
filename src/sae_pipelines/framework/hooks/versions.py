"""The version of each versioned dataset a run loads and saves, and its file.

Kedro saves every versioned dataset under the run's save version, but loads
the newest version on disk: another run saving the same dataset in between
makes it that run's. :class:`RunVersionsHooks` pins each version a run uses,
so that it loads what it saved, and knows them all, for the provenance record
and for the artifacts copied to MLflow. A run that fails (or is interrupted)
leaves no version of its own: its version folders are removed. It reads
datasets' configuration and public methods only.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import (
    AbstractDataset,
    AbstractVersionedDataset,
    DataCatalog,
    DatasetError,
)
from kedro.pipeline import Pipeline

from sae_pipelines.runtime.storage import Location, storage_options
from sae_pipelines.tracking.versions import remove_version_folder

logger = logging.getLogger(__name__)

WRAPPED_DATASET_KEY = "dataset"  # a CachedDataset's configuration of its dataset


class RunVersionsHooks:
    """Pins, and records, the version of each versioned dataset of a run.

    Before the run, each versioned dataset the pipeline writes is rebuilt to
    load the version it will save, unless ``--load-versions`` names one.
    Datasets the run only reads are pinned at their first load to the newest
    version then on disk (Kedro's own choice), or the one named.
    """

    def __init__(self) -> None:
        self._catalog: DataCatalog | None = None
        self._save_version: str | None = None
        self._load_versions: dict[str, str] = {}
        self._configs: dict[str, dict[str, Any]] = {}

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        """Pin the load version of each versioned dataset the pipeline writes.

        The run's id is the save version Kedro gives its catalog.
        """
        self._catalog = catalog
        self._save_version = run_params["run_id"]
        self._load_versions = dict(run_params.get("load_versions") or {})
        self._configs = {}
        if run_params.get("only_missing_outputs"):
            return  # outputs of skipped nodes are read as found, as Kedro does
        for name in sorted(pipeline.all_outputs() - self._load_versions.keys()):
            if self.config(name).get("versioned"):
                self._pin(name, self._save_version)

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str) -> None:
        """Pin a versioned dataset not pinned yet to the newest version on disk."""
        if self._catalog is None or dataset_name in self._load_versions:
            return
        config = self.config(dataset_name)
        if not config.get("versioned"):
            return
        newest = _build(dataset_name, _file_config(config), None, self._save_version)
        assert isinstance(newest, AbstractVersionedDataset)  # its config says so
        with contextlib.suppress(DatasetError):  # none yet: Kedro's load says so
            version = newest.resolve_load_version()
            assert version is not None  # None only for an unversioned dataset
            self._pin(dataset_name, version)

    @hook_impl
    def on_pipeline_error(self, pipeline: Pipeline) -> None:
        """Remove the version folders the failed run saved, half made or not.

        Each is ``<filepath>/<save version>/``, the run's own (the save version
        is unique to the run); earlier versions are untouched. A folder left
        empty by it goes too.
        """
        removed = []
        for name in sorted(pipeline.all_outputs()):
            version = self.saved_version(name)
            file = None if version is None else self.dataset_file(name)
            if file is None or version is None:
                continue
            folder = file.child(version)
            if not folder.exists():
                continue
            if folder.is_local:
                remove_version_folder(folder.local_path)
            else:  # an object store has no folders to leave empty
                folder.fs.rm(folder.path, recursive=True)
            removed.append(name)
        if removed:
            logger.info(
                "Removed the failed run's version %s of %d datasets: %s",
                self._save_version,
                len(removed),
                ", ".join(removed),
            )

    def loaded_version(self, dataset_name: str) -> str | None:
        """The version the run loads of a versioned dataset; None if unversioned."""
        return self._load_versions.get(dataset_name)

    def saved_version(self, dataset_name: str) -> str | None:
        """The run's save version for a versioned dataset; None if unversioned."""
        if not self.config(dataset_name).get("versioned"):
            return None
        return self._save_version

    def config(self, dataset_name: str) -> dict[str, Any]:
        """A dataset's resolved catalog entry (``{}`` for one the runner made).

        The catalog forgets the entry of a dataset it is given: the entries of
        those pinned here are kept.
        """
        if dataset_name in self._configs:
            return self._configs[dataset_name]
        if self._catalog is None:
            return {}
        return self._catalog.config_resolver.resolve_pattern(dataset_name)

    def local_file(self, dataset_name: str, version: str | None = None) -> Path | None:
        """The local file (or folder) of a dataset's ``version``, or of its only one.

        Versions lie as Kedro documents: ``<filepath>/<version>/<file name>``.

        Returns:
            The path, or ``None`` for a dataset with no file on the local disk.
        """
        file = self.dataset_file(dataset_name, version)
        return None if file is None or not file.is_local else file.local_path

    def dataset_file(
        self, dataset_name: str, version: str | None = None
    ) -> Location | None:
        """:meth:`local_file` on any filesystem (``s3://``, ``gs://``...).

        The storage options are the catalog entry's ``credentials`` (resolved
        from ``credentials.yml``) and ``fs_args``, as the dataset itself uses.

        Returns:
            The file or folder, or ``None`` for a dataset with no ``filepath``.
        """
        config = _file_config(self.config(dataset_name))
        filepath = config.get("filepath")
        if filepath is None:
            return None
        credentials = config.get("credentials")
        options = storage_options(
            credentials if isinstance(credentials, dict) else None,
            config.get("fs_args"),
        )
        file = Location(str(filepath), options)
        if version is not None:
            file = file.child(version).child(file.name)
        return file

    def _pin(self, dataset_name: str, version: str) -> None:
        config = self.config(dataset_name)
        self._configs[dataset_name] = config
        pinned = _build(dataset_name, config, version, self._save_version)
        assert self._catalog is not None  # pinned only once the catalog exists
        with _quiet_replacement(dataset_name):
            self._catalog[dataset_name] = pinned
        self._load_versions[dataset_name] = version


def _file_config(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration of the dataset that holds the file, versioned as ``config``."""
    wrapped = config.get(WRAPPED_DATASET_KEY)
    if isinstance(wrapped, dict) and "filepath" not in config:
        return {**wrapped, "versioned": config.get("versioned", False)}
    return config


def _build(
    name: str,
    config: dict[str, Any],
    load_version: str | None,
    save_version: str | None,
) -> AbstractDataset[Any, Any]:
    return AbstractDataset.from_config(name, config, load_version, save_version)


@contextlib.contextmanager
def _quiet_replacement(dataset_name: str) -> Iterator[None]:
    """Drop the catalog's warning that the dataset is replaced: here it is meant."""
    catalog_logger = logging.getLogger(DataCatalog.__module__)
    message = f"Replacing dataset '{dataset_name}'"

    def record_filter(record: logging.LogRecord) -> bool:
        return record.getMessage() != message

    catalog_logger.addFilter(record_filter)
    try:
        yield
    finally:
        catalog_logger.removeFilter(record_filter)
