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
from typing import Any

import pandas as pd
import requests
from mlflow import environment_variables
from mlflow.exceptions import MlflowException

from sae_pipelines.runtime.errors import InputError, error_chain

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
def temporary_environment(settings: dict[Any, str]) -> Iterator[None]:
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
    for cause in error_chain(error):
        if isinstance(cause, requests.ConnectionError | requests.Timeout):
            msg = (
                f"the MLflow tracking server at {uri} stopped answering during the "
                f"run ({type(cause).__name__}): nothing of the run is kept; start "
                "the server again, then rerun"
            )
            return TrackingServerUnreachableError(msg)
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
def reported_end(run_id: str, status: str) -> Iterator[None]:
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
