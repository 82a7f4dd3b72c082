"""The layout of the project's tables: an id column, feature columns, a label.

Every table from ``validated_data`` on keeps the same layout: the id column
first, then the features, then the label column when there is one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

DEFAULT_ID_COLUMN = "row_id"
SPLITS = ("train", "validation", "test")
# Rows per part when a table is read or made part by part: 128 float32 columns
# of this many rows take 128 MiB.
CHUNK_ROWS = 1 << 18


class DataParams(Protocol):
    """Which columns are the id and the label (the ``data`` parameters' fields)."""

    @property
    def id_column(self) -> str | None: ...

    @property
    def label_column(self) -> str | None: ...


def id_column(data_params: DataParams) -> str:
    """Name of the column that identifies a row."""
    return data_params.id_column or DEFAULT_ID_COLUMN


def feature_columns(table: pd.DataFrame, data_params: DataParams) -> list[str]:
    """All columns that are neither the id nor the label."""
    excluded = {id_column(data_params), data_params.label_column}
    return [column for column in table.columns if column not in excluded]


def feature_matrix(table: pd.DataFrame, data_params: DataParams) -> np.ndarray:
    """The features as a contiguous ``float32`` array, the model's input."""
    return np.ascontiguousarray(
        table[feature_columns(table, data_params)].to_numpy(dtype=np.float32)
    )


def carried_columns(table: pd.DataFrame, data_params: DataParams) -> pd.DataFrame:
    """The id and, when present, label columns that output tables carry over."""
    label = data_params.label_column
    columns = [id_column(data_params)] + ([label] if label else [])
    return table[columns].reset_index(drop=True)


def code_names(columns: Sequence[object], prefix: str) -> list[str]:
    """The code columns among ``columns`` (those named ``<prefix>NNN``)."""
    return [str(column) for column in columns if str(column).startswith(prefix)]


def code_matrix(codes: pd.DataFrame | pa.Table, prefix: str) -> np.ndarray:
    """The code columns of a codes table (those named ``<prefix>NNN``)."""
    if isinstance(codes, pa.Table):
        names = code_names(codes.column_names, prefix)
        return np.column_stack(
            [np.asarray(codes.column(name).to_numpy(), np.float32) for name in names]
        ).reshape(codes.num_rows, len(names))
    return codes[code_names(list(codes.columns), prefix)].to_numpy(dtype=np.float32)


def as_arrow(chunk: pa.Table | pd.DataFrame) -> pa.Table:
    """A chunk of rows as an Arrow table; pandas DataFrames are converted."""
    if isinstance(chunk, pd.DataFrame):
        return pa.Table.from_pandas(chunk, preserve_index=False)
    return chunk


class RowTable(Protocol):
    """A table read in parts, so that no step needs all its rows in memory.

    A parquet file (:class:`~sae_pipelines.datasets.parquet_table.ParquetTable`),
    rows made on demand (the codes of a split, encoded as they are read), or a
    DataFrame (:class:`FrameTable`).
    """

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        ...

    def __len__(self) -> int: ...

    def chunks(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """The rows in order, at most :data:`CHUNK_ROWS` at a time."""
        ...

    def take(
        self, positions: np.ndarray, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The rows at ``positions`` (0-based, ascending), as a DataFrame."""
        ...


@dataclass(frozen=True)
class FrameTable:
    """A DataFrame seen as a :class:`RowTable`."""

    frame: pd.DataFrame

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return [str(column) for column in self.frame.columns]

    def __len__(self) -> int:
        return len(self.frame)

    def chunks(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """The rows in order, at most :data:`CHUNK_ROWS` at a time."""
        frame = self.frame if columns is None else self.frame[list(columns)]
        for start in range(0, len(frame), CHUNK_ROWS):
            yield as_arrow(frame.iloc[start : start + CHUNK_ROWS])

    def take(
        self, positions: np.ndarray, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The rows at ``positions``, with a fresh 0-based index."""
        frame = self.frame if columns is None else self.frame[list(columns)]
        return frame.take(positions).reset_index(drop=True)


def row_table(table: pd.DataFrame | RowTable) -> RowTable:
    """``table`` as a :class:`RowTable`: DataFrames are wrapped."""
    return FrameTable(table) if isinstance(table, pd.DataFrame) else table


def read_columns(
    table: pd.DataFrame | RowTable, columns: Sequence[str]
) -> pd.DataFrame:
    """Only ``columns`` of every row, as a DataFrame."""
    parts = list(row_table(table).chunks(columns))
    if not parts:
        return pd.DataFrame(columns=list(columns))
    return pa.concat_tables(parts).to_pandas()
