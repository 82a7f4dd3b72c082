"""The run's MLflow run: kedro-mlflow's hook, named, tagged, and ended as the run ends."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro_mlflow.framework.hooks import MlflowHook
from mlflow.entities import RunStatus

from sae_pipelines.parameters.groups import plain
from sae_pipelines.runtime.interrupt import interruption
from sae_pipelines.runtime.storage import Location, storage_options
from sae_pipelines.tracking.abandoned_runs import end_abandoned_runs, process_tags
from sae_pipelines.tracking.mlflow_run import (
    DATA_FOLDER,
    LAST_TRY_SETTINGS,
    MLFLOW_CONFIG,
    lost_server,
    reported_end,
    require_reachable,
    run_name,
    tag_value,
    temporary_environment,
)
from sae_pipelines.tracking.store_lock import store_lock
from sae_pipelines.tracking.versions import remove_remote_versions, remove_save_version

logger = logging.getLogger(__name__)


class MlflowTrackingHooks(MlflowHook):
    """kedro-mlflow's hook, logging each parameter once per run.

    kedro-mlflow logs a node's parameters before every node it runs, reopening
    the run first, though most groups feed many nodes. This hook sends only
    parameters not yet logged, and reopens the run only where it is not active
    (a runner's new thread). Parameter models go as the plain values they were
    made from, so the logged names stay flat (``training.seed``).
    """

    def __init__(self) -> None:
        super().__init__()
        self._logged: dict[str, Any] = {}
        self._data_folder = Path(DATA_FOLDER)

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Set up tracking (kedro-mlflow), one process at a time on a SQLite store.

        A tracking server that does not answer ends it at once (see
        :func:`require_reachable`).

        Here MLflow creates a new store's tables and kedro-mlflow the
        experiment; see ``store_lock``.
        """
        self._data_folder = Path(context.project_path) / DATA_FOLDER
        server = context.config_loader[MLFLOW_CONFIG].get("server") or {}
        uri = server.get("mlflow_tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI")
        require_reachable(uri)
        with store_lock(uri):
            super().after_context_created(context)

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline: Pipeline, catalog: DataCatalog
    ) -> None:
        """Start the run (kedro-mlflow) with nothing logged yet, named and tagged.

        kedro-mlflow names a run after its pipelines (``__default__``) and tags
        it with each run parameter as Python prints it (the runner as
        ``<kedro.runner…object at 0x…>``); here the name tells runs apart
        (:func:`run_name`) and the tags hold plain values.
        """
        self._logged = {}
        run_settings = self.mlflow_config.tracking.run
        configured_name = run_settings.name  # mlflow.yml's, if set, is kept
        if configured_name is None:
            run_settings.name = run_name(run_params, plain(catalog.load("parameters")))
        try:
            super().before_pipeline_run(run_params, pipeline, catalog)
        finally:
            run_settings.name = configured_name
        run = mlflow.active_run()
        if run is not None and run.info.run_id == self.run_id:
            tags = {key: tag_value(value) for key, value in run_params.items() if value}
            mlflow.set_tags(tags | process_tags())
            self._clean_up_after(
                end_abandoned_runs(run.info.experiment_id),
                _remote_filepaths(pipeline, catalog),
            )

    def _clean_up_after(
        self, abandoned: dict[str, str | None], remote: list[Location]
    ) -> None:
        """Remove the file versions that runs killed outright left.

        Under data/, and at the ``filepath`` URLs of this pipeline's versioned
        datasets on object stores (``remote``).
        """
        for run_id, version in abandoned.items():
            if version and (removed_remote := remove_remote_versions(remote, version)):
                logger.info(
                    "Removed the %d file versions %s that MLflow run %s left on "
                    "object storage: %s",
                    len(removed_remote),
                    version,
                    run_id,
                    ", ".join(removed_remote),
                )
            if version and (removed := remove_save_version(self._data_folder, version)):
                logger.info(
                    "Removed the %d file versions %s that MLflow run %s left: %s",
                    len(removed),
                    version,
                    run_id,
                    ", ".join(
                        str(p.parent.relative_to(self._data_folder)) for p in removed
                    ),
                )

    @hook_impl
    def on_pipeline_error(self, error: Exception) -> None:
        """End the run KILLED (Ctrl+C, SIGTERM) or FAILED, even if the server is gone.

        kedro-mlflow's own ends it FAILED whatever the cause, and stops at the
        first request that fails, before the hooks that remove the run's files.
        When the error is the server's silence, it is asked once more, briefly
        (:data:`LAST_TRY_SETTINGS`). A server that is gone leaves the run
        RUNNING there; the next run from this host marks it KILLED (see
        ``abandoned_runs``).
        """
        if self.run_id is None:
            return  # tracking is off for this pipeline
        status = RunStatus.to_string(
            RunStatus.KILLED if interruption(error) else RunStatus.FAILED
        )
        lost = lost_server(error, mlflow.get_tracking_uri()) is not None
        with temporary_environment(LAST_TRY_SETTINGS if lost else {}):
            self._end_runs(status)

    def _end_runs(self, status: str) -> None:
        """End every active run, and this run (perhaps active in another thread)."""
        ended = False
        while (active := mlflow.active_run()) is not None:
            ended |= active.info.run_id == self.run_id
            with reported_end(active.info.run_id, status):
                mlflow.end_run(status)  # it leaves the stack even if this fails
        if not ended:  # opened in another thread
            with reported_end(self.run_id, status):
                mlflow.MlflowClient().set_terminated(self.run_id, status)

    @hook_impl
    def before_node_run(
        self, node: Any, catalog: DataCatalog, inputs: dict[str, Any], is_async: bool
    ) -> None:
        """Log the node's parameters that this run has not logged yet.

        Parameter models are logged as the plain values they were made from.
        """
        parameters = {
            name: plain(value)
            for name, value in inputs.items()
            if name.startswith("params:") or name == "parameters"
        }
        unseen = {
            name: value
            for name, value in parameters.items()
            if name not in self._logged or self._logged[name] != value
        }
        active = mlflow.active_run()
        if not unseen and active is not None and active.info.run_id == self.run_id:
            return
        self._logged |= unseen
        super().before_node_run(node, catalog, unseen, is_async)


def _remote_filepaths(pipeline: Pipeline, catalog: DataCatalog) -> list[Location]:
    """The ``filepath`` URLs of the pipeline's versioned datasets not on the disk.

    With each entry's storage options (credentials resolved); a wrapping
    dataset's (``CachedDataset``) file is its wrapped dataset's.
    """
    filepaths = []
    for name in sorted(pipeline.datasets()):
        config = catalog.config_resolver.resolve_pattern(name)
        wrapped = config.get("dataset")
        file_config = wrapped if isinstance(wrapped, dict) else config
        filepath = file_config.get("filepath")
        if not config.get("versioned") or filepath is None:
            continue
        credentials = file_config.get("credentials")
        options = storage_options(
            credentials if isinstance(credentials, dict) else None,
            file_config.get("fs_args"),
        )
        location = Location(str(filepath), options)
        if not location.is_local:
            filepaths.append(location)
    return filepaths
