import os
import subprocess
import sys
import time

import pytest
import requests
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro_mlflow.framework.hooks import MlflowHook
from mlflow.exceptions import MlflowException

from sae_pipelines.framework.hooks.mlflow_run import MlflowTrackingHooks
from sae_pipelines.tracking.mlflow_run import (
    SERVER_TIMEOUT_S,
    TrackingServerUnreachableError,
    limit_http_retries,
    lost_server,
    require_reachable,
)
from tests.project_runs import PROJECT_ROOT, free_port


def test_kedro_mlflow_hook_is_replaced_not_doubled():
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT) as session:
        plugins = session._hook_manager.get_plugins()
    mlflow_hooks = [hook for hook in plugins if isinstance(hook, MlflowHook)]
    assert len(mlflow_hooks) == 1
    assert isinstance(mlflow_hooks[0], MlflowTrackingHooks)


def test_mlflow_telemetry_is_off_once_the_project_is_imported():
    # MLflow stays quiet under pytest or CI on its own; a user's shell sets neither.
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTEST_CURRENT_TEST", "CI", "MLFLOW_DISABLE_TELEMETRY"}
    }
    check = (
        "import sae_pipelines.settings, mlflow.telemetry; "
        "print('client:', mlflow.telemetry.get_telemetry_client())"
    )
    result = subprocess.run(
        [sys.executable, "-c", check],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "client: None" in result.stdout


def test_a_tracking_server_that_does_not_answer_is_named_at_once():
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(TrackingServerUnreachableError) as error:
        require_reachable(uri)
    assert time.monotonic() - started < SERVER_TIMEOUT_S
    assert str(error.value).startswith(
        f"the MLflow tracking server at {uri} cannot be reached ("
    )
    require_reachable("sqlite:///mlflow.db")  # not a server: nothing to check


def failed_request(uri: str) -> MlflowException:
    """An error as MLflow raises it when a request to ``uri`` gets no answer."""
    try:
        try:
            raise requests.ConnectionError("Connection refused")
        except requests.ConnectionError:
            raise MlflowException(f"API request to {uri}/api failed") from None
    except MlflowException as error:
        return error


def test_a_server_lost_mid_run_is_named_in_one_line():
    uri = "http://127.0.0.1:5999"
    wrapped = RuntimeError("node failed")
    wrapped.__cause__ = failed_request(uri)
    error = lost_server(wrapped, uri)
    assert isinstance(error, TrackingServerUnreachableError)
    assert str(error).startswith(f"the MLflow tracking server at {uri} stopped")
    assert "\n" not in str(error)
    assert lost_server(ValueError("a bug"), uri) is None
    assert lost_server(failed_request(uri), "sqlite:///mlflow.db") is None


def test_mlflow_gives_up_within_a_minute_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "300")  # the user's own
    limit_http_retries()
    retries = int(os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"])
    backoff = float(os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"])
    # urllib3 waits backoff·2^(n-1) before the n-th retry after the first.
    assert sum(backoff * 2 ** (n - 1) for n in range(2, retries + 1)) < 10
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "300"
