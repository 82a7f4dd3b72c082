"""One partition's output file, written whole to a staged file before it is committed.

Plain Arrow, no Kedro: both engines call :func:`write_partition`, the pandas
engine in the run's own process and the Spark engine on the executors, so the
files they write cannot differ. A staged file lies beside its final place,
hidden (``.<name>.parquet.<tag>.tmp``); only ``ExtractedPartitionsDataset``
moves it into place, once it is recorded in the checkpoint.

The output folder may be on the local disk or on any fsspec filesystem
(:class:`~sae_pipelines.runtime.storage.Location`): on an object store a
staged file is an object under a key unique to its writer, which appears whole
when its upload completes, or not at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console

from sae_pipelines.inference.tables import as_arrow
from sae_pipelines.runtime.errors import InputError
from sae_pipelines.runtime.progress import ProgressReport
from sae_pipelines.runtime.storage import Location, is_local
from sae_pipelines.runtime.storage import sha256 as location_sha256

logger = logging.getLogger(__name__)

STAGED_SUFFIX = ".tmp"


class CorruptPartitionError(InputError, ValueError):
    """A partition file cannot be read as CSV or parquet."""


@dataclass(frozen=True)
class InputFile:
    """A partition's input file as it was read: what the checkpoint records of it.

    Attributes:
        size: Its size in bytes.
        mtime_ns: Its modification time, in nanoseconds.
        sha256: The SHA-256 of its bytes, in hex.
    """

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: Path | Location) -> InputFile:
        """The file at ``path`` now; its bytes are read once, to hash them.

        On an object store the modification time is the object's last
        modification, as the store keeps it (0 where it keeps none).
        """
        if isinstance(path, Location) and path.is_local:
            path = path.local_path
        if isinstance(path, Path):
            stat = path.stat()
            return cls(stat.st_size, stat.st_mtime_ns, file_sha256(path))
        return cls(path.size(), path.modified_ns(), location_sha256(path))


def file_sha256(path: Path) -> str:
    """The SHA-256 of the bytes of ``path``, in hex."""
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


@dataclass(frozen=True)
class StagedPartition:
    """A partition's complete output file, not yet in its final place.

    A partition without rows has no file: it is recorded as skipped.

    Attributes:
        name: The partition.
        path: The staged file (a local path, or a URL on an object store);
            ``None`` when the partition has no rows.
        rows: Rows written.
        flagged: Rows flagged as anomalies; ``None`` when rows were not scored.
        active: The sum of ``l0`` over the rows.
        source: The input file it was read from, when known.
    """

    name: str
    path: Path | str | None
    rows: int
    flagged: int | None
    active: int
    source: InputFile | None = None

    @classmethod
    def empty(cls, name: str) -> StagedPartition:
        """A partition without rows (a header, or not even that): no file."""
        return cls(name, None, 0, None, 0)

    @property
    def anomaly_rate(self) -> float | None:
        """The fraction of rows flagged; ``None`` when not scored, or without rows."""
        return (
            None if self.flagged is None or not self.rows else self.flagged / self.rows
        )

    @property
    def mean_l0(self) -> float | None:
        """The mean number of active codes per row; ``None`` without rows."""
        return self.active / self.rows if self.rows else None


class PartitionOutputs(Protocol):
    """An engine's output: it stages each partition's file, the dataset commits it."""

    def write(
        self, folder: Path | Location, commit: Callable[[StagedPartition], None]
    ) -> None:
        """Stage each partition's file in ``folder`` and ``commit`` it, in name order.

        ``folder`` is a local (absolute) path, or a :class:`Location` on
        another filesystem, with its storage options. A partition is
        committed only after every partition before it, and none after a
        partition that failed.
        """


class RowsToDo(Protocol):
    """A partition's rows as known before it is read (``Partition`` has them)."""

    @property
    def rows(self) -> int | None:
        """Its rows, or ``None`` when not known before it is read."""

    @property
    def estimated_rows(self) -> int | None:
        """Its rows, or an estimate of them, or ``None``."""


def rows_to_do(
    partitions: Mapping[str, RowsToDo],
) -> tuple[dict[str, int | None], dict[str, int]]:
    """Each partition's rows where known, and estimates of the others', by name.

    What :class:`BatchProgress` reports against.
    """
    rows = {name: partition.rows for name, partition in partitions.items()}
    estimates = {
        name: estimate
        for name, partition in partitions.items()
        if rows[name] is None and (estimate := partition.estimated_rows) is not None
    }
    return rows, estimates


