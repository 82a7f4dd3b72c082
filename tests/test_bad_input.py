"""Bad input through the `kedro` CLI, as a user meets it.

Each case runs `kedro run` (or `kedro reproduce`) in one trained project copy,
with output not a terminal. It must exit non-zero within 40 lines of output,
end with one line that names the file, column, partition, parameter or version
at fault, show no traceback, and leave everything as it was: no file written,
no model version registered, no alias moved, no finished MLflow run.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from filelock import FileLock

from tests.project_runs import PROJECT_ROOT, copy_project, digits

pytestmark = pytest.mark.slow

MAX_LINES = 40
BATCH = ("--pipelines", "batch_extraction")
OUTPUT = "data/07_model_output/batch"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A project copy after one short run: registered version 1 is `production`."""
    root = copy_project(tmp_path_factory.mktemp("bad_input") / "project")
    store = f"sqlite:///{root.parent / 'mlflow.db'}"
    result = kedro(root, store, "run", "--params", "training.epochs=15")
    assert result.returncode == 0, result.stdout[-3000:]
    (root / OUTPUT).mkdir(parents=True)
    return root, store


def kedro(
    root: Path, store: str, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``kedro ARGS`` as a user runs it: stdout and stderr as one stream, no terminal."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"COLUMNS", "SAE_PIPELINES_TRACEBACK"}
    }
    return subprocess.run(
        [sys.executable, "-m", "kedro", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=600,
        check=False,
        env=environment | {"MLFLOW_TRACKING_URI": store} | (extra_env or {}),
    )


def raw_table() -> pd.DataFrame:
    return pd.read_csv(PROJECT_ROOT / "data/01_raw/digits.csv")


def with_raw_data(
    folder: Path, table: pd.DataFrame | None, name: str = "raw.csv", **to_csv: Any
) -> dict:
    """Catalog entries reading ``table`` (``None``: a file that does not exist).

    ``to_csv`` are more arguments of ``DataFrame.to_csv``, e.g. ``sep``.
    """
    path = folder / name
    if table is not None:
        table.to_csv(path, index=False, **to_csv)
    return {"raw_data": {"type": "pandas.CSVDataset", "filepath": str(path)}}


def with_partition(folder: Path, name: str, content: pd.DataFrame | bytes) -> dict:
    """Catalog entries reading one incoming partition, ``name``, from its own folder."""
    incoming = folder / "incoming"
    incoming.mkdir()
    if isinstance(content, bytes):
        (incoming / name).write_bytes(content)
    elif name.endswith(".csv"):
        content.to_csv(incoming / name, index=False)
    else:
        content.to_parquet(incoming / name, index=False)
    return {
        "incoming_partitions": {
            "type": "sae_pipelines.batch.partitions.IncomingPartitionsDataset",
            "path": str(incoming),
        }
    }


def csv_beside_parquet(folder: Path) -> dict:
    """Partition 'first' delivered twice: as CSV and as parquet."""
    catalog = with_partition(folder, "first.csv", digits(5))
    digits(5).to_parquet(folder / "incoming" / "first.parquet", index=False)
    return catalog


def with_checkpoint(folder: Path, checkpoint: str) -> dict:
    """Catalog entries of a batch output folder of its own, with this checkpoint."""
    output = folder / "output"
    output.mkdir()
    (output / "_checkpoint.json").write_text(checkpoint)
    dataset = {
        "type": "sae_pipelines.batch.partitions.ExtractedPartitionsDataset",
        "path": str(output),
    }
    return {"extraction_checkpoint": dataset, "extracted_partitions": dataset}


def redelivered(folder: Path) -> dict:
    """Partition 'd9' encoded before from another file, and delivered again."""
    record = {
        "rows": 5,
        "file": "d9.parquet",
        "sequence": 0,
        "input_bytes": 7,
        "input_mtime_ns": 0,
        "input_sha256": "0" * 64,
    }
    catalog = with_partition(folder, "d9.csv", digits(5))
    return catalog | with_checkpoint(folder, json.dumps({"d9": record}))


def nan_pixel(folder: Path) -> dict:
    table = raw_table()
    table.loc[5, "pixel_3_3"] = np.nan
    return with_raw_data(folder, table)


def huge_pixel(folder: Path) -> dict:
    table = raw_table().astype({"pixel_4_4": float})
    table.loc[[5, 9], "pixel_4_4"] = [1e308, -1e308]
    return with_raw_data(folder, table)


def latin1_header(folder: Path) -> dict:
    table = raw_table().rename(columns={"pixel_0_0": "pixél_0_0"})
    return with_raw_data(folder, table, "latin1.csv", encoding="latin-1")


def semicolons(folder: Path) -> dict:
    return with_raw_data(folder, raw_table(), "semicolons.csv", sep=";")


def repeated_column(folder: Path) -> dict:
    return with_raw_data(folder, raw_table().rename(columns={"pixel_0_2": "pixel_0_1"}))


def text_pixel(folder: Path) -> dict:
    table = raw_table()
    table["pixel_2_2"] = table["pixel_2_2"].astype(str).radd("p")
    return with_raw_data(folder, table)


def fractional_pixel() -> pd.DataFrame:
    table = digits(5).astype({"pixel_0_5": float})
    table.loc[2, "pixel_0_5"] = 3.5
    return table


def nan_partition() -> pd.DataFrame:
    table = digits(5)
    table.loc[2, "pixel_0_4"] = np.nan
    return table


# Case id → (kedro arguments, catalog entries from a folder of its own, the
# words the last line must hold).
CASES = {
    "raw NaN": (("run",), nan_pixel, ["NaN or infinite", "'pixel_3_3': 1"]),
    "raw beyond float32": (
        ("run",),
        huge_pixel,
        ["beyond float32's range", "'pixel_4_4': 2"],
    ),
    "raw text": (("run",), text_pixel, ["non-numeric", "pixel_2_2"]),
    "raw repeated column": (
        ("run",),
        repeated_column,
        ["[pixel_0_1] more than once"],
    ),
    "raw not UTF-8": (("run",), latin1_header, ["latin1.csv", "codec", "encoding"]),
    "raw semicolons": (("run",), semicolons, ["';'-delimited", 'sep: ";"']),
    "raw missing": (
        ("run",),
        lambda folder: with_raw_data(folder, None),
        ["No such file", "raw.csv"],
    ),
    "raw header only": (
        ("run",),
        lambda folder: with_raw_data(folder, raw_table().iloc[:0]),
        ["raw_data has 0 rows"],
    ),
    "raw 5 rows": (
        ("run", "--params", "split.stratify=false"),
        lambda folder: with_raw_data(folder, raw_table().head(5)),
        ["raw_data has 5 rows", "split.test_fraction"],
    ),
    "raw 5 rows stratified": (
        ("run",),
        lambda folder: with_raw_data(folder, raw_table().head(5)),
        ["raw_data has 5 rows", "split.stratify=false"],
    ),
    "parameter out of range": (
        ("run", "--params", "model.code_size=-1"),
        None,
        ["model.code_size"],
    ),
    "k beyond the code": (
        ("run", "--params", "model.sparsity.topk.k=100000"),
        None,
        ["model.sparsity.topk.k=100000", "134 code units"],
    ),
    "unknown label column": (
        ("run", "--params", "data.label_column=target"),
        None,
        ["data.label_column", "target"],
    ),
    "unknown model version": (
        ("run", *BATCH, "--params", "model_version=9"),
        lambda folder: with_partition(folder, "d1.csv", digits(5)),
        ["No version 9", "version 1 (production)"],
    ),
    "partition missing column": (
        ("run", *BATCH),
        lambda folder: with_partition(
            folder, "d2.csv", digits(5).drop(columns="pixel_0_3")
        ),
        ["Partition 'd2'", "pixel_0_3"],
    ),
    "partition NaN": (
        ("run", *BATCH),
        lambda folder: with_partition(folder, "d3.parquet", nan_partition()),
        ["Partition 'd3'", "pixel_0_4"],
    ),
    "partition fraction in integers": (
        ("run", *BATCH),
        lambda folder: with_partition(folder, "d5.csv", fractional_pixel()),
        ["Partition 'd5'", "fractional values in column 'pixel_0_5'", "row 3: 3.5"],
    ),
    "partition duplicate ids": (
        ("run", *BATCH),
        lambda folder: with_partition(
            folder, "d6.parquet", digits(100).assign(row_id=np.arange(100) % 50)
        ),
        ["Partition 'd6'", "duplicate ids in column 'row_id'", "50 in rows"],
    ),
    "partition not parquet": (
        ("run", *BATCH),
        lambda folder: with_partition(folder, "d4.parquet", b"PAR1 not parquet"),
        ["Partition 'd4'", "d4.parquet", "not a readable parquet file"],
    ),
    "partition as CSV and parquet": (
        ("run", *BATCH),
        csv_beside_parquet,
        ["'first'", "first.csv", "first.parquet"],
    ),
    "partition delivered again, changed": (
        ("run", *BATCH),
        redelivered,
        ["Partition 'd9'", "d9.csv", "new file name", "_checkpoint.json"],
    ),
    "damaged checkpoint": (
        ("run", *BATCH),
        lambda folder: (
            with_partition(folder, "d8.csv", digits(5))
            | with_checkpoint(folder, '{"d8": {"rows": 5, "fi')
        ),
        ["output/_checkpoint.json", "damaged", "kedro rebuild-checkpoint"],
    ),
    "unknown run to reproduce": (
        ("reproduce", "--run-id", "0123456789abcdef0123456789abcdef"),
        None,
        ["0123456789abcdef0123456789abcdef"],
    ),
}


def state(root: Path, store: str) -> tuple:
    """Files under data/, model versions and aliases, and finished runs."""
    files = {
        str(path.relative_to(root)): path.stat().st_mtime_ns
        for path in (root / "data").rglob("*")
        if path.is_file() and path.name != ".lock"
    }
    client = mlflow.MlflowClient(tracking_uri=store)
    versions = sorted(
        v.version for v in client.search_model_versions("name = 'sae_pipelines'")
    )
    aliases = client.get_registered_model("sae_pipelines").aliases
    finished = mlflow.search_runs(
        search_all_experiments=True,
        filter_string="attributes.status = 'FINISHED'",
        output_format="list",
    )
    return files, versions, aliases, len(finished)


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_ends_with_one_line_naming_it_and_changes_nothing(
    trained, case, tmp_path, monkeypatch
):
    root, store = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow.set_tracking_uri(store)
    args, catalog, words = CASES[case]
    env_args: tuple[str, ...] = ()
    if catalog is not None:
        env = root / "conf" / tmp_path.name
        env.mkdir()
        (env / "catalog.yml").write_text(yaml.safe_dump(catalog(tmp_path)))
        env_args = ("--env", tmp_path.name)
    before = state(root, store)

    result = kedro(root, store, *args, *env_args)

    lines = result.stdout.rstrip().splitlines()
    assert result.returncode != 0, result.stdout[-3000:]
    assert "Traceback" not in result.stdout, result.stdout[-3000:]
    assert len(lines) <= MAX_LINES, result.stdout
    for word in words:
        assert word in lines[-1], result.stdout[-3000:]
    assert state(root, store) == before


def test_a_run_refused_by_the_lock_leaves_no_mlflow_run(trained, monkeypatch):
    root, store = trained
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    mlflow.set_tracking_uri(store)
    runs_before = len(mlflow.search_runs(search_all_experiments=True))
    with FileLock(root / OUTPUT / ".lock"):
        result = kedro(root, store, "run", *BATCH)
    assert result.returncode != 0
    last = result.stdout.rstrip().splitlines()[-1]
    assert "Another batch extraction is running" in last and ".lock" in last
    assert len(mlflow.search_runs(search_all_experiments=True)) == runs_before


def test_the_traceback_of_bad_input_shows_when_asked(trained):
    root, store = trained
    result = kedro(
        root,
        store,
        "run",
        "--params",
        "model.code_size=-1",
        extra_env={"SAE_PIPELINES_TRACEBACK": "1"},
    )
    assert result.returncode != 0
    assert "Traceback" in result.stdout and "model.code_size" in result.stdout
