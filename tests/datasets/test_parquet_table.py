import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from kedro.io.core import Version

from sae_pipelines.datasets import parquet_table
from sae_pipelines.datasets.parquet_table import ParquetTable, ParquetTableDataset
from sae_pipelines.inference import tables
from sae_pipelines.inference.tables import FrameTable, read_columns


@pytest.fixture
def small_parts(monkeypatch):
    """Parts of 3 rows, so that a 10-row table takes four."""
    monkeypatch.setattr(tables, "CHUNK_ROWS", 3)
    monkeypatch.setattr(parquet_table, "CHUNK_ROWS", 3)


def frame(rows=10):
    return pd.DataFrame(
        {"row_id": np.arange(rows), "code_000": np.arange(rows, dtype=np.float32) / 2}
    )


@pytest.mark.parametrize("root", ["local", "memory://codes"])
def test_a_table_saved_in_parts_loads_whole_and_by_position(
    tmp_path, root, small_parts
):
    folder = tmp_path if root == "local" else root
    dataset = ParquetTableDataset(filepath=f"{folder}/codes.parquet")
    dataset.save(FrameTable(frame()))
    loaded = dataset.load()
    assert isinstance(loaded, ParquetTable) and len(loaded) == 10
    assert loaded.columns == ["row_id", "code_000"]
    pd.testing.assert_frame_equal(read_columns(loaded, loaded.columns), frame())
    pd.testing.assert_frame_equal(loaded.to_pandas(), frame())
    assert loaded.to_pandas(["row_id"]).columns.tolist() == ["row_id"]
    taken = loaded.take(np.array([0, 4, 9]), ["code_000"])
    assert taken["code_000"].tolist() == [0.0, 2.0, 4.5]
    assert [len(part) for part in loaded.chunks(["row_id"])] == [3, 3, 3, 1]


def test_each_part_is_a_row_group_so_a_read_skips_the_others(tmp_path, small_parts):
    path = tmp_path / "codes.parquet"
    ParquetTableDataset(filepath=str(path)).save(frame())
    assert pq.ParquetFile(path).num_row_groups == 4


def test_versions_are_kept_apart(tmp_path):
    path = str(tmp_path / "codes.parquet")
    ParquetTableDataset(filepath=path, version=Version(None, "v1")).save(frame(2))
    ParquetTableDataset(filepath=path, version=Version(None, "v2")).save(frame(5))
    assert (
        len(ParquetTableDataset(filepath=path, version=Version(None, None)).load()) == 5
    )
    assert (
        len(ParquetTableDataset(filepath=path, version=Version("v1", None)).load()) == 2
    )


def test_an_empty_table_keeps_its_columns(tmp_path):
    dataset = ParquetTableDataset(filepath=str(tmp_path / "codes.parquet"))
    dataset.save(frame(0))
    assert dataset.load().columns == ["row_id", "code_000"]
    assert len(dataset.load().take(np.array([], dtype=int))) == 0