@dataclass(frozen=True)
class ChunkOutputs:
    """Output chunks per partition, written in this process (the pandas engine).

    Attributes:
        chunks: Each partition's (lazy) output tables, in commit order.
        rows: Each partition's rows where known beforehand, for the progress
            report: with all of them it shows the share of rows done.
        inputs: Each partition's input file (a local path, or a
            :class:`Location`), hashed as its reading starts and recorded in
            the checkpoint (:class:`InputFile`).
        estimates: Estimated rows of partitions whose ``rows`` are not known
            (CSV), so that their progress is reported too.
    """

    chunks: Mapping[str, Iterable[pa.Table | pd.DataFrame]]
    rows: Mapping[str, int | None] = field(default_factory=dict)
    inputs: Mapping[str, Path | Location] = field(default_factory=dict)
    estimates: Mapping[str, int] = field(default_factory=dict)

    def write(
        self, folder: Path | Location, commit: Callable[[StagedPartition], None]
    ) -> None:
        """Write and commit each partition in turn, reporting rows as they go."""
        rows = {name: self.rows.get(name) for name in self.chunks}
        options: Mapping[str, Any] = {}
        with BatchProgress(rows, estimates=self.estimates) as progress:
            for name, chunks in self.chunks.items():
                if isinstance(folder, Path):
                    path: Path | str = staged_path(folder, name, str(os.getpid()))
                else:
                    path = staged_url(folder.url, name, writer_tag())
                    options = folder.storage_options
                source = (
                    InputFile.of(self.inputs[name]) if name in self.inputs else None
                )
                staged = write_partition(
                    name, chunks, path, progress.written, storage_options=options
                )
                staged = replace(staged, source=source)
                commit(staged)
                progress.committed(staged)


class BatchProgress:
    """Rows and partitions done in a batch run: a bar, or a few log lines.

    See :class:`~sae_pipelines.runtime.progress.ProgressReport`; use it as a context
    manager.
    """

    def __init__(
        self,
        rows: Mapping[str, int | None],
        console: Console | None = None,
        estimates: Mapping[str, int] | None = None,
    ) -> None:
        """Report on the partitions of ``rows``, each with its rows or ``None``.

        The rows to do are known when every partition's are, or estimated
        when ``estimates`` gives the others'; each estimate is replaced by the
        partition's rows once it is committed.
        """
        self._estimates = {
            name: (estimates or {})[name]
            for name, count in rows.items()
            if count is None and name in (estimates or {})
        }
        counts = [self._estimates.get(name, count) for name, count in rows.items()]
        known = [count for count in counts if count is not None]
        total = sum(known) if len(known) == len(counts) else None
        self.report = ProgressReport("Batch extraction", total, "rows", logger, console)
        self.report.set_total(total, estimated=bool(self._estimates))
        self._partitions = len(rows)
        self._done = self._done_rows = 0

    def __enter__(self) -> BatchProgress:
        self.report.__enter__()
        return self

    def __exit__(self, *error: Any) -> None:
        self.report.__exit__(*error)

    def written(self, name: str, rows: int) -> None:
        """Partition ``name`` has ``rows`` rows written so far, not committed yet."""
        self.report.update(self._done_rows + rows, self._status())

    def committed(self, staged: StagedPartition) -> None:
        """``staged`` is committed."""
        self._done += 1
        self._done_rows += staged.rows
        estimate = self._estimates.pop(staged.name, None)
        if estimate is not None and self.report.total is not None:
            total = self.report.total + staged.rows - estimate
            self.report.set_total(total, estimated=bool(self._estimates))
        self.report.update(self._done_rows, self._status())

    def _status(self) -> str:
        return f"{self._done}/{self._partitions} partitions"


def final_path(folder: Path, name: str) -> Path:
    """Where partition ``name``'s output file lives once committed."""
    return folder / f"{name}.parquet"


def staged_path(folder: Path, name: str, tag: str) -> Path:
    """A hidden file beside :func:`final_path`, unique to one writer by ``tag``."""
    return folder / staged_name(name, tag)


def staged_name(name: str, tag: str) -> str:
    """The name of partition ``name``'s file staged by the writer ``tag``."""
    return f".{name}.parquet.{tag}{STAGED_SUFFIX}"


def staged_url(folder: str, name: str, tag: str) -> str:
    """:func:`staged_path` in a folder named by URL (``s3://bucket/batch``)."""
    if is_local(folder):
        return str(staged_path(Path(folder), name, tag))
    return f"{folder.rstrip('/')}/{staged_name(name, tag)}"


def writer_tag() -> str:
    """A tag no other writer uses, on any machine: for keys on an object store."""
    return uuid.uuid4().hex


