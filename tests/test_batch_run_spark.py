"""Batch extraction on Spark, run as users run it: `kedro run`, a real cluster, a kill.

Each test works on a copy of one trained project; each Spark run is a `kedro
run` in a process of its own, configured by the project's spark.yml and a
conf environment of the test's.
"""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.project_runs import (
    assert_batch_run_tracked,
    code_columns,
    digits,
    kedro_cli,
    start_kedro,
)
from tests.spark_cluster import free_port, java_missing, standalone_cluster

pytest.importorskip("pyspark")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(java_missing(), reason="Spark needs Java 17+ on the PATH"),
]

SPARK = ("--params", "batch_extraction.engine=spark")
OUTPUT = "data/07_model_output/batch"


def deliver(project: Path) -> None:
    """Three partitions: parquet with ids, CSV without, and a larger parquet."""
    incoming = project / "data/01_raw/incoming"
    digits(300).assign(row_id=np.arange(1000, 1300)).to_parquet(
        incoming / "d1.parquet", index=False
    )
    digits(250, start=300).to_csv(incoming / "d2.csv", index=False)
    digits(20_000, start=700).to_parquet(incoming / "d3.parquet", index=False)


def environment(project: Path, name: str, spark: str = "", catalog: str = "") -> str:
    folder = project / "conf" / name
    folder.mkdir()
    if spark:
        (folder / "spark.yml").write_text(spark)
    if catalog:
        (folder / "catalog.yml").write_text(catalog)
    return name


def outputs(folder: Path) -> dict[str, int]:
    """Output file name → modification time (ns), hidden files left out."""
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("[!.]*.parquet")}


def checkpoint(folder: Path) -> dict:
    return json.loads((folder / "_checkpoint.json").read_text())


def assert_same_outputs(actual: Path, expected: Path) -> None:
    assert sorted(outputs(actual)) == sorted(outputs(expected))
    for name in outputs(expected):
        got, want = pd.read_parquet(actual / name), pd.read_parquet(expected / name)
        assert list(got.columns) == list(want.columns)
        assert (got.dtypes == want.dtypes).all()
        np.testing.assert_array_equal(got["row_id"], want["row_id"])
        codes = code_columns(want)
        np.testing.assert_allclose(got[codes], want[codes], rtol=0, atol=1e-5)
        np.testing.assert_allclose(
            got["anomaly_score"], want["anomaly_score"], rtol=0, atol=1e-5
        )
        np.testing.assert_array_equal(got["is_flagged"], want["is_flagged"])
        np.testing.assert_array_equal(got["l0"], want["l0"])


def test_a_standalone_cluster_writes_what_the_pandas_engine_writes(trained, tmp_path):
    deliver(trained)
    pandas_env = environment(
        trained,
        "pandas_engine",
        catalog=(
            "extraction_checkpoint: &out\n"
            "  type: sae_pipelines.batch.partitions.ExtractedPartitionsDataset\n"
            "  path: data/07_model_output/batch_pandas\n"
            "extracted_partitions: *out\n"
        ),
    )
    by_pandas = kedro_cli(
        trained, "run", "--pipelines", "batch_extraction", "--env", pandas_env
    )
    assert by_pandas.returncode == 0, by_pandas.stderr[-3000:]

    with standalone_cluster(tmp_path / "cluster") as cluster:
        cluster_env = environment(
            trained, "cluster", spark=f"spark.master: {cluster.url}\n"
        )
        by_spark = kedro_cli(
            trained,
            "run",
            "--pipelines",
            "batch_extraction",
            "--env",
            cluster_env,
            *SPARK,
        )
        assert by_spark.returncode == 0, by_spark.stderr[-3000:]
        [application] = cluster.status()["completedapps"]
    assert application["name"] == "sae_pipelines batch extraction"
    # The executors were processes of the worker, with logs of their own.
    assert list((tmp_path / "cluster/work" / application["id"]).glob("*/stderr"))

    assert_same_outputs(trained / OUTPUT, trained / "data/07_model_output/batch_pandas")
    assert list(checkpoint(trained / OUTPUT)) == ["d1", "d2", "d3"]
    assert pd.read_parquet(trained / OUTPUT / "d2.parquet")["row_id"].tolist() == list(
        range(250)
    )
    log = by_spark.stdout + by_spark.stderr
    assert f"Encoding 3 partitions on Spark ({cluster.url})" in log
    assert "resolves to a loopback address" not in log

    assert_batch_run_tracked(3, 20_550, [(0, 300.0), (1, 250.0), (2, 20_000.0)])


