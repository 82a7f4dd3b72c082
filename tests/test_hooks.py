import logging
import os
import subprocess
import sys

from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.pipeline import Node
from kedro_mlflow.framework.hooks import MlflowHook

from sae_pipelines.hooks import MlflowTrackingHooks, NodeTimingHooks
from tests.project_runs import PROJECT_ROOT


def test_node_times_run_from_first_load_to_last_save(caplog, monkeypatch):
    now = {"s": 0.0}
    monkeypatch.setattr("sae_pipelines.hooks.time.perf_counter", lambda: now["s"])
    hooks = NodeTimingHooks()
    first = Node(lambda x: (x, x), "x", ["y", "z"], name="first")
    second = Node(lambda y: None, "y", None, name="second")
    with caplog.at_level(logging.INFO, logger="sae_pipelines.hooks"):
        hooks.before_pipeline_run()
        hooks.before_dataset_loaded(first)
        now["s"] = 1.0
        hooks.before_node_run(first)  # the clock started at the load
        hooks.after_node_run(first, {"y": 1, "z": 1})
        hooks.after_dataset_saved(first)
        assert not caplog.records  # "z" is still to be saved
        now["s"] = 4.0
        hooks.after_dataset_saved(first)
        hooks.before_dataset_loaded(second)
        now["s"] = 6.0
        hooks.after_node_run(second, {})
        hooks.after_pipeline_run()
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "Node 'first' took 4.00 s",
        "Node 'second' took 2.00 s",
        "Nodes took 6.00 s in all, loads and saves included",
    ]


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
