"""The layout of the project's tables: an id column, feature columns, a label.

Every table from ``validated_data`` on keeps the same layout: the id column
first, then the features, then the label column when there is one.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

DEFAULT_ID_COLUMN = "row_id"
SPLITS = ("train", "validation", "test")


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


def code_matrix(codes: pd.DataFrame, prefix: str) -> np.ndarray:
    """The code columns of a codes table (those named ``<prefix>NNN``)."""
    columns = [column for column in codes.columns if str(column).startswith(prefix)]
    return codes[columns].to_numpy(dtype=np.float32)


def as_arrow(chunk: pa.Table | pd.DataFrame) -> pa.Table:
    """A chunk of rows as an Arrow table; pandas DataFrames are converted."""
    if isinstance(chunk, pd.DataFrame):
        return pa.Table.from_pandas(chunk, preserve_index=False)
    return chunk
