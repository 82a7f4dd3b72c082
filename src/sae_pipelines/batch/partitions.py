"""Partitions in and out of batch extraction, exactly once.

``IncomingPartitionsDataset`` lists the CSV and parquet files of a folder and
reads each lazily, in chunks. ``ExtractedPartitionsDataset`` commits one
parquet file per partition, staged whole by an engine
(:mod:`sae_pipelines.batch.output`), and keeps a checkpoint of those
committed. A run killed at any point leaves no output file that the checkpoint
does not list.

Both folders may be on the local disk or on any fsspec filesystem (``s3://``,
``gs://``, ``abfs://``, ``memory://``), with ``credentials`` and ``fs_args``
in the catalog entry as Kedro's own datasets take them. An object store
cannot rename, so a commit there copies and then deletes, in an order that
keeps the same guarantee (see :class:`ExtractedPartitionsDataset`).
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractDataset, DatasetError

from sae_pipelines.batch.lock import LEASE_TTL_S
from sae_pipelines.batch.output import (
    STAGED_SUFFIX,
    CorruptPartitionError,
    InputFile,
    PartitionOutputs,
    StagedPartition,
    committed_output,
    describe,
    fsync,
)
from sae_pipelines.inference.tables import as_arrow
from sae_pipelines.runtime.errors import InputError
from sae_pipelines.runtime.storage import Location, sha256, storage_options

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

    A file of no bytes holds no rows, whatever its suffix. Its ``url`` and
    ``storage_options`` are plain, picklable values: a Spark executor opens
    the file from them (``fsspec.core.url_to_fs(url, **storage_options)``).

    Attributes:
        name: The partition: the file's name without its suffix.
        url: The file: a local path as the catalog gave its folder, or a URL
            (``s3://bucket/incoming/a.csv``).
        chunk_rows: Rows read at a time.
        storage_options: The filesystem's options (credentials, endpoint);
            empty for the local disk.
    """

    name: str
    url: str
    chunk_rows: int
    storage_options: dict[str, Any] = field(default_factory=dict)

    @property
    def location(self) -> Location:
        """The file, with its filesystem's options."""
        return Location(self.url, self.storage_options)

    @property
    def path(self) -> Path:
        """The local file.

        Raises:
            ValueError: The file is on another filesystem: use :attr:`url`.
        """
        return self.location.local_path

    @property
    def suffix(self) -> str:
        """The file's suffix: ``.csv`` or ``.parquet``."""
        return self.location.suffix

    @property
    def is_blank(self) -> bool:
        """Whether the file has no bytes at all (not even a header)."""
        return self.location.size() == 0

    @property
    def rows(self) -> int | None:
        """Row count from parquet metadata, or ``None``: unknown until read.

        0 for a file of no bytes; ``None`` for CSV, and for a file that is not
        readable parquet (reading its rows fails, in its turn).
        """
        if self.is_blank:
            return 0
        if self.suffix != ".parquet":
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
        if (rows := self.rows) is not None or self.suffix != ".csv":
            return rows
        return estimate_csv_rows(self.location, SAMPLE_BYTES)

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
        location = self.location
        now = location.size()
        if now != size:
            return f"{now} bytes now, {size} when encoded"
        digest = record.get("input_sha256")
        if location.modified_ns() == record.get("input_mtime_ns") or digest is None:
            return None
        if sha256(location) == digest:
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
            msg = f"Partition '{self.name}' ({self.url}) cannot be read: {error}"
            raise CorruptPartitionError(msg) from error

    def _read(self) -> Iterator[pa.Table]:
        if self.is_blank:
            return
        if self.suffix == ".parquet":
            yield from self._read_parquet()
        elif (location := self.location).is_local:
            for frame in pd.read_csv(self.path, chunksize=self.chunk_rows):
                yield as_arrow(frame)
        else:
            with location.fs.open(location.path, "rb") as file:
                for frame in pd.read_csv(file, chunksize=self.chunk_rows):
                    yield as_arrow(frame)

    def _read_parquet(self) -> Iterator[pa.Table]:
        """The row groups, a run of at least ``chunk_rows`` rows per file mapping.

        A local file is memory-mapped, so its pages come from the page cache
        without a copy into fresh memory (a remote one is read through its
        filesystem, each run's row groups in their own requests). A mapping keeps the pages it touched, and one
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
        location = self.location
        try:
            if location.is_local:
                return pq.ParquetFile(self.path, metadata=metadata, memory_map=True)
            return pq.ParquetFile(
                location.path, metadata=metadata, filesystem=location.fs
            )
        except (OSError, pa.ArrowException) as error:
            msg = f"Partition '{self.name}' ({self.url}) is not a readable parquet file: {error}"
            raise CorruptPartitionError(msg) from error


def estimate_csv_rows(path: Path | Location, sample_bytes: int) -> int | None:
    """About how many rows follow the header of a CSV file, from its first bytes.

    ``None`` when no whole row fits in ``sample_bytes``. Quoted line breaks
    count as rows: it is an estimate.
    """
    if isinstance(path, Path):
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(sample_bytes)
    else:
        size = path.size()
        head = bytes(path.fs.read_block(path.path, 0, sample_bytes))
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
            f"Partition '{name}' ({partition.url}) was encoded before and its file "
            f"has changed since ({change}): deliver new rows under a new file name, "
            f"or, to encode this file again, remove '{name}' from {CHECKPOINT_FILE}"
            f"{output} in the batch output folder"
        )
        raise RedeliveredPartitionError(msg)


class IncomingPartitionsDataset(AbstractDataset[None, dict[str, Partition]]):
    """The CSV and parquet files of a folder, by name (file name without suffix).

    The folder is a local path or a URL (``s3://bucket/incoming``); on another
    filesystem, ``credentials`` and ``fs_args`` are its storage options, as
    for Kedro's own datasets.
    """

    def __init__(
        self,
        path: str,
        chunk_rows: int = 25_000,
        metadata: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
    ):
        self._folder = Location(path, storage_options(credentials, fs_args))
        self._chunk_rows = chunk_rows
        self.metadata = metadata

    def load(self) -> dict[str, Partition]:
        """List the partitions, sorted by name; nothing is read yet.

        Raises:
            DuplicatePartitionError: Two files share a name (``a.csv`` and
                ``a.parquet``).
        """
        partitions: dict[str, Partition] = {}
        for file in self._folder.files():
            if file.suffix not in SUFFIXES:
                continue
            if file.stem in partitions:
                msg = (
                    f"Two incoming files are named '{file.stem}': "
                    f"{partitions[file.stem].url} and {file.name}; a partition "
                    "is one file: remove or rename one of them"
                )
                raise DuplicatePartitionError(msg)
            partitions[file.stem] = Partition(
                file.stem,
                file.url,
                self._chunk_rows,
                dict(self._folder.storage_options),
            )
        return partitions

    def save(self, data: None) -> None:
        """Incoming data is written by whoever delivers it, not by the pipeline."""
        msg = "IncomingPartitionsDataset is read-only"
        raise DatasetError(msg)

    def _describe(self) -> dict[str, Any]:
        return {"path": self._folder.url, "chunk_rows": self._chunk_rows}


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

    On an object store (``path`` a URL, with ``credentials`` and ``fs_args``
    as for Kedro's datasets) the same steps hold with what a store offers: an
    object is written whole or not at all (an upload completes, or leaves
    nothing), but nothing is renamed. Each "rename" is a server-side copy
    followed by a delete of the source, and the steps are ordered so that a
    run killed between any two of them leaves a state the next save finishes
    or undoes: the staged object, uniquely named, is copied to
    ``.<name>.parquet.commit``; the checkpoint is replaced by one PUT (a
    reader sees the old or the new one); the ``.commit`` object is copied to
    ``<name>.parquet`` and only then deleted. A ``.commit`` object whose
    partition the checkpoint lists is copied into place again (the same
    bytes), one it does not list is deleted. So each partition has exactly
    one output object and one checkpoint record after every completed save,
    and no output object the checkpoint does not list at any time. This needs
    one writer at a time: batch extraction holds the output folder's lock
    (:mod:`~sae_pipelines.batch.lock`; a lease on an object store) while it
    saves.
    """

    def __init__(
        self,
        path: str,
        metadata: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        lock_ttl_s: float = LEASE_TTL_S,
    ):
        """The output folder at ``path``, a local path or a URL.

        Args:
            path: The folder of the output files and the checkpoint.
            metadata: Kedro's free-form metadata.
            credentials: The filesystem's credentials (``conf/local/credentials.yml``).
            fs_args: More filesystem options (``client_kwargs``: an endpoint...).
            lock_ttl_s: On an object store, how long the output folder's lease
                lasts unless its holder renews it (see
                :mod:`~sae_pipelines.batch.lock`).
        """
        self._location = Location(path, storage_options(credentials, fs_args))
        self.lock_ttl_s = lock_ttl_s
        self.metadata = metadata

    @property
    def location(self) -> Location:
        """The folder of the output files and the checkpoint, on its filesystem."""
        return self._location

    @property
    def folder(self) -> Path:
        """The local folder of the output files and the checkpoint.

        Raises:
            ValueError: The folder is on another filesystem: use :attr:`location`.
        """
        return self._location.local_path

    @property
    def checkpoint_location(self) -> Location:
        """Where the record of fully written partitions lives, on any filesystem."""
        return self._location.child(CHECKPOINT_FILE)

    @property
    def checkpoint_path(self) -> Path:
        """Where the record of fully written partitions lives, on the local disk."""
        return self.checkpoint_location.local_path

    def load(self) -> dict[str, dict[str, Any]]:
        """The checkpoint: every partition written so far.

        Raises:
            DamagedCheckpointError: The file is not a JSON object (cut short,
                say); the message names it and how to rebuild it.
        """
        location = self.checkpoint_location
        if not location.exists():
            return {}
        try:
            checkpoint = json.loads(location.read_bytes())
            reason: str | Exception | None = (
                None if isinstance(checkpoint, dict) else "not an object"
            )
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            reason = error
        if reason is not None:
            msg = (
                f"The batch checkpoint {location} is damaged ({reason}): "
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
            self._files("[!.]*.parquet"),
            key=lambda file: (file.modified_ns(), file.name),
        )
        checkpoint = {}
        for sequence, file in enumerate(outputs):
            partition = incoming.get(file.stem)
            source = None if partition is None else InputFile.of(partition.location)
            staged = replace(committed_output(file), source=source)
            written = datetime.fromtimestamp(file.modified_ns() / 1e9, UTC).isoformat()
            checkpoint[file.stem] = {
                **describe(staged),
                "sequence": sequence,
                "written_at": written,
            }
        old = self.checkpoint_location
        if old.exists():
            self._move(old, self._location.child(f"{CHECKPOINT_FILE}.old"))
        self._write(checkpoint)
        return checkpoint

    def save(self, data: PartitionOutputs) -> None:
        """Let the engine stage each partition's file, and commit each in turn.

        First a commit cut short by a killed run is finished, and files staged
        by a killed run are removed; batch extraction holds a lock, so no
        other writer can own them.
        """
        location = self._location
        if location.is_local:
            location.local_path.mkdir(parents=True, exist_ok=True)
        self._finish_interrupted_commits()
        for leftover in self._files(f".*{STAGED_SUFFIX}"):
            logger.info("Removing %s, left by an interrupted run", leftover.name)
            leftover.remove()
        folder = location.local_path.resolve() if location.is_local else location
        data.write(folder, self._commit)

    def _commit(self, staged: StagedPartition) -> None:
        if staged.path is None:
            self._record(staged.name, describe(staged))
            logger.info(
                "Partition '%s' has no rows: skipped, and recorded as done",
                staged.name,
            )
            return
        committing = self._committing(staged.name)
        self._move(self._staged(staged.path), committing)
        self._record(staged.name, describe(staged))
        self._move(committing, self._final(staged.name))
        logger.info("Partition '%s': %d rows committed", staged.name, staged.rows)

    def _staged(self, path: Path | str) -> Location:
        """A staged file, as an engine named it, on this folder's filesystem."""
        return Location(str(path), self._location.storage_options)

    def _committing(self, name: str) -> Location:
        return self._location.child(f".{name}.parquet{COMMITTING_SUFFIX}")

    def _final(self, name: str) -> Location:
        return self._location.child(f"{name}.parquet")

    def _files(self, pattern: str) -> list[Location]:
        """The files of the folder whose names match the glob ``pattern``."""
        return [
            file
            for file in self._location.files()
            if fnmatch.fnmatchcase(file.name, pattern)
        ]

    def _move(self, source: Location, target: Location) -> None:
        """Rename ``source`` to ``target``: atomic on a local disk.

        An object store has no rename: the object is copied (server-side, and
        it appears whole), then the source deleted. Cut short between the two,
        both are there, and the commit's recovery repeats the move.
        """
        if source.is_local:
            os.replace(source.local_path, target.local_path)
            return
        source.fs.copy(source.path, target.path)
        source.fs.rm_file(source.path)

    def _finish_interrupted_commits(self) -> None:
        """Move recorded files into place; remove those not recorded yet."""
        checkpoint = self.load()
        for committing in self._files(f".*.parquet{COMMITTING_SUFFIX}"):
            name = committing.name[1 : -len(f".parquet{COMMITTING_SUFFIX}")]
            if name in checkpoint:
                logger.info("Finishing the commit of partition '%s'", name)
                self._move(committing, self._final(name))
            else:
                committing.remove()

    def _record(self, name: str, summary: dict[str, Any]) -> None:
        checkpoint = self.load()
        checkpoint[name] = {
            **summary,
            "sequence": len(checkpoint),
            "written_at": datetime.now(UTC).isoformat(),
        }
        self._write(checkpoint)

    def _write(self, checkpoint: dict[str, dict[str, Any]]) -> None:
        """Replace the checkpoint atomically: a killed run leaves old or new.

        On a local disk: a temporary file, synced, renamed over it. On an
        object store: one PUT of the whole object, which the store applies
        whole or not at all.
        """
        text = json.dumps(checkpoint, indent=2)
        location = self.checkpoint_location
        if not location.is_local:
            location.write_bytes(text.encode())
            return
        folder = self._location.local_path
        temporary = folder / f".{CHECKPOINT_FILE}.{os.getpid()}{STAGED_SUFFIX}"
        temporary.write_text(text)
        fsync(temporary)
        os.replace(temporary, location.local_path)

    def _describe(self) -> dict[str, Any]:
        return {"path": self._location.url}
