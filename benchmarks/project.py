"""A throwaway copy of the project for a ``kedro run``, and the project's parameters."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractVersionedDataset, Version
from omegaconf import OmegaConf

from sae_pipelines.settings import CONFIG_LOADER_ARGS, CONFIG_LOADER_CLASS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RAW_DATA = "data/01_raw/raw_data.csv"


def copy_project(destination: Path, raw_data: pd.DataFrame | None = None) -> Path:
    """Copy what ``kedro run`` needs (the package itself is installed).

    That is pyproject.toml, conf/base, conf/pinned and conf/logging.yml, the
    notebooks, empty data folders and the raw digits. Benchmarks and tests run
    on such copies, so the repository's data/ and mlflow.db are never touched.

    Args:
        destination: The copy's root, created here.
        raw_data: The table to run on instead of the digits: written to
            data/01_raw/raw_data.csv, and ``raw_data`` pointed at it in the
            copy's conf/local/catalog.yml.

    Returns:
        ``destination``.
    """
    destination.mkdir(parents=True)
    (destination / "src").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT_ROOT / name, destination / name)
    for env in ("base", "pinned"):
        shutil.copytree(PROJECT_ROOT / "conf" / env, destination / "conf" / env)
    shutil.copy(PROJECT_ROOT / "conf/logging.yml", destination / "conf/logging.yml")
    shutil.copytree(PROJECT_ROOT / "notebooks", destination / "notebooks")
    (destination / "conf/local").mkdir()
    for layer in sorted((PROJECT_ROOT / "data").iterdir()):
        (destination / "data" / layer.name).mkdir(parents=True)
    if raw_data is None:
        shutil.copy(
            PROJECT_ROOT / "data/01_raw/digits.csv", destination / "data/01_raw"
        )
    else:
        raw_data.to_csv(destination / RAW_DATA, index=False)
        (destination / "conf/local/catalog.yml").write_text(
            f"raw_data:\n  type: pandas.CSVDataset\n  filepath: {RAW_DATA}\n"
        )
    return destination


def project_parameters(root: Path = PROJECT_ROOT, params: str = "") -> dict[str, Any]:
    """The parameters of ``root``'s conf/base as Kedro passes them to the nodes.

    They come from the project's own config loader (globals resolved, the
    frontier's and the repeats' points added). conf/local is left out, so a
    developer's own settings change no result.

    Args:
        root: The project's root folder.
        params: More parameters, as ``kedro run --params`` takes them
            (``"a.b=1,c=2"``; no commas inside a value).
    """
    loader = CONFIG_LOADER_CLASS(
        conf_source=str(root / "conf"),
        runtime_params=runtime_params(params),
        **{**CONFIG_LOADER_ARGS, "default_run_env": "base"},
    )
    return loader["parameters"]


def load_newest(dataset_type: type[AbstractVersionedDataset], path: Path) -> Any:
    """The newest version of the versioned file ``path``, loaded as Kedro does.

    Raises:
        DatasetError: No version of ``path`` has been saved.
    """
    return dataset_type(filepath=str(path), version=Version(None, None)).load()


def runtime_params(params: str) -> dict[str, Any]:
    """``kedro run --params`` text, ``"a.b=1,c=2"``, as nested parameters."""
    items = [item.strip() for item in params.split(",") if item.strip()]
    return OmegaConf.to_container(OmegaConf.from_dotlist(items))


def measured_model_sizes(width: int) -> list[str]:
    """``--params`` entries for the model sizes the extraction benchmarks were run at.

    Those were the defaults of the time, a code as wide as the input with
    ``k = ⌈√width⌉``; kept so that a rerun compares with the published results.
    """
    return [
        f"model.code_size={width}",
        f"model.sparsity.topk.k={math.isqrt(width - 1) + 1}",
    ]


def write_partition(path: Path, table: pd.DataFrame, rows: int) -> None:
    """``table``'s rows repeated to ``rows``, as parquet, 100 000 rows at a time."""
    writer = None
    for start in range(0, rows, 100_000):
        index = np.arange(start, min(rows, start + 100_000)) % len(table)
        chunk = pa.Table.from_pandas(table.iloc[index], preserve_index=False)
        writer = writer or pq.ParquetWriter(path, chunk.schema)
        writer.write_table(chunk)
    writer.close()
