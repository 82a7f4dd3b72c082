"""Batch extraction on Spark: Spark schedules, the executors read, encode and write.

Plain PySpark, no Kedro. Each partition (input file) is one Spark job of one
task: the executor running it reads the file itself, by URL, in row chunks
and in file order (:func:`~sae_pipelines.batch.reader.read_chunks`, pyarrow
through fsspec), encodes it with the inference model (its files shipped with
``SparkContext.addFile``, loaded once per Python worker), and writes the
staged output file with :func:`~sae_pipelines.batch.output.write_partition`,
the pandas engine's writer. Only one row of counts per partition comes back to
the driver. The jobs run side by side, as many as the cluster has cores, and
each partition is committed, in name order, once its file is whole.
"""

from __future__ import annotations

import glob
import logging
import re
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from py4j.protocol import Py4JJavaError
from pyspark import SparkContext
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from sae_pipelines.batch.output import (
    BatchProgress,
    CorruptPartitionError,
    InputFile,
    StagedPartition,
    rows_to_do,
    staged_name,
)
from sae_pipelines.batch.spark_executor import (
    STAGED_TAG,
    PartitionTask,
    encode_partition,
)
from sae_pipelines.inference.artifacts import write_artifacts
from sae_pipelines.inference.features import InvalidInputError
from sae_pipelines.inference.model import InferenceModel
from sae_pipelines.runtime.storage import Location

if TYPE_CHECKING:  # the dataset module imports Kedro, this module does not
    from sae_pipelines.batch.partitions import Partition

logger = logging.getLogger(__name__)

# Errors raised on an executor that the driver raises again as themselves.
_EXECUTOR_ERRORS = {
    error.__name__: error for error in (InvalidInputError, CorruptPartitionError)
}


def ship_model(
    context: SparkContext, model: InferenceModel, folder: Path
) -> dict[str, str]:
    """Send the model's files to every executor; their names there, by artifact.

    Each file gets a name unique to this call, as Spark refuses a second file
    of the same name with other contents.
    """
    token = uuid.uuid4().hex
    shipped = {}
    for artifact, path in write_artifacts(model, folder).items():
        unique = Path(path).with_name(f"{token}-{Path(path).name}")
        Path(path).rename(unique)
        context.addFile(str(unique))
        shipped[artifact] = unique.name
    return shipped


def active_session() -> SparkSession:
    """The session this process runs, as ``SparkHooks`` started it."""
    return SparkSession.builder.getOrCreate()


