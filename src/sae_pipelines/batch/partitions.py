"""Partitions in and out of batch extraction, exactly once.

``IncomingPartitionsDataset`` lists the CSV and parquet files of a folder and
reads each lazily, in chunks. ``ExtractedPartitionsDataset`` commits one
parquet file per partition, staged whole by an engine
(:mod:`sae_pipelines.batch.output`), and keeps a checkpoint of those
committed. A run killed at any point leaves no output file that the checkpoint
does not list.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractDataset, DatasetError

from sae_pipelines.batch.output import (
    STAGED_SUFFIX,
    CorruptPartitionError,
    InputFile,
    PartitionOutputs,
    StagedPartition,
    committed_output,
    describe,
    file_sha256,
    final_path,
    fsync,
)
from sae_pipelines.inference.tables import as_arrow
from sae_pipelines.runtime.errors import InputError

logger = logging.getLogger(__name__)

SUFFIXES = (".csv", ".parquet")
CHECKPOINT_FILE = "_checkpoint.json"
# What the command that rebuilds a damaged checkpoint is called.
REBUILD_COMMAND = "kedro rebuild-checkpoint"
COMMITTING_SUFFIX = ".commit"
# How much of a CSV file is read to estimate its rows from its size.
SAMPLE_BYTES = 1 << 20


class DuplicatePartitionError(InputError, DatasetError):
    """Two incoming files share a name, so neither can be the partition."""


class DamagedCheckpointError(InputError, DatasetError):
    """The checkpoint is not readable JSON: rebuild it from the output files."""


class RedeliveredPartitionError(InputError, ValueError):
    """A partition encoded before is delivered again with other contents."""


@dataclass(frozen=True)
class Partition:
    """One input file, read in chunks of ``chunk_rows`` rows.

    A file of no bytes holds no rows, whatever its suffix.
    """

    name: str
    path: Path
    chunk_rows: int

    @property
    def is_blank(self) -> bool:
        """Whether the file has no bytes at all (not even a header)."""
        return self.path.stat().st_size == 0

    @property
    def rows(self) -> int | None:
        """Row count from parquet metadata, or ``None``: unknown until read.

        0 for a file of no bytes; ``None`` for CSV, and for a file that is not
        readable parquet (reading its rows fails, in its turn).
        """
        if self.is_blank:
            return 0
        if self.path.suffix != ".parquet":
            return None
        try:
            with self._parquet() as parquet:
                return parquet.metadata.num_rows
        except CorruptPartitionError:
            return None

    @property
    def estimated_rows(self) -> int | None:
        """:attr:`rows`, or for CSV an estimate, for the progress report.

        A CSV file's rows are estimated from its size and the bytes per row of
        its first :data:`SAMPLE_BYTES` (counted exactly when that is all of it).
        """
        if (rows := self.rows) is not None or self.path.suffix != ".csv":
            return rows
        return estimate_csv_rows(self.path, SAMPLE_BYTES)

    def change_since(self, record: Mapping[str, Any]) -> str | None:
        """How the file differs from the one a checkpoint ``record`` describes.

        Size and modification time unchanged: the same file, not read again.
        Otherwise the file is hashed and compared with the recorded SHA-256, so
        a file copied again unchanged (a new mtime) is still the same.
        Checkpoints written before inputs were recorded lack some of these
        fields: without ``input_sha256`` only the size is compared, and
        without ``input_bytes`` every file is taken as unchanged.

        Returns:
            ``None`` when it is the same file as far as the record tells;
            otherwise what differs, in words.
        """
        size = record.get("input_bytes")
        if size is None:
            return None
        stat = self.path.stat()
        if stat.st_size != size:
            return f"{stat.st_size} bytes now, {size} when encoded"
        digest = record.get("input_sha256")
        if stat.st_mtime_ns == record.get("input_mtime_ns") or digest is None:
            return None
        if file_sha256(self.path) == digest:
            return None
        return "same size, other contents (SHA-256)"

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
        if self.is_blank:
            return
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


def estimate_csv_rows(path: Path, sample_bytes: int) -> int | None:
    """About how many rows follow the header of a CSV file, from its first bytes.

    ``None`` when no whole row fits in ``sample_bytes``. Quoted line breaks
    count as rows: it is an estimate.
    """
    size = path.stat().st_size
    with path.open("rb") as file:
        head = file.read(sample_bytes)
    body = head[head.find(b"\n") + 1 :] if b"\n" in head else b""
    if len(head) == size:
        return body.count(b"\n") + (not body.endswith(b"\n") and bool(body))
    rows = body.count(b"\n")
    if not rows:
        return None
    bytes_per_row = (body.rfind(b"\n") + 1) / rows
    return round((size - (len(head) - len(body))) / bytes_per_row)


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


def refuse_redelivered(
    partitions: Mapping[str, Partition], checkpoint: Mapping[str, dict[str, Any]]
) -> None:
    """Stop when a partition in the checkpoint was delivered again, changed.

    An encoded partition is never encoded again, so new contents under an
    old name would be silently lost; the same file delivered again is fine.

    Raises:
        RedeliveredPartitionError: Naming the first such partition, its file,
            what differs, and what to do.
    """
    for name in sorted(set(partitions) & set(checkpoint)):
        partition, record = partitions[name], checkpoint[name]
        if (change := partition.change_since(record)) is None:
            continue
        output = f" and its output {record['file']}" if record.get("file") else ""
        msg = (
            f"Partition '{name}' ({partition.path}) was encoded before and its file "
            f"has changed since ({change}): deliver new rows under a new file name, "
            f"or, to encode this file again, remove '{name}' from {CHECKPOINT_FILE}"
            f"{output} in the batch output folder"
        )
        raise RedeliveredPartitionError(msg)


class IncomingPartitionsDataset(AbstractDataset[None, dict[str, Partition]]):
    """The CSV and parquet files of a folder, by name (file name without suffix)."""

    def __init__(
        self,
        path: str,
        chunk_rows: int = 25_000,
        metadata: dict[str, Any] | None = None,
    ):
        self._path = Path(path)
        self._chunk_rows = chunk_rows
        self.metadata = metadata

    def load(self) -> dict[str, Partition]:
        """List the partitions, sorted by name; nothing is read yet.

        Raises:
            DuplicatePartitionError: Two files share a name (``a.csv`` and
                ``a.parquet``).
        """
        if not self._path.is_dir():
            return {}
        partitions: dict[str, Partition] = {}
        for path in sorted(self._path.iterdir()):
            if path.suffix not in SUFFIXES or not path.is_file():
                continue
            if path.stem in partitions:
                msg = (
                    f"Two incoming files are named '{path.stem}': "
                    f"{partitions[path.stem].path} and {path.name}; a partition "
                    "is one file: remove or rename one of them"
                )
                raise DuplicatePartitionError(msg)
            partitions[path.stem] = Partition(path.stem, path, self._chunk_rows)
        return partitions

    def save(self, data: None) -> None:
        """Incoming data is written by whoever delivers it, not by the pipeline."""
        msg = "IncomingPartitionsDataset is read-only"
        raise DatasetError(msg)

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path), "chunk_rows": self._chunk_rows}


class ExtractedPartitionsDataset(
    AbstractDataset[PartitionOutputs, dict[str, dict[str, Any]]]
):
    """One parquet file per partition, and a checkpoint of those fully written.

    ``save`` takes an engine's :class:`~sae_pipelines.batch.output.PartitionOutputs`:
    the engine stages each partition's file in this folder, and this dataset
    commits it. ``load`` returns the checkpoint: ``{name: {"rows", "file",
    "anomaly_rate", "mean_l0", "sequence", "written_at"}}``.

    A commit renames the staged file to ``.<name>.parquet.commit``, records the
    partition in the checkpoint (written atomically), then renames the file
    into place. Whenever a run is killed, every output file is listed in the
    checkpoint; a commit cut short is finished by the next save. A partition
    without rows (a CSV header alone, or a file of no bytes) gets no file: it
    is recorded as skipped (``rows: 0``, ``file: None``), so it is not read
    again.
    """

    def __init__(self, path: str, metadata: dict[str, Any] | None = None):
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

    def load(self) -> dict[str, dict[str, Any]]:
        """The checkpoint: every partition written so far.

        Raises:
            DamagedCheckpointError: The file is not a JSON object (cut short,
                say); the message names it and how to rebuild it.
        """
        if not self.checkpoint_path.exists():
            return {}
        try:
            checkpoint = json.loads(self.checkpoint_path.read_bytes())
            reason: str | Exception | None = (
                None if isinstance(checkpoint, dict) else "not an object"
            )
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            reason = error
        if reason is not None:
            msg = (
                f"The batch checkpoint {self.checkpoint_path} is damaged ({reason}): "
                f"rebuild it from the committed output files with `{REBUILD_COMMAND}` "
                "(with the run's --env, if any), then run again"
            )
            raise DamagedCheckpointError(msg)
        return checkpoint

    def rebuild_checkpoint(
        self, incoming: Mapping[str, Partition]
    ) -> dict[str, dict[str, Any]]:
        """Write the checkpoint afresh from the committed ``<name>.parquet`` files.

        Each file's rows, anomaly rate and mean L0 are read from it; its
        sequence follows the files' modification times. The input files found
        in ``incoming`` now are recorded as the ones encoded (nothing can tell
        otherwise); those gone are recorded without size or hash. Partitions
        skipped as empty had no file: they are read again, and skipped again.
        The old checkpoint, if any, is kept beside, as ``_checkpoint.json.old``.

        Returns:
            The new checkpoint.
        """
        outputs = sorted(
            (path for path in self._path.glob("[!.]*.parquet") if path.is_file()),
            key=lambda path: (path.stat().st_mtime_ns, path.name),
        )
        checkpoint = {}
        for sequence, path in enumerate(outputs):
            partition = incoming.get(path.stem)
            source = None if partition is None else InputFile.of(partition.path)
            staged = replace(committed_output(path), source=source)
            written = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
            checkpoint[path.stem] = {
                **describe(staged),
                "sequence": sequence,
                "written_at": written,
            }
        if self.checkpoint_path.exists():
            os.replace(self.checkpoint_path, f"{self.checkpoint_path}.old")
        self._write(checkpoint)
        return checkpoint

    def save(self, data: PartitionOutputs) -> None:
        """Let the engine stage each partition's file, and commit each in turn.

        First a commit cut short by a killed run is finished, and files staged
        by a killed run are removed; batch extraction holds a lock, so no
        other writer can own them.
        """
        self._path.mkdir(parents=True, exist_ok=True)
        self._finish_interrupted_commits()
        for leftover in self._path.glob(f".*{STAGED_SUFFIX}"):
            logger.info("Removing %s, left by an interrupted run", leftover.name)
            leftover.unlink()
        data.write(self._path.resolve(), self._commit)

    def _commit(self, staged: StagedPartition) -> None:
        if staged.path is None:
            self._record(staged.name, describe(staged))
            logger.info(
                "Partition '%s' has no rows: skipped, and recorded as done",
                staged.name,
            )
            return
        committing = self._committing_path(staged.name)
        os.replace(staged.path, committing)
        self._record(staged.name, describe(staged))
        os.replace(committing, final_path(self._path, staged.name))
        logger.info("Partition '%s': %d rows committed", staged.name, staged.rows)

    def _committing_path(self, name: str) -> Path:
        return self._path / f".{name}.parquet{COMMITTING_SUFFIX}"

    def _finish_interrupted_commits(self) -> None:
        """Move recorded files into place; remove those not recorded yet."""
        checkpoint = self.load()
        for committing in self._path.glob(f".*.parquet{COMMITTING_SUFFIX}"):
            name = committing.name[1 : -len(f".parquet{COMMITTING_SUFFIX}")]
            if name in checkpoint:
                logger.info("Finishing the commit of partition '%s'", name)
                os.replace(committing, final_path(self._path, name))
            else:
                committing.unlink()

    def _record(self, name: str, summary: dict[str, Any]) -> None:
        checkpoint = self.load()
        checkpoint[name] = {
            **summary,
            "sequence": len(checkpoint),
            "written_at": datetime.now(UTC).isoformat(),
        }
        self._write(checkpoint)

    def _write(self, checkpoint: dict[str, dict[str, Any]]) -> None:
        """Replace the checkpoint atomically: a killed run leaves old or new."""
        temporary = self._path / f".{CHECKPOINT_FILE}.{os.getpid()}{STAGED_SUFFIX}"
        temporary.write_text(json.dumps(checkpoint, indent=2))
        fsync(temporary)
        os.replace(temporary, self.checkpoint_path)

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
