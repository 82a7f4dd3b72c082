"""What the Spark engine runs on its executors: the shipped model, encoding.

The driver ships the inference model's files with ``SparkContext.addFile``;
each Python worker loads them once and encodes the partitions it is given,
writing each one's staged output file itself. Before a worker first loads the
model's code, and with it TensorFlow, it starts the project
(:func:`~sae_pipelines.runtime.startup.start`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
from pyspark import SparkFiles, TaskContext

from sae_pipelines.batch.output import staged_path, write_partition
from sae_pipelines.runtime.startup import starting_up

if TYPE_CHECKING:
    from sae_pipelines.inference.model import InferenceModel

# What an executor returns for a partition: where its file is, and counts.
SUMMARY_SCHEMA = "path string, rows long, flagged long, active long"
# Files staged by executors are tagged with this and the task attempt.
STAGED_TAG = "spark-"
# The inference models loaded in this Python worker, by shipped file name.
_LOADED: dict[str, InferenceModel] = {}


def partition_encoder(
    model_files: dict[str, str], folder: str, name: str, scores: bool
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The ``mapInArrow`` function that encodes and stages partition ``name``."""

    def encode(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        model = loaded_model(model_files)
        context = TaskContext.get()
        assert context is not None  # mapInArrow runs this in a Spark task
        attempt = context.taskAttemptId()
        path = staged_path(Path(folder), name, f"{STAGED_TAG}{attempt}")
        tables = (pa.Table.from_batches([batch]) for batch in batches)
        chunks = model.score_chunks(tables, f"Partition '{name}'", scores)
        staged = write_partition(name, chunks, path)
        summary = {
            "path": str(staged.path) if staged.path else None,
            "rows": staged.rows,
            "flagged": staged.flagged,
            "active": staged.active,
        }
        yield pa.RecordBatch.from_pylist([summary])

    return encode


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
