"""The MLflow run of a ``kedro run``: kedro-mlflow's hook, named and tagged plainly."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import requests
from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro_mlflow.framework.hooks import MlflowHook
from mlflow import environment_variables
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException

from sae_pipelines.pipelines.params import plain
from sae_pipelines.runtime.errors import InputError
from sae_pipelines.runtime.interrupt import interruption
from sae_pipelines.tracking.abandoned_runs import end_abandoned_runs, process_tags
from sae_pipelines.tracking.store_lock import store_lock
from sae_pipelines.tracking.versions import remove_save_version

logger = logging.getLogger(__name__)

OBJECT_REPR = re.compile(r"<(?:\w+\.)*(\w+) object at 0x[0-9a-fA-F]+>")
MLFLOW_CONFIG = "mlflow"
# Where the catalog keeps the project's files, relative to the project.
DATA_FOLDER = "data"
# Seconds to connect to a tracking server, and again for its answer.
SERVER_TIMEOUT_S = 10
# MLflow's defaults retry a request 7 times over about two minutes, and wait
# 120 s for each answer: a server that goes away mid-run then takes minutes to
# fail. These give up after about 3 s (a refused connection) or 50 s (no
# answer). A value set in the environment is kept.
HTTP_REQUEST_SETTINGS = {
    environment_variables.MLFLOW_HTTP_REQUEST_MAX_RETRIES: "2",
    environment_variables.MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: "1",
    environment_variables.MLFLOW_HTTP_REQUEST_TIMEOUT: "15",
}
# Marking the run ended, once the server has stopped answering: one short try.
LAST_TRY_SETTINGS = {
    environment_variables.MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0",
    environment_variables.MLFLOW_HTTP_REQUEST_TIMEOUT: "5",
}


class TrackingServerUnreachableError(InputError, ConnectionError):
    """The tracking server named by the tracking URI does not answer."""


def require_reachable(uri: str | None) -> None:
    """Fail fast, naming the URI, when an HTTP tracking server does not answer.

    MLflow itself retries a refused connection for minutes. Any HTTP answer
    (even an error status) means the server is there; other stores pass.

    Raises:
        TrackingServerUnreachableError: No answer within the timeouts.
    """
    if not uri or not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(
            f"{uri.rstrip('/')}/health", timeout=SERVER_TIMEOUT_S
        ):
            return
    except urllib.error.HTTPError:
        return  # it answered
    except OSError as error:  # URLError, or a timeout
        msg = (
            f"the MLflow tracking server at {uri} cannot be reached "
            f"({getattr(error, 'reason', error)}): start it, or point "
            "MLFLOW_TRACKING_URI (or mlflow.yml's server.mlflow_tracking_uri) at "
            "one that runs"
        )
        raise TrackingServerUnreachableError(msg) from error


def limit_http_retries() -> None:
    """Make MLflow give up on a silent tracking server within a minute.

    Sets :data:`HTTP_REQUEST_SETTINGS` in the environment, where not set.
    """
    for variable, value in HTTP_REQUEST_SETTINGS.items():
        os.environ.setdefault(variable.name, value)


@contextlib.contextmanager
def _environment(settings: dict[Any, str]) -> Iterator[None]:
    """Within it, MLflow's environment variables ``settings`` hold these values."""
    saved = {variable.name: os.environ.get(variable.name) for variable in settings}
    os.environ.update({variable.name: value for variable, value in settings.items()})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def lost_server(
    error: BaseException, uri: str
) -> TrackingServerUnreachableError | None:
    """The tracking server at ``uri`` stopped answering, if that is what ``error`` is.

    MLflow words a failed request as an ``MlflowException`` raised while
    handling the ``requests`` error (a refused connection, a timeout).

    Returns:
        The error to report, naming the URI; ``None`` for any other error.
    """
    if not uri.startswith(("http://", "https://")):
        return None
    current: BaseException | None = error
    while current is not None:
        if isinstance(current, requests.ConnectionError | requests.Timeout):
            msg = (
                f"the MLflow tracking server at {uri} stopped answering during the "
                f"run ({type(current).__name__}): nothing of the run is kept; start "
                "the server again, then rerun"
            )
            return TrackingServerUnreachableError(msg)
        current = current.__cause__ or current.__context__
    return None


def run_name(run_params: dict[str, Any], parameters: dict[str, Any]) -> str:
    """``default · topk k=auto · seed=7``: pipelines, sparsity, ``--params`` given.

    The sparsity part is left out of runs that train nothing.
    """
    pipelines = run_params.get("pipeline_names") or ["__default__"]
    parts = ["+".join(name.strip("_") for name in pipelines)]
    if any(name in {"__default__", "training"} for name in pipelines):
        sparsity = parameters["model"]["sparsity"]
        method = sparsity["method"]
        settings = sparsity.get(method) or {}
        parts.append(" ".join([method, *(f"{k}={v}" for k, v in settings.items())]))
    if overrides := run_params.get("runtime_params"):
        flat = pd.json_normalize(overrides, sep=".").to_dict(orient="records")[0]
        parts.append(", ".join(f"{key}={value}" for key, value in flat.items()))
    return " · ".join(parts)


@contextlib.contextmanager
def _reported(run_id: str, status: str) -> Iterator[None]:
    """Log that the run ended ``status``, or that the tracking store was not told."""
    try:
        yield
    except MlflowException:
        logger.warning(
            "MLflow run %s could not be marked %s (the tracking store did not "
            "answer); the next `kedro run` from this host marks it KILLED",
            run_id,
            status,
        )
    else:
        logger.info("MLflow run %s ended %s", run_id, status)


def tag_value(value: Any) -> str:
    """A run parameter as a tag: JSON for containers and numbers, objects by class.

    Kedro hands the runner over as its repr (``<kedro.runner.….SequentialRunner
    object at 0x…>``), which becomes ``SequentialRunner``.
    """
    if isinstance(value, str):
        if match := OBJECT_REPR.fullmatch(value):
            return match.group(1)
        return value
    return json.dumps(value, sort_keys=True, default=str)


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
            self._clean_up_after(end_abandoned_runs(run.info.experiment_id))

    def _clean_up_after(self, abandoned: dict[str, str | None]) -> None:
        """Remove the file versions that runs killed outright left under data/."""
        for run_id, version in abandoned.items():
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
        with _environment(LAST_TRY_SETTINGS if lost else {}):
            self._end_runs(status)

    def _end_runs(self, status: str) -> None:
        """End every active run, and this run (perhaps active in another thread)."""
        ended = False
        while (active := mlflow.active_run()) is not None:
            ended |= active.info.run_id == self.run_id
            with _reported(active.info.run_id, status):
                mlflow.end_run(status)  # it leaves the stack even if this fails
        if not ended:  # opened in another thread
            with _reported(self.run_id, status):
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
