"""The executors' reader: row chunks in file order, checked as Spark's reader was."""

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sae_pipelines.batch.output import CorruptPartitionError
from sae_pipelines.batch.reader import read_chunks
from sae_pipelines.inference import InvalidInputError

FEATURES = ["f0", "f1", "f2"]
ID = "row_id"


def rows(count, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(count, 3)), columns=FEATURES)


def read(url, chunk_rows=40, storage_options=None):
    return list(
        read_chunks(
            str(url),
            storage_options or {},
            label="Partition 'p'",
            features=FEATURES,
            id_column=ID,
            chunk_rows=chunk_rows,
        )
    )


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_rows_come_in_chunks_in_file_order(tmp_path, suffix):
    frame = rows(250).assign(**{ID: np.arange(250)[::-1]})
    path = tmp_path / f"p{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False, row_group_size=70)
    chunks = read(path)
    assert [chunk.num_rows for chunk in chunks] == [40] * 6 + [10]
    table = pa.concat_tables(chunks)
    assert table.column(ID).to_pylist() == list(range(249, -1, -1))
    assert table.schema.field(ID).type == pa.int64()
    np.testing.assert_allclose(table.to_pandas()[FEATURES], frame[FEATURES])


def test_a_file_url_and_an_fsspec_memory_url_read_alike(tmp_path):
    frame = rows(30)
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    with fsspec.open("memory://incoming/p.parquet", "wb") as file:
        frame.to_parquet(file, index=False)
    local = pa.concat_tables(read((tmp_path / "p.parquet").as_uri()))
    remote = pa.concat_tables(read("memory://incoming/p.parquet"))
    assert local.equals(remote)


def test_csv_ids_are_typed_as_pandas_types_them(tmp_path):
    path = tmp_path / "p.csv"
    rows(3).assign(**{ID: ["2024-01-01", "2024-01-02", "2024-01-03"]}).to_csv(
        path, index=False
    )
    [chunk] = read(path)
    assert chunk.schema.field(ID).type == pa.string()
    assert chunk.column(ID).to_pylist() == ["2024-01-01", "2024-01-02", "2024-01-03"]
    rows(3).assign(**{ID: [0.5, 1.5, 2.5]}).to_csv(path, index=False)
    assert read(path)[0].schema.field(ID).type == pa.float64()


@pytest.mark.parametrize("row", [3, 390_000])  # in the first block, or past it
def test_text_in_a_csv_feature_is_named(tmp_path, row):
    frame = rows(400_000).astype({"f1": str})
    frame.loc[row, "f1"] = "n/a"  # Spark's reader read it as text, not missing
    frame.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(
        InvalidInputError,
        match=r"^Partition 'p' has non-numeric values in columns \['f1'\]$",
    ):
        read(tmp_path / "p.csv", chunk_rows=25_000)


def test_an_empty_csv_field_is_missing(tmp_path):
    (tmp_path / "p.csv").write_text("f0,f1,f2\n1,,3\n")
    [chunk] = read(tmp_path / "p.csv")
    assert chunk.column("f1").null_count == 1


def test_wrong_columns_are_named_before_any_row(tmp_path):
    rows(5).rename(columns={"f2": "x"}).to_parquet(tmp_path / "p.parquet")
    with pytest.raises(
        InvalidInputError,
        match=r"^Partition 'p' does not match the model's features: "
        r"missing columns \['f2'\]; unexpected columns \['x'\]$",
    ):
        read(tmp_path / "p.parquet")


@pytest.mark.parametrize(
    ("name", "contents"),
    [("p.parquet", b""), ("p.csv", b""), ("p.csv", b"f0,f1,f2\n")],
)
def test_files_without_rows_give_no_chunks(tmp_path, name, contents):
    (tmp_path / name).write_bytes(contents)
    assert read(tmp_path / name) == []
    rows(0).to_parquet(tmp_path / "empty.parquet")
    assert read(tmp_path / "empty.parquet") == []


def test_unreadable_and_missing_files_are_named_in_one_line(tmp_path):
    (tmp_path / "p.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(CorruptPartitionError) as error:
        read(tmp_path / "p.parquet")
    message = str(error.value)
    assert message.startswith(
        f"Partition 'p' ({tmp_path / 'p.parquet'}) cannot be read: "
    )
    assert "\n" not in message
    with pytest.raises(
        CorruptPartitionError, match=r"\(.*missing\.csv\) cannot be read"
    ):
        read(tmp_path / "missing.csv")
