"""What the Spark engine runs on its executors: read, encode and stage a partition.

The driver ships the inference model's files with ``SparkContext.addFile``
and runs one task per partition; the task reads its partition's file itself,
by URL (:func:`~sae_pipelines.batch.reader.read_chunks`), encodes it with the
model and writes the staged output file with the pandas engine's writer. Each
Python worker loads the model once. Before a worker first loads the model's
code, and with it TensorFlow, it starts the project
(:func:`~sae_pipelines.runtime.startup.start`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark import SparkFiles, TaskContext

from sae_pipelines.batch.output import staged_url, write_partition
from sae_pipelines.batch.reader import read_chunks
from sae_pipelines.runtime.startup import starting_up

if TYPE_CHECKING:
    from sae_pipelines.inference.model import InferenceModel

# Files staged by executors are tagged with this and the task attempt.
STAGED_TAG = "spark-"
# The inference models loaded in this Python worker, by shipped file name.
_LOADED: dict[str, InferenceModel] = {}


@dataclass(frozen=True)
class PartitionTask:
    """One partition's work on an executor: what it reads, and where it stages.

    Attributes:
        name: The partition.
        url: Its input file, as :func:`~sae_pipelines.batch.reader.read_chunks`
            takes it.
        storage_options: The options of the input file's filesystem.
        chunk_rows: The rows read and encoded at a time.
        folder: Where the staged output file goes, as the executor sees it:
            a local path or a URL (``s3://bucket/batch``).
        folder_options: The options of the output folder's filesystem.
        scores: Also compute ``anomaly_score`` and ``is_flagged``.
        model_files: The shipped model's file names, by artifact.
    """

    name: str
    url: str
    storage_options: dict[str, Any]
    chunk_rows: int
    folder: str
    folder_options: dict[str, Any]
    scores: bool
    model_files: dict[str, str]


def encode_partition(task: PartitionTask) -> dict[str, Any]:
    """Read, encode and stage ``task``'s partition: where its file is, and counts.

    Runs in a Spark task; the staged file is tagged with the task attempt, so
    a retried or speculative attempt writes a file of its own.

    Returns:
        ``path`` (``None`` when the partition has no rows), ``rows``,
        ``flagged`` (``None`` when rows are not scored) and ``active``.
    """
    model = loaded_model(task.model_files)
    context = TaskContext.get()
    attempt = "driver" if context is None else context.taskAttemptId()
    url = staged_url(task.folder, task.name, f"{STAGED_TAG}{attempt}")
    label = f"Partition '{task.name}'"
    chunks = read_chunks(
        task.url,
        task.storage_options,
        label=label,
        features=model.feature_columns,
        id_column=model.id_column,
        chunk_rows=task.chunk_rows,
    )
    encoded = model.score_chunks(chunks, label, task.scores)
    staged = write_partition(
        task.name, encoded, url, storage_options=task.folder_options
    )
    return {
        "path": str(staged.path) if staged.path else None,
        "rows": staged.rows,
        "flagged": staged.flagged,
        "active": staged.active,
    }


def loaded_model(model_files: dict[str, str]) -> InferenceModel:
    """The shipped inference model, loaded once per Python worker."""
    key = model_files["autoencoder"]
    if key not in _LOADED:
        # Here, not at the top: the project starts before TensorFlow loads.
        with starting_up():
            from sae_pipelines.inference.artifacts import load_artifacts  # noqa: PLC0415
        paths = {name: SparkFiles.get(file) for name, file in model_files.items()}
        _LOADED[key] = load_artifacts(paths)
    return _LOADED[key]
