"""A parquet table written and read part by part, on any fsspec filesystem."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from copy import deepcopy
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)

from sae_pipelines.inference.tables import CHUNK_ROWS, RowTable, row_table
from sae_pipelines.runtime.storage import Location, storage_options


@dataclass(frozen=True)
class ParquetTable:
    """A parquet file on any fsspec filesystem, read a row group at a time."""

    location: Location

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self._metadata().schema.to_arrow_schema().names)

    def __len__(self) -> int:
        return int(self._metadata().num_rows)

    def chunks(self, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
        """The rows in order, at most :data:`CHUNK_ROWS` at a time."""
        with self._open() as file:
            parquet = pq.ParquetFile(file)
            names = None if columns is None else list(columns)
            for batch in parquet.iter_batches(batch_size=CHUNK_ROWS, columns=names):
                yield pa.Table.from_batches([batch])

    def take(
        self, positions: np.ndarray, columns: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The rows at ``positions``: only the row groups that hold them are read."""
        names = None if columns is None else list(columns)
        parts = []
        with self._open() as file:
            parquet = pq.ParquetFile(file)
            start = 0
            for group in range(parquet.num_row_groups):
                end = start + parquet.metadata.row_group(group).num_rows
                low, high = np.searchsorted(positions, [start, end])
                if high > low:
                    rows = parquet.read_row_group(group, columns=names)
                    parts.append(rows.take(positions[low:high] - start))
                start = end
        if not parts:
            empty = self._metadata().schema.to_arrow_schema().empty_table()
            return (empty if names is None else empty.select(names)).to_pandas()
        return pa.concat_tables(parts).to_pandas()

    def to_pandas(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every row (of ``columns``, or all of them) as one DataFrame.

        For a table that fits in memory, e.g. in a notebook.
        """
        with self._open() as file:
            names = None if columns is None else list(columns)
            return pq.ParquetFile(file).read(columns=names).to_pandas()

    def _open(self) -> Any:
        return self.location.fs.open(self.location.path, "rb")

    def _metadata(self) -> pq.FileMetaData:
        with self._open() as file:
            return pq.ParquetFile(file).metadata


class ParquetTableDataset(
    AbstractVersionedDataset[pd.DataFrame | RowTable, ParquetTable]
):
    """A table too large to hold in memory, as one parquet file.

    ``save`` takes a DataFrame or a
    :class:`~sae_pipelines.inference.tables.RowTable` and writes its parts one
    at a time, a row group each; ``load`` gives a
    :class:`ParquetTable`, which reads only
    the columns and row groups a step asks for. Any reader of parquet (pandas,
    Spark, DuckDB) reads the file as it reads kedro-datasets' own.

    Example catalog entry::

        codes_train:
          type: sae_pipelines.datasets.parquet_table.ParquetTableDataset
          filepath: s3://bucket/04_feature/codes_train.parquet
          credentials: s3  # conf/local/credentials.yml
          versioned: true
    """

    def __init__(  # noqa: PLR0913 - Kedro passes the catalog entry's keys
        self,
        *,
        filepath: str,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Describe the file; nothing is read or written yet.

        Args:
            filepath: Path or URL of the parquet file (``s3://``, ``gs://`` …).
            version: The versions to load and save (``versioned: true``).
            credentials: The filesystem's credentials, e.g. ``key``/``secret``.
            fs_args: More arguments of the fsspec filesystem.
            metadata: Free-form information (kedro-viz's layer).
        """
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._storage_options = storage_options(deepcopy(credentials), fs_args)
        self._fs = fsspec.filesystem(protocol, **self._storage_options)
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def load(self) -> ParquetTable:
        """The file as a :class:`ParquetTable`; no row is read yet."""
        path = get_filepath_str(self._get_load_path(), self._protocol)
        return ParquetTable(Location(self._url(path), self._storage_options))

    def save(self, data: pd.DataFrame | RowTable) -> None:
        """Write the table part by part, each part a row group."""
        path = get_filepath_str(self._get_save_path(), self._protocol)
        table = row_table(data)
        self._fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
        with self._fs.open(path, "wb") as file:
            writer = None
            for part in table.chunks():
                writer = writer or pq.ParquetWriter(file, part.schema)
                writer.write_table(part)
            if writer is None:
                empty = pa.table({name: pa.array([]) for name in table.columns})
                pq.write_table(empty, file)
            else:
                writer.close()
        self._invalidate_cache()

    def _url(self, path: str) -> str:
        return path if self._protocol == "file" else f"{self._protocol}://{path}"

    def _exists(self) -> bool:
        try:
            path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return bool(self._fs.exists(path))

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "protocol": self._protocol,
            "version": self._version,
        }

    def _release(self) -> None:
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        path = get_filepath_str(self._filepath, self._protocol)
        self._fs.invalidate_cache(path)
