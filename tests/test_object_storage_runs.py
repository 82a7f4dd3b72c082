"""Whole runs whose data lives on S3: a real S3 server (moto), `kedro` subprocesses.

The project copies read their credentials from ``conf/local/credentials.yml``
and their catalog entries from ``conf/local/catalog.yml``, as a user's project
would (see the how-to page on object storage).
"""

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from sae_pipelines.batch.lock import BatchLockedError, BatchStorageError, take_lock
from sae_pipelines.runtime.errors import InputError
from sae_pipelines.runtime.storage import Location
from sae_pipelines.tracking.provenance import DATASETS_ARTIFACT
from sae_pipelines.tracking.snapshots import SHA256_TAG
from tests.project_runs import (
    PROJECT_ROOT,
    code_columns,
    copy_project,
    digits,
    kedro_cli,
    serve_mlflow,
    start_kedro,
)
from tests.s3_server import S3Server, on_s3

pytestmark = pytest.mark.slow

BATCH = ("run", "--pipelines", "batch_extraction")
GIT = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
LEASE_TTL_S = 10  # renewed every third: it outlives a kill by 6.7 s or more


def write_catalog(project: Path, entries: dict) -> None:
    (project / "conf/local/catalog.yml").write_text(yaml.safe_dump(entries))


def base_catalog() -> dict:
    return yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def git(project: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=project, check=True, capture_output=True)


def test_a_run_on_s3_is_tracked_snapshotted_and_reproduced(s3, tmp_path):
    """Raw data and every versioned output on S3: run, then repeat by run id."""
    root = copy_project(tmp_path / "project")
    (root / ".gitignore").write_text((PROJECT_ROOT / ".gitignore").read_text())
    shutil.copytree(
        PROJECT_ROOT / "src/sae_pipelines",
        root / "src/sae_pipelines",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "project")
    raw = (root / "data/01_raw/digits.csv").read_bytes()
    s3.fs.pipe_file(f"{s3.bucket}/data/01_raw/digits.csv", raw)
    (root / "data/01_raw/digits.csv").unlink()  # only S3 holds it
    catalog = base_catalog()
    on_bucket = {
        name: on_s3(entry, s3)
        for name, entry in catalog.items()
        if name == "raw_data"
        or (entry.get("versioned") and "filepath" in (entry.get("dataset") or entry))
    }
    write_catalog(root, on_bucket)
    s3.write_credentials(root)

    (tmp_path / "server").mkdir()
    with serve_mlflow(tmp_path / "server") as server:
        env = os.environ | {"MLFLOW_TRACKING_URI": server}
        result = kedro_cli(root, "run", "--params", "training.epochs=15", env=env)
        assert result.returncode == 0, result.stderr[-3000:]

        mlflow.set_tracking_uri(server)
        [run] = mlflow.search_runs(
            experiment_names=["sae_pipelines"], output_format="list"
        )
        version = run.data.tags["kedro_save_version"]
        assert run.data.tags["raw_data_path"] == s3.url("data/01_raw/digits.csv")
        assert run.data.tags["raw_data_sha256"] == sha256(raw)
        validated_key = (
            "data/02_intermediate/validated_data.parquet/"
            f"{version}/validated_data.parquet"
        )
        keys = s3.keys("data")
        assert validated_key in keys
        assert f"data/06_models/sae_model.keras/{version}/sae_model.keras" in keys
        assert any(
            k.startswith(f"data/06_models/inference_model/{version}/") for k in keys
        )
        # Nothing versioned was written to the local disk.
        assert not list((root / "data").rglob(version))
        datasets = mlflow.artifacts.load_dict(
            f"runs:/{run.info.run_id}/{DATASETS_ARTIFACT}"
        )
        assert datasets["saved"]["validated_data"]["path"] == s3.url(validated_key)
        # Snapshotted by the SHA-256 of the S3 object, as a local file would be.
        validated = s3.fs.cat_file(f"{s3.bucket}/{validated_key}")
        [dataset_input] = run.inputs.dataset_inputs
        assert {t.key: t.value for t in dataset_input.tags}[SHA256_TAG] == sha256(
            validated
        )
        client = mlflow.MlflowClient()
        assert [v.version for v in client.search_model_versions()] == ["1"]

        # The validated data is lost from S3: the repeat restores it from
        # its snapshot, to its URL, then runs on it.
        s3.fs.rm(f"{s3.bucket}/data/02_intermediate", recursive=True)
        repeat = kedro_cli(root, "reproduce", "--run-id", run.info.run_id, env=env)
        assert repeat.returncode == 0, repeat.stdout[-3000:] + repeat.stderr[-3000:]
        assert "reproduced exactly" in repeat.stdout
        assert s3.fs.cat_file(f"{s3.bucket}/{validated_key}") == validated


@pytest.fixture
def batch_on_s3(trained, s3):
    """The trained project copy, its incoming and output folders on S3."""
    catalog = base_catalog()
    incoming = on_s3(catalog["incoming_partitions"], s3) | {"chunk_rows": 2000}
    output = on_s3(catalog["extraction_checkpoint"], s3) | {"lock_ttl_s": LEASE_TTL_S}
    write_catalog(
        trained,
        {
            "incoming_partitions": incoming,
            "extraction_checkpoint": output,
            "extracted_partitions": output,
        },
    )
    s3.write_credentials(trained)
    return trained