def test_an_unreachable_cluster_is_named_within_a_minute(trained):
    deliver(trained)
    master = f"spark://127.0.0.1:{free_port()}"
    env = environment(trained, "nowhere", spark=f"spark.master: {master}\n")
    started = time.monotonic()
    result = kedro_cli(
        trained, "run", "--pipelines", "batch_extraction", "--env", env, *SPARK
    )
    assert time.monotonic() - started < 60
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert f"Cannot reach the Spark master {master}" in last_line
    assert not (trained / OUTPUT).exists() or outputs(trained / OUTPUT) == {}


def test_a_killed_spark_run_resumes_with_exactly_the_missing_partitions(trained):
    incoming = trained / "data/01_raw/incoming"
    digits(500).to_parquet(incoming / "a.parquet", index=False)
    digits(600_000, start=500).to_parquet(incoming / "b.parquet", index=False)
    driver = start_kedro(trained, "run", "--pipelines", "batch_extraction", *SPARK)
    log = []
    reader = threading.Thread(target=lambda: log.extend(driver.stdout), daemon=True)
    reader.start()
    output = trained / OUTPUT
    # Kill once a is committed and an executor is writing b's staged file.
    _wait_until(
        lambda: (
            any("Partition 'a': 500 rows committed" in line for line in log)
            and any(p.stat().st_size > 0 for p in output.glob(".b.parquet.*.tmp"))
        ),
        "a committed and b half written",
        driver,
    )
    driver.send_signal(signal.SIGKILL)  # the driver alone; Spark follows it
    driver.wait(timeout=60)
    assert driver.returncode == -signal.SIGKILL
    _wait_for_group_to_exit(driver.pid)
    assert set(outputs(output)) == {"a.parquet"}  # no file the checkpoint lacks
    assert list(checkpoint(output)) == ["a"]
    a_written = outputs(output)["a.parquet"]

    rerun = kedro_cli(trained, "run", "--pipelines", "batch_extraction", *SPARK)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = rerun.stdout + rerun.stderr
    assert "1 new partitions to encode (1 done before): b" in log
    assert outputs(output)["a.parquet"] == a_written
    assert list(checkpoint(output)) == ["a", "b"]
    assert sorted(p.name for p in output.iterdir()) == [
        ".lock",
        "_checkpoint.json",
        "a.parquet",
        "b.parquet",
    ]

    # The resumed partition equals an uninterrupted encoding of it.
    model = mlflow.pyfunc.load_model("models:/sae_pipelines@production")
    expected = model.predict(digits(600_000, start=500))
    written = pd.read_parquet(output / "b.parquet")
    assert len(written) == 600_000
    np.testing.assert_array_equal(written["row_id"], expected["row_id"])
    assert list(written.columns) == list(expected.columns)
    codes = code_columns(expected)
    np.testing.assert_allclose(written[codes], expected[codes], rtol=0, atol=1e-5)


def _wait_until(condition, what: str, driver: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        assert driver.poll() is None, f"The run ended before {what}"
        assert time.monotonic() < deadline, f"Timed out waiting for {what}"
        time.sleep(0.05)


def _wait_for_group_to_exit(group: int, timeout: float = 60) -> None:
    """Wait for what the driver started (its JVM, the Python workers) to exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(group, signal.SIGKILL)
    msg = f"Processes of the killed driver still ran after {timeout} s"
    raise AssertionError(msg)
