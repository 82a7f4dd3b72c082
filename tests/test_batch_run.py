"""Batch extraction on a trained project copy: incremental, exactly once, restartable."""

import json
import os
import signal
import subprocess
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sae_pipelines.batch.partitions import IncomingPartitionsDataset
from sae_pipelines.tracking.registry_datasets import RegisteredModelDataset
from tests.project_runs import (
    assert_batch_run_tracked,
    code_columns,
    digits,
    kedro_cli,
    noise,
    start_kedro,
)

pytestmark = pytest.mark.slow

BATCH = ("run", "--pipelines", "batch_extraction")
OUTPUT = "data/07_model_output/batch"
INCOMING = "data/01_raw/incoming"


def drop(project: Path, name: str, table: pd.DataFrame) -> None:
    """Deliver a partition as CSV or parquet (by the name's suffix)."""
    path = project / "data/01_raw/incoming" / name
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)


def outputs(project: Path) -> dict[str, int]:
    """Output file name → modification time (ns)."""
    return {p.name: p.stat().st_mtime_ns for p in (project / OUTPUT).glob("*.parquet")}


def checkpoint(project: Path) -> dict:
    return json.loads((project / OUTPUT / "_checkpoint.json").read_text())


def run_batch(project: Path, *args: str) -> subprocess.CompletedProcess:
    result = kedro_cli(project, *BATCH, *args)
    return result


def test_new_partitions_are_encoded_once_and_bad_input_changes_nothing(trained):
    nothing = run_batch(trained)
    assert nothing.returncode == 0, nothing.stderr[-3000:]
    assert "No incoming partitions: nothing to do" in nothing.stdout + nothing.stderr

    for index, name in enumerate(["d1.csv", "d2.parquet", "d3.csv"]):
        drop(trained, name, digits(100 + index, start=100 * index))
    # Deliveries without rows: a header alone, and a file of no bytes.
    drop(trained, "d0_header.csv", digits(0))
    (trained / "data/01_raw/incoming/d0_blank.csv").write_bytes(b"")
    first = run_batch(trained)
    assert first.returncode == 0, first.stderr[-3000:]
    assert noise(first) == []
    assert set(outputs(trained)) == {"d1.parquet", "d2.parquet", "d3.parquet"}
    for name in ("d0_blank", "d0_header"):
        assert f"Partition '{name}' has no rows: skipped" in first.stdout + first.stderr
        record = checkpoint(trained)[name]
        assert {key: record[key] for key in ("rows", "file", "sequence")} == {
            "rows": 0,
            "file": None,
            "sequence": ["d0_blank", "d0_header"].index(name),
        }
        assert record["anomaly_rate"] is record["mean_l0"] is None
        assert (
            record["input_bytes"] == (trained / INCOMING / f"{name}.csv").stat().st_size
        )
    before = outputs(trained)

    # The same file delivered again (a new mtime) is nothing to do.
    again = trained / INCOMING / "d1.csv"
    again.write_bytes(again.read_bytes())
    unchanged = run_batch(trained)
    assert unchanged.returncode == 0, unchanged.stderr[-3000:]
    assert "processed before: nothing to do" in unchanged.stdout + unchanged.stderr
    assert outputs(trained) == before

    drop(trained, "d4.parquet", digits(50, start=900))
    drop(trained, "d5.csv", digits(60, start=950))
    second = run_batch(trained)
    assert second.returncode == 0, second.stderr[-3000:]
    after = outputs(trained)
    assert len(after) == 5
    assert {name: after[name] for name in before} == before  # not rewritten
    rows = {n: len(pd.read_parquet(trained / OUTPUT / n)) for n in after}
    assert rows == {
        "d1.parquet": 100,
        "d2.parquet": 101,
        "d3.parquet": 102,
        "d4.parquet": 50,
        "d5.parquet": 60,
    }
    table = pd.read_parquet(trained / OUTPUT / "d4.parquet")
    assert table.columns[0] == "row_id" and "code_000" in table
    assert {"anomaly_score", "is_flagged", "l0"} <= set(table.columns)
    assert (table["l0"] == 24).all()

    assert_batch_run_tracked(2, 110, [(5, 50.0), (6, 60.0)])

    # Or a model pinned by its Kedro version, from the project's own files.
    [version] = [p.name for p in (trained / "data/06_models/inference_model").iterdir()]
    drop(trained, "d7.csv", digits(20))
    pinned = run_batch(
        trained, "--env", "pinned", "--load-versions", f"serving_model:{version}"
    )
    assert pinned.returncode == 0, pinned.stderr[-3000:]
    assert f"Encoding with Kedro version {version}" in pinned.stdout + pinned.stderr
    pinned_output = pd.read_parquet(trained / OUTPUT / "d7.parquet")
    registered_output = mlflow.pyfunc.load_model(
        "models:/sae_pipelines@production"
    ).predict(digits(20))
    pd.testing.assert_frame_equal(pinned_output, registered_output, atol=1e-5)
    assert len(pd.read_parquet(trained / OUTPUT / "d7.parquet")) == 20


def test_a_killed_run_resumes_with_exactly_the_missing_partitions(trained):
    conf = trained / "conf/local/catalog.yml"
    conf.write_text(
        "incoming_partitions:\n"
        "  type: sae_pipelines.batch.partitions.IncomingPartitionsDataset\n"
        "  path: data/01_raw/incoming\n"
        "  chunk_rows: 2000\n"
    )
    drop(trained, "a.parquet", digits(4000))
    drop(trained, "b.parquet", digits(400_000))
    child = start_kedro(trained, *BATCH)
    for line in child.stdout:
        # A tenth of the 404 000 rows: a is committed, b is being encoded.
        if "Batch extraction: " in line and "(10%)" in line:
            os.killpg(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert set(outputs(trained)) == {"a.parquet"}
    assert list(checkpoint(trained)) == ["a"]
    a_written = outputs(trained)["a.parquet"]

    rerun = run_batch(trained)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert outputs(trained)["a.parquet"] == a_written
    assert list(checkpoint(trained)) == ["a", "b"]
    assert not list((trained / OUTPUT).glob(".*.tmp"))

    # The resumed partition equals an uninterrupted encoding of it.
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    model = RegisteredModelDataset("sae_pipelines").load()
    partition = IncomingPartitionsDataset(str(trained / "data/01_raw/incoming"), 50_000)
    names = model.code_columns
    expected = pa.concat_tables(
        model.score_chunks(partition.load()["b"].chunks())
    ).to_pandas()
    written = pd.read_parquet(trained / OUTPUT / "b.parquet")
    assert len(written) == 400_000
    assert code_columns(written) == names
    np.testing.assert_allclose(written[names], expected[names], atol=1e-5)