def deliver(s3: S3Server, name: str, table: pd.DataFrame) -> None:
    with s3.fs.open(f"{s3.bucket}/data/01_raw/incoming/{name}", "wb") as file:
        if name.endswith(".csv"):
            table.to_csv(file, index=False)
        else:
            table.to_parquet(file, index=False)


def outputs(s3: S3Server) -> dict[str, str]:
    """Each object under the batch output folder, with its ETag."""
    found = s3.fs.find(f"{s3.bucket}/data/07_model_output/batch", detail=True)
    return {path.rsplit("batch/", 1)[1]: info["ETag"] for path, info in found.items()}


def checkpoint(s3: S3Server) -> dict:
    path = f"{s3.bucket}/data/07_model_output/batch/_checkpoint.json"
    return yaml.safe_load(s3.fs.cat_file(path))


def read_output(s3: S3Server, name: str) -> pd.DataFrame:
    path = f"{s3.bucket}/data/07_model_output/batch/{name}.parquet"
    with s3.fs.open(path, "rb") as file:
        return pd.read_parquet(file)


def test_batch_extraction_on_s3_encodes_each_partition_exactly_once(batch_on_s3, s3):
    deliver(s3, "d1.csv", digits(100))
    deliver(s3, "d2.parquet", digits(101, start=100))
    first = kedro_cli(batch_on_s3, *BATCH)
    assert first.returncode == 0, first.stderr[-3000:]
    assert set(outputs(s3)) == {"_checkpoint.json", "d1.parquet", "d2.parquet"}
    assert list(checkpoint(s3)) == ["d1", "d2"]
    table = read_output(s3, "d2")
    assert len(table) == 101 and table.columns[0] == "row_id"
    assert code_columns(table) and (table["l0"] == 24).all()

    # Killed while encoding b: a is committed, b is not.
    deliver(s3, "a.parquet", digits(4000))
    deliver(s3, "b.parquet", digits(100_000))
    child = start_kedro(batch_on_s3, *BATCH)
    for line in child.stdout:
        # Logged by tenths of the 104 000 rows: a is committed, b is under way.
        if "Batch extraction: " in line and "1/2 partitions" in line:
            os.killpg(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=60)
    killed = time.monotonic()
    assert child.returncode == -signal.SIGKILL
    assert list(checkpoint(s3)) == ["d1", "d2", "a"]
    left = outputs(s3)
    assert {k for k in left if not k.startswith(".lock/")} == {
        "_checkpoint.json",
        "d1.parquet",
        "d2.parquet",
        "a.parquet",
    }
    assert [k for k in left if k.startswith(".lock/")]  # the killed run's lease

    # Its lease holds the folder until it expires, then the rerun finishes.
    folder = Location(s3.url("data/07_model_output/batch"), s3.credentials)
    with pytest.raises(BatchLockedError, match="Another batch extraction is running"):
        take_lock(folder, LEASE_TTL_S)
    time.sleep(max(0.0, LEASE_TTL_S + 1 - (time.monotonic() - killed)))
    rerun = kedro_cli(batch_on_s3, *BATCH)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = outputs(s3)
    assert set(after) == {
        "_checkpoint.json",
        "d1.parquet",
        "d2.parquet",
        "a.parquet",
        "b.parquet",
    }  # no staged, committing or lease object left
    assert {n: after[n] for n in ("d1.parquet", "a.parquet")} == {
        n: left[n] for n in ("d1.parquet", "a.parquet")
    }  # not written again
    assert list(checkpoint(s3)) == ["d1", "d2", "a", "b"]
    assert [checkpoint(s3)[n]["rows"] for n in ("a", "b")] == [4000, 100_000]
    assert len(read_output(s3, "b")) == 100_000


def test_an_unreachable_output_folder_is_named_in_one_line(s3):
    folder = Location(
        s3.url("batch").replace(s3.bucket, "no-such-bucket"), s3.credentials
    )
    with pytest.raises(BatchStorageError) as refused:
        take_lock(folder)
    message = str(refused.value)
    assert "s3://no-such-bucket/batch" in message and "credentials" in message
    assert "\n" not in message and isinstance(refused.value, InputError)


def test_the_spark_engine_reads_and_writes_partitions_on_s3(batch_on_s3, s3):
    deliver(s3, "d1.csv", digits(100))
    deliver(s3, "d2.parquet", digits(101, start=100))
    run = kedro_cli(batch_on_s3, *BATCH, "--params", "batch_extraction.engine=spark")
    assert run.returncode == 0, run.stderr[-3000:]
    # The executors read by URL and staged on S3; the driver committed each once.
    assert set(outputs(s3)) == {"_checkpoint.json", "d1.parquet", "d2.parquet"}
    assert [checkpoint(s3)[n]["rows"] for n in ("d1", "d2")] == [100, 101]
    table = read_output(s3, "d2")
    assert len(table) == 101 and table.columns[0] == "row_id"
    assert code_columns(table) and (table["l0"] == 24).all()
