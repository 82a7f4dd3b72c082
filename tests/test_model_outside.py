"""The registered model where its users meet it, with the documented commands.

A fresh virtual environment with only the model's requirements (the project
cannot be imported there), ``mlflow models serve`` on a loopback port, and
``mlflow.pyfunc.spark_udf``: each command of the how-to page "Use the model
outside the project" (docs/how-to/model-outside.md) runs here, on a trained
project copy.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.project_runs import PROJECT_ROOT, code_columns, copy_project, kedro_cli

pytestmark = pytest.mark.slow

PAGE = PROJECT_ROOT / "docs/how-to/model-outside.md"
PAGE_PORT = "5001"
ENVIRONMENT = "model-env"


def page_blocks() -> list[tuple[str, str]]:
    """The page's code blocks, in order, as ``(language, code)``."""
    return re.findall(r"```(bash|python)\n(.*?)```", PAGE.read_text(), re.DOTALL)


def user_environment() -> dict[str, str]:
    """A user's shell: this one, less paths that would bring the project in.

    Kedro's ``bootstrap_project``, called by earlier tests in this process,
    puts the project's ``src`` on ``PYTHONPATH``; a user's shell has no such entry.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    return env | {"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}


def model_only_environment() -> dict[str, str]:
    """A clean shell: no project environment on ``PATH``, none active."""
    project_bin = str(Path(sys.prefix) / "bin")
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p != project_bin]
    env = {k: v for k, v in user_environment().items() if k != "VIRTUAL_ENV"}
    return env | {"PATH": os.pathsep.join(path)}


def session_commands(session: int) -> list[list[str]]:
    """The argument vectors of the live processes of a process session."""
    commands = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:  # it ended meanwhile
            continue
        if (
            int(fields[3]) == session
        ):  # the fields after the name: state, ppid, pgrp, sid
            commands.append(cmdline.decode().split("\0")[:-1])
    return commands


def run(command: list[str], root: Path, timeout: int = 900) -> str:
    result = subprocess.run(
        command,
        cwd=root,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def blocks():
    found = page_blocks()
    assert [language for language, _ in found] == [
        "bash",
        "python",
        "bash",
        "bash",
        "python",
    ]
    return [code for _, code in found]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, blocks):
    """A trained project copy, one batch output, and the model's own environment."""
    root = copy_project(tmp_path_factory.mktemp("outside") / "project")
    env = os.environ | {"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}
    trained = kedro_cli(root, "run", "--params", "training.epochs=15", env=env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    incoming = root / "data/01_raw/incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    rows = pd.read_csv(root / "data/01_raw/digits.csv").drop(columns="label")
    rows.iloc[:300].to_csv(incoming / "d1.csv", index=False)
    batch = kedro_cli(root, "run", "--pipelines", "batch_extraction", env=env)
    assert batch.returncode == 0, batch.stderr[-3000:]
    run(["bash", "-euo", "pipefail", "-c", blocks[0]], root)  # download, environment
    return root


def test_a_fresh_environment_scores_as_batch_extraction_did(trained, blocks):
    python = str(trained / ENVIRONMENT / "bin" / "python")
    isolated = run(
        [
            python,
            "-c",
            "import importlib.util as u; print(u.find_spec('sae_pipelines'))",
        ],
        trained,
    )
    assert isolated.strip() == "None"  # only the model's code_paths can bring it
    printed = run([python, "-c", blocks[1]], trained)
    assert "anomaly_score" in printed and "is_flagged" in printed

    score = (
        "import mlflow, pandas as pd; "
        "model = mlflow.pyfunc.load_model('models:/sae_pipelines@production'); "
        "rows = pd.read_csv('data/01_raw/incoming/d1.csv'); "
        "model.predict(rows).to_parquet('outside.parquet')"
    )
    run([python, "-c", score], trained)
    outside = pd.read_parquet(trained / "outside.parquet")
    batch = pd.read_parquet(trained / "data/07_model_output/batch/d1.parquet")
    assert list(outside.columns) == list(batch.columns) and len(outside) == 300
    codes = [c for c in batch.columns if c.startswith("code_")]
    np.testing.assert_allclose(outside[codes], batch[codes], rtol=0, atol=1e-5)
    np.testing.assert_allclose(
        outside["anomaly_score"], batch["anomaly_score"], rtol=0, atol=1e-5
    )
    assert (outside["is_flagged"] == batch["is_flagged"]).all()
    assert (outside["l0"] == batch["l0"]).all()
    assert (outside["row_id"] == batch["row_id"]).all()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(trained, blocks):
    """The page's ``mlflow models serve``, on a free loopback port."""
    port = str(free_port())
    child = subprocess.Popen(
        ["bash", "-c", blocks[2].replace(PAGE_PORT, port)],
        cwd=trained,
        env=model_only_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5):
                break
        except OSError:
            assert child.poll() is None, child.stderr.read()[-3000:]
            time.sleep(1)
    else:
        pytest.fail("mlflow models serve did not answer /ping within 180 s")
    serving = session_commands(child.pid)
    environment = str(trained / ENVIRONMENT / "bin")
    assert any(c[1:2] == [f"{environment}/uvicorn"] for c in serving), serving
    assert all(c[0].startswith(environment) for c in serving if "python" in c[0])
    yield port
    os.killpg(child.pid, signal.SIGTERM)
    child.wait(timeout=30)


def post(port: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_served_model_answers_rows_and_names_what_is_wrong(trained, blocks, server):
    answers = run(["bash", "-c", blocks[3].replace(PAGE_PORT, server)], trained)
    decoder = json.JSONDecoder()
    split, end = decoder.raw_decode(answers)
    records, _ = decoder.raw_decode(answers[end:].lstrip())
    first = split["predictions"][0]
    assert {"row_id", "code_000", "anomaly_score", "is_flagged", "l0"} <= set(first)
    assert first["l0"] == 24
    assert len(split["predictions"]) == 5
    codes = code_columns(pd.DataFrame(split["predictions"]))
    assert len(codes) > first["l0"]  # more units than fire on a row
    assert set(records["predictions"][0]) == {"row_id", *codes, "l0"}

    rows = pd.read_csv(trained / "data/01_raw/digits.csv").drop(columns="label")
    two = rows.head(2)

    def split_body(table: pd.DataFrame) -> dict:
        return {
            "dataframe_split": json.loads(table.to_json(orient="split", index=False))
        }

    status, body = post(server, split_body(two))
    assert status == 200 and len(body["predictions"]) == 2
    status, body = post(server, {"dataframe_records": two.to_dict("records")})
    assert status == 200 and body["predictions"][0]["l0"] == 24

    bad = {
        "missing": (two.drop(columns="pixel_0_3"), r"missing inputs \['pixel_0_3'\]"),
        "misnamed": (
            two.rename(columns={"pixel_0_3": "x"}),
            r"missing inputs \['pixel_0_3'\].*extra inputs: \['x'\]",
        ),
        "text": (two.assign(pixel_0_3="dark"), "column pixel_0_3"),
        "NaN": (two.assign(pixel_0_3=[np.nan, 1.0]), "column pixel_0_3"),
    }
    for kind, (table, message) in bad.items():
        status, body = post(server, split_body(table))
        assert status == 400, (kind, body)
        assert re.search(message, body["message"], re.DOTALL), (kind, body["message"])


def test_spark_udf_scores_a_spark_dataframe(trained, blocks):
    shown = run([sys.executable, "-c", blocks[4]], trained)
    header = next(line for line in shown.splitlines() if "anomaly_score" in line)
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "row_id",
        "anomaly_score",
        "is_flagged",
        "l0",
    ]
    values = [line for line in shown.splitlines() if line.startswith("|")][1:]
    assert len(values) == 5
    assert all(line.strip("|").split("|")[-1].strip() == "24" for line in values)
