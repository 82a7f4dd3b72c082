"""`kedro airflow create` turns batch_extraction into an Airflow DAG, set by conf.

The DAG is generated (never run: Airflow is not installed) in a copy of the
project, as the docs' Scheduling page (docs/how-to/scheduling.md) does, and read back with `ast`.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sae_pipelines.pipelines.batch_extraction import create_pipeline
from tests.project_runs import PROJECT_ROOT, copy_project

pytestmark = pytest.mark.slow  # `kedro airflow create` starts a session: ~10 s

DAG_FOLDER = PROJECT_ROOT / "airflow_dags"
TEMPLATE = DAG_FOLDER / "dag_template.j2"
DAG_FILE = "sae_pipelines_batch_extraction_dag.py"
NODES = ("find_pending_partitions", "extract_partitions", "summarize_batch")


@pytest.fixture(scope="module")
def dag_path(tmp_path_factory) -> Path:
    """The DAG that `kedro airflow create` writes for batch_extraction."""
    tmp_path = tmp_path_factory.mktemp("airflow")
    root = copy_project(tmp_path / "project")
    target = tmp_path / "dags"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "kedro",
            "airflow",
            "create",
            "--pipelines",
            "batch_extraction",
            "--group-by",
            "memory",
            "--jinja-file",
            str(TEMPLATE),
            "--target-dir",
            str(target),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=os.environ | {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(path.name for path in target.iterdir()) == [DAG_FILE]
    return target / DAG_FILE


@pytest.fixture(scope="module")
def dag_source(dag_path) -> str:
    return dag_path.read_text()


@pytest.fixture(scope="module")
def dag_arguments(dag_source) -> dict:
    """The keyword arguments of the `@dag(...)` decorator, as Python values."""
    module = ast.parse(dag_source)
    (decorator,) = [
        decorator
        for statement in module.body
        if isinstance(statement, ast.FunctionDef)
        for decorator in statement.decorator_list
        if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "dag"
    ]
    arguments = {}
    for keyword in decorator.keywords:
        try:
            arguments[keyword.arg] = ast.literal_eval(keyword.value)
        except ValueError:  # calls: datetime(...), dict(...)
            arguments[keyword.arg] = keyword.value
    return arguments


@pytest.fixture(scope="module")
def airflow_conf() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "conf/base/airflow.yml").read_text())


def test_dag_is_valid_python(dag_path, dag_source):
    compile(dag_source, str(dag_path), "exec")


def test_dag_is_named_after_project_and_pipeline(dag_arguments, dag_source):
    assert dag_arguments["dag_id"] == "sae-pipelines-batch-extraction"
    assert 'pipeline_name = "batch_extraction"' in dag_source
    assert "\nsae_pipelines_batch_extraction()" in dag_source


def test_one_task_runs_every_node_in_one_kedro_session(dag_source):
    """Nodes share MemoryDatasets and the run's file lock: one task runs them all."""
    assert {node.name for node in create_pipeline().nodes} == set(NODES)
    calls = [
        call
        for call in ast.walk(ast.parse(dag_source))
        if isinstance(call, ast.Call) and ast.unparse(call.func) == "_run_kedro_node"
    ]
    assert len(calls) == 1
    (node_names,) = calls[0].keywords
    assert node_names.arg == "node_names"
    assert set(ast.literal_eval(node_names.value)) == set(NODES)
    assert dag_source.count("@task(") == 1


def test_schedule_and_concurrency_come_from_conf(dag_arguments, airflow_conf):
    batch = airflow_conf["batch_extraction"]
    assert batch["schedule"] == dag_arguments["schedule"] == "@hourly"
    assert batch["max_active_runs"] == dag_arguments["max_active_runs"] == 1
    assert batch["catchup"] is dag_arguments["catchup"] is False
    assert ast.unparse(dag_arguments["start_date"]) == (
        f"datetime({', '.join(map(str, batch['start_date']))})"
    )
    default_args = {
        keyword.arg: keyword.value for keyword in dag_arguments["default_args"].keywords
    }
    retries = airflow_conf["default"]["retries"]
    assert retries >= 1
    assert ast.literal_eval(default_args["retries"]) == retries


def test_committed_dag_is_up_to_date(dag_source):
    """airflow_dags/ holds what the Scheduling page's regeneration step writes."""
    formatted = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--stdin-filename",
            f"airflow_dags/{DAG_FILE}",
            "-",
        ],
        cwd=PROJECT_ROOT,
        input=dag_source,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert formatted == (DAG_FOLDER / DAG_FILE).read_text(), (
        "airflow_dags/ is stale: regenerate it (docs/how-to/scheduling.md)"
    )
