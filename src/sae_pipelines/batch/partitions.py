"""Partitions read and written in chunks, exactly once, with atomic writes.

``IncomingPartitionsDataset`` lists the CSV and parquet files of a folder and
reads each lazily, in chunks. ``ExtractedPartitionsDataset`` writes one parquet
file per partition from an iterable of chunks: first to a temporary file, then
renamed into place, and only then recorded in its checkpoint. A run killed at
any point leaves complete outputs and a checkpoint that lists exactly them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from kedro.io import AbstractDataset, DatasetError

from sae_pipelines.tables import as_arrow

logger = logging.getLogger(__name__)

SUFFIXES = (".csv", ".parquet")
CHECKPOINT_FILE = "_checkpoint.json"


class CorruptPartitionError(DatasetError):
    """A partition file cannot be read as CSV or parquet."""


@dataclass(frozen=True)
class Partition:
    """One input file, read in chunks of ``chunk_rows`` rows."""

    name: str
    path: Path
    chunk_rows: int

    @property
    def rows(self) -> int | None:
        """Row count from parquet metadata; ``None`` for CSV (unknown until read)."""
        if self.path.suffix == ".parquet":
            with self._parquet() as parquet:
                return parquet.metadata.num_rows
        return None

    def chunks(self) -> Iterator[pa.Table]:
        """The partition's rows, ``chunk_rows`` at a time, as Arrow tables.

        Read lazily; batch extraction reads each next chunk on a thread
        (:func:`~sae_pipelines.inference.model.read_ahead`).
        """
        try:
            yield from self._read()
        except (
            OSError,
            pa.ArrowException,
            pd.errors.ParserError,
            UnicodeDecodeError,
        ) as error:
            msg = f"Partition '{self.name}' ({self.path}) cannot be read: {error}"
            raise CorruptPartitionError(msg) from error

    def _read(self) -> Iterator[pa.Table]:
        if self.path.suffix == ".parquet":
            yield from self._read_parquet()
        else:
            for frame in pd.read_csv(self.path, chunksize=self.chunk_rows):
                yield as_arrow(frame)

    def _read_parquet(self) -> Iterator[pa.Table]:
        """The row groups, a run of at least ``chunk_rows`` rows per file mapping.

        The file is memory-mapped, so its pages come from the page cache without
        a copy into fresh memory. A mapping keeps the pages it touched, and one
        reader over the whole file kept every row group it had read, so each run
        gets its own, closed before the next: memory holds about one run.
        """
        with self._parquet() as parquet:
            metadata = parquet.metadata
        for row_groups in _runs_of_rows(metadata, self.chunk_rows):
            with self._parquet(metadata) as parquet:
                for batch in parquet.iter_batches(
                    batch_size=self.chunk_rows, row_groups=row_groups
                ):
                    yield pa.Table.from_batches([batch])

    def _parquet(self, metadata: pq.FileMetaData | None = None) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.path, metadata=metadata, memory_map=True)
        except (OSError, pa.ArrowException) as error:
            msg = f"Partition '{self.name}' ({self.path}) is not a readable parquet file: {error}"
            raise CorruptPartitionError(msg) from error


def _runs_of_rows(metadata: pq.FileMetaData, rows: int) -> Iterator[list[int]]:
    """Consecutive row groups, gathered until each run holds at least ``rows`` rows."""
    run: list[int] = []
    held = 0
    for group in range(metadata.num_row_groups):
        run.append(group)
        held += metadata.row_group(group).num_rows
        if held >= rows:
            yield run
            run, held = [], 0
    if run:
        yield run


class IncomingPartitionsDataset(AbstractDataset[None, dict[str, Partition]]):
    """The CSV and parquet files of a folder, by name (file name without suffix)."""

    def __init__(
        self, path: str, chunk_rows: int = 25_000, metadata: dict | None = None
    ):
        self._path = Path(path)
        self._chunk_rows = chunk_rows
        self.metadata = metadata

    def load(self) -> dict[str, Partition]:
        """List the partitions, sorted by name; nothing is read yet.

        Raises:
            DatasetError: Two files share a name (``a.csv`` and ``a.parquet``).
        """
        if not self._path.is_dir():
            return {}
        partitions: dict[str, Partition] = {}
        for path in sorted(self._path.iterdir()):
            if path.suffix not in SUFFIXES or not path.is_file():
                continue
            if path.stem in partitions:
                msg = f"Two incoming files are named '{path.stem}': {partitions[path.stem].path.name} and {path.name}"
                raise DatasetError(msg)
            partitions[path.stem] = Partition(path.stem, path, self._chunk_rows)
        return partitions

    def save(self, data: None) -> None:
        """Incoming data is written by whoever delivers it, not by the pipeline."""
        msg = "IncomingPartitionsDataset is read-only"
        raise DatasetError(msg)

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "chunk_rows": self._chunk_rows}


class ExtractedPartitionsDataset(AbstractDataset[dict[str, Any], dict[str, dict]]):
    """One parquet file per partition, and a checkpoint of those fully written.

    ``save`` takes ``{name: chunks}``, ``chunks`` a (lazy) iterable of the Arrow
    tables (or DataFrames) of batch extraction, with an ``l0`` column and, when
    anomalies are scored, ``is_flagged``. The files are zstd-compressed without
    dictionaries: smaller than pyarrow's default (snappy with dictionaries) on
    sparse codes, and written faster.
    Partitions are written in the order given. ``load`` returns the checkpoint:
    ``{name: {"rows", "file", "anomaly_rate", "mean_l0", "sequence",
    "written_at"}}``.
    """

    def __init__(self, path: str, metadata: dict | None = None):
        self._path = Path(path)
        self.metadata = metadata

    @property
    def folder(self) -> Path:
        """The folder of the output files and the checkpoint."""
        return self._path

    @property
    def checkpoint_path(self) -> Path:
        """Where the record of fully written partitions lives."""
        return self._path / CHECKPOINT_FILE

    def load(self) -> dict[str, dict]:
        """The checkpoint: every partition written so far."""
        if not self.checkpoint_path.exists():
            return {}
        return json.loads(self.checkpoint_path.read_text())

    def save(self, data: dict[str, Any]) -> None:
        """Write each partition atomically, then record it in the checkpoint.

        Temporary files left by a killed run are removed first; batch
        extraction holds a lock, so no other writer can own them.
        """
        self._path.mkdir(parents=True, exist_ok=True)
        for leftover in self._path.glob(".*.tmp"):
            logger.info("Removing %s, left by an interrupted run", leftover.name)
            leftover.unlink()
        for name, chunks in data.items():
            summary = self._write(name, chunks)
            self._record(name, summary)

    def _write(
        self, name: str, chunks: Iterable[pa.Table | pd.DataFrame]
    ) -> dict[str, Any]:
        final = self._path / f"{name}.parquet"
        temporary = self._path / f".{name}.parquet.{os.getpid()}.tmp"
        rows, active, flagged = 0, 0, 0
        writer: pq.ParquetWriter | None = None
        # Each chunk is written on a thread while the next one is computed;
        # Arrow's writer releases the GIL. One write at a time keeps the order.
        writing, written = ThreadPoolExecutor(max_workers=1), None
        try:
            for chunk in chunks:
                table = as_arrow(chunk)
                if writer is None:
                    writer = pq.ParquetWriter(
                        temporary,
                        table.schema,
                        compression="zstd",
                        compression_level=1,
                        use_dictionary=False,
                    )
                if written is not None:
                    written.result()
                written = writing.submit(writer.write_table, table)
                rows += table.num_rows
                scored = "is_flagged" in table.column_names
                if scored:
                    flagged += pc.sum(table["is_flagged"]).as_py() or 0
                active += pc.sum(table["l0"]).as_py() or 0
                logger.info("Partition '%s': %d rows encoded", name, rows)
            if writer is None:
                msg = f"Partition '{name}' has no rows"
                raise DatasetError(msg)
            written.result()
            writer.close()
            writer = None
            _fsync(temporary)
            os.replace(temporary, final)
        finally:
            writing.shutdown()  # lets a write under way finish first
            if writer is not None:
                writer.close()
            temporary.unlink(missing_ok=True)
        return {
            "rows": rows,
            "file": final.name,
            "anomaly_rate": flagged / rows if scored else None,
            "mean_l0": active / rows,
        }

    def _record(self, name: str, summary: dict[str, Any]) -> None:
        checkpoint = self.load()
        checkpoint[name] = {
            **summary,
            "sequence": len(checkpoint),
            "written_at": datetime.now(UTC).isoformat(),
        }
        temporary = self._path / f".{CHECKPOINT_FILE}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(checkpoint, indent=2))
        _fsync(temporary)
        os.replace(temporary, self.checkpoint_path)

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}


def _fsync(path: Path) -> None:
    with path.open("rb") as file:
        os.fsync(file.fileno())