@dataclass
class SparkOutputs:
    """The Spark engine's output: partitions encoded and staged by executors.

    A :class:`~sae_pipelines.batch.output.PartitionOutputs`: nothing runs
    until ``ExtractedPartitionsDataset`` calls :meth:`write`.

    Attributes:
        partitions: The partitions to encode, by name.
        model: The inference model that encodes them.
        scores: Also compute ``anomaly_score`` and ``is_flagged``.
        spark: The session; by default the active one, which ``SparkHooks``
            starts from ``spark.yml``.
    """

    partitions: Mapping[str, Partition]
    model: InferenceModel
    scores: bool = True
    spark: SparkSession = field(default_factory=active_session)
    _stopped: threading.Event = field(
        default_factory=threading.Event, init=False, repr=False
    )

    def write(
        self, folder: Path | Location, commit: Callable[[StagedPartition], None]
    ) -> None:
        """Encode and stage every partition on the executors; commit each in turn.

        Partitions run as separate jobs, at most ``defaultParallelism`` at a
        time. The first failure, in name order, cancels the jobs still
        running; partitions after it are not committed.

        Args:
            folder: Where the executors stage the files: a local path every
                executor and this driver see alike (on a cluster, a shared
                filesystem), or a folder on an object store.
            commit: Called with each staged partition, in name order.

        Raises:
            InvalidInputError: A partition's columns or values do not fit
                the model; the message names the partition and the columns.
            CorruptPartitionError: An executor cannot read a partition.
        """
        names = sorted(self.partitions)
        if not names:
            return
        context = self.spark.sparkContext
        committed: list[str] = []
        with tempfile.TemporaryDirectory(prefix="sae_model_") as folder_of_model:
            model_files = ship_model(context, self.model, Path(folder_of_model))
            workers = max(1, min(len(names), context.defaultParallelism))
            rows, estimates = rows_to_do({n: self.partitions[n] for n in names})
            try:
                with (
                    ThreadPoolExecutor(workers, thread_name_prefix="spark-job") as pool,
                    BatchProgress(rows, estimates=estimates) as progress,
                ):
                    jobs = {
                        name: pool.submit(self._stage, name, folder, model_files)
                        for name in names
                    }
                    try:
                        for name in names:
                            staged = jobs[name].result()
                            commit(staged)
                            committed.append(name)
                            progress.committed(staged)
                    except BaseException:
                        self._cancel(jobs)
                        raise
            finally:  # every job has ended: what was staged and not committed goes
                _remove_staged(folder, [n for n in names if n not in committed])

    def _stage(
        self, name: str, folder: Path | Location, model_files: dict[str, str]
    ) -> StagedPartition:
        """Run partition ``name``'s job (in a thread of the driver).

        The input file is hashed here, on the driver, as its job starts.
        """
        source = InputFile.of(self.partitions[name].location)
        staged = self._encode(name, folder, model_files)
        return replace(staged, source=source)

    def _encode(
        self, name: str, folder: Path | Location, model_files: dict[str, str]
    ) -> StagedPartition:
        partition = self.partitions[name]
        if partition.is_blank:  # nothing to read, not even a header
            return StagedPartition.empty(name)
        context = self.spark.sparkContext
        context.setJobGroup(_job_group(name), f"Encode partition '{name}'", True)
        started = time.perf_counter()
        url, storage_options = partition_location(partition)
        task = PartitionTask(
            name=name,
            url=url,
            storage_options=storage_options,
            chunk_rows=partition.chunk_rows,
            folder=_folder_url(folder),
            folder_options=_folder_options(folder),
            scores=self.scores,
            model_files=model_files,
        )
        if self._stopped.is_set():  # another partition failed meanwhile
            msg = f"Partition '{name}' was not encoded: an earlier one failed"
            raise RuntimeError(msg)
        try:
            # One task: a one-element RDD of one slice, run where Spark places it.
            [summary] = context.parallelize([task], 1).map(encode_partition).collect()
        except (PySparkException, Py4JJavaError) as error:
            ours = _executor_error(error)
            if ours is None:
                raise
            raise ours from error
        rows = summary["rows"]
        if not rows:
            return StagedPartition.empty(name)
        seconds = time.perf_counter() - started
        logger.info(
            "Partition '%s': %d rows encoded on Spark in %.1f s (%.0f rows/s)",
            name,
            rows,
            seconds,
            rows / seconds,
        )
        staged = (
            summary["path"] if isinstance(folder, Location) else Path(summary["path"])
        )
        return StagedPartition(
            name, staged, rows, summary["flagged"], summary["active"]
        )

    def _cancel(self, jobs: dict[str, Future[StagedPartition]]) -> None:
        self._stopped.set()
        context = self.spark.sparkContext
        for name, job in jobs.items():
            if not job.cancel():
                context.cancelJobGroup(_job_group(name))


def partition_location(partition: Partition) -> tuple[str, dict[str, Any]]:
    """Where an executor reads ``partition``: a URL and its storage options.

    A local file must be at the same path on every executor (on a cluster, a
    shared filesystem); a file on an object store is read by its URL.
    """
    location = partition.location
    if location.is_local:
        return str(location.local_path.resolve()), {}
    return location.url, dict(location.storage_options)


def _folder_url(folder: Path | Location) -> str:
    return str(folder.resolve()) if isinstance(folder, Path) else folder.url


def _folder_options(folder: Path | Location) -> dict[str, Any]:
    return {} if isinstance(folder, Path) else dict(folder.storage_options)


def _remove_staged(folder: Path | Location, names: list[str]) -> None:
    """Remove the files executors staged for ``names`` (finished or cancelled)."""
    for name in names:
        pattern = staged_name(glob.escape(name), f"{STAGED_TAG}*")
        if isinstance(folder, Path):
            for path in folder.glob(pattern):
                path.unlink(missing_ok=True)
            continue
        filesystem = folder.fs
        filesystem.invalidate_cache(folder.path)
        for key in filesystem.glob(f"{folder.path.rstrip('/')}/{pattern}"):
            filesystem.rm_file(key)


def _executor_error(error: Exception) -> Exception | None:
    """A job's error as the project's own, when an executor raised one of ours."""
    found = re.search(rf"({'|'.join(_EXECUTOR_ERRORS)}): (.+)", str(error))
    if found is None:
        return None
    return _EXECUTOR_ERRORS[found.group(1)](found.group(2))


def _job_group(name: str) -> str:
    return f"sae_pipelines-partition-{name}"