def write_partition(
    name: str,
    chunks: Iterable[pa.Table | pd.DataFrame],
    path: Path | str,
    progress: Callable[[str, int], None] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> StagedPartition:
    """Write a partition's output chunks to ``path``: whole, or not at all.

    Chunks without a single row leave no file (:meth:`StagedPartition.empty`).

    The file is zstd-compressed without dictionaries (smaller than pyarrow's
    default on sparse codes, and written faster), and synced to disk before
    this returns. Each chunk is written on a thread while the next one is
    computed; Arrow's writer releases the GIL, and one write at a time keeps
    the order. On any error the file is removed.

    On an object store (``path`` a URL such as ``s3://bucket/batch/.p.parquet.
    <tag>.tmp``) the file is uploaded as it is written, and the object exists
    only once the upload completes, when this returns; on an error the upload
    is abandoned, so no object appears.

    Args:
        name: The partition, for messages.
        chunks: Output tables with an ``l0`` column and, when rows are scored,
            ``is_flagged``.
        path: The staged file to write: a local path, or a URL.
        progress: Called with ``name`` and the rows written so far after each
            chunk.
        storage_options: The filesystem's options when ``path`` is a URL
            (credentials, endpoint); a plain, picklable dict.
    """
    if not isinstance(path, Path) and is_local(path):
        path = Path(path)
    if isinstance(path, Path):
        try:
            staged = _write_partition(name, chunks, path, progress)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if staged.path is None:
            path.unlink(missing_ok=True)
            return staged
        fsync(path)
        return replace(staged, path=path)
    target = Location(path, dict(storage_options or {}))
    file = target.fs.open(target.path, "wb")
    try:
        staged = _write_partition(name, chunks, file, progress)
    except BaseException:
        _abandon(file)
        target.remove()
        raise
    if staged.path is None:
        _abandon(file)
        target.remove()
        return staged
    file.close()
    return replace(staged, path=target.url)


def _abandon(file: Any) -> None:
    """Drop an upload under way: nothing of it becomes an object."""
    discard = getattr(file, "discard", None)
    if discard is not None:
        discard()  # fsspec's buffered files: a multipart upload is aborted


def _write_partition(
    name: str,
    chunks: Iterable[pa.Table | pd.DataFrame],
    sink: Path | Any,
    progress: Callable[[str, int], None] | None,
) -> StagedPartition:
    """:func:`write_partition` into ``sink``, a local path or an open file.

    The caller syncs, removes or abandons what is written. The staged
    partition's ``path`` is ``sink`` as given, or ``None`` without rows.
    """
    rows, active, flagged = 0, 0, None
    writer: pq.ParquetWriter | None = None
    writing, written = ThreadPoolExecutor(max_workers=1), None
    try:
        for chunk in chunks:
            table = as_arrow(chunk)
            if writer is None:
                writer = pq.ParquetWriter(
                    sink,
                    table.schema,
                    compression="zstd",
                    compression_level=1,
                    use_dictionary=False,
                )
            if written is not None:
                written.result()
            written = writing.submit(writer.write_table, table)
            rows += table.num_rows
            active += _column_sum(table, "l0")
            if "is_flagged" in table.column_names:
                flagged = (flagged or 0) + _column_sum(table, "is_flagged")
            if progress is not None:
                progress(name, rows)
        if written is not None:
            written.result()
        if writer is not None:
            writer.close()
            writer = None
    except BaseException:
        writing.shutdown()  # lets a write under way finish before the file goes
        if writer is not None:
            writer.close()
        raise
    writing.shutdown()
    if not rows:
        return StagedPartition.empty(name)
    return StagedPartition(name, str(sink), rows, flagged, active)


def committed_output(path: Path | Location) -> StagedPartition:
    """A committed output file's counts, read back from it (its input unknown).

    Counts as :func:`write_partition` returned them: ``flagged`` is ``None``
    when the file has no ``is_flagged`` column.
    """
    if isinstance(path, Location) and path.is_local:
        path = path.local_path
    where: Path | str
    if isinstance(path, Path):
        table = _counts(path, None)
        stem, where = path.stem, path
    else:
        table = _counts(path.path, path.fs)
        stem, where = path.stem, path.url
    flagged = (
        _column_sum(table, "is_flagged") if "is_flagged" in table.column_names else None
    )
    return StagedPartition(
        stem, where, table.num_rows, flagged, _column_sum(table, "l0")
    )


def _counts(path: Path | str, filesystem: Any) -> pa.Table:
    """The ``l0`` and ``is_flagged`` columns of an output file (those it has)."""
    schema = pq.read_schema(path, filesystem=filesystem)
    columns = [name for name in ("l0", "is_flagged") if name in schema.names]
    return pq.read_table(path, columns=columns, filesystem=filesystem)


def _column_sum(table: pa.Table, column: str) -> int:
    return pc.sum(table[column]).as_py() or 0


def fsync(path: Path) -> None:
    """Flush ``path`` to disk, so that a rename after it never exposes a torn file."""
    with path.open("rb") as file:
        os.fsync(file.fileno())


def describe(staged: StagedPartition) -> dict[str, Any]:
    """The checkpoint's record of a committed partition (without its sequence).

    A partition without rows is recorded with ``file: None``. Its input file's
    size, modification time and SHA-256 (``input_bytes``, ``input_mtime_ns``,
    ``input_sha256``; ``None`` when not known) tell a re-delivered file with
    other contents from the one encoded.
    """
    source = staged.source
    return {
        "rows": staged.rows,
        "file": None if staged.path is None else f"{staged.name}.parquet",
        "anomaly_rate": staged.anomaly_rate,
        "mean_l0": staged.mean_l0,
        "input_bytes": None if source is None else source.size,
        "input_mtime_ns": None if source is None else source.mtime_ns,
        "input_sha256": None if source is None else source.sha256,
    }
