"""Encode the incoming partitions not yet processed, chunk by chunk."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from sae_pipelines.batch.output import ChunkOutputs, PartitionOutputs, rows_to_do
from sae_pipelines.batch.partitions import Partition, refuse_redelivered
from sae_pipelines.batch.spark_session import spark_engine
from sae_pipelines.inference import InferenceModel
from sae_pipelines.parameters.groups import BatchExtractionParams

logger = logging.getLogger(__name__)


def pending_partitions(
    incoming_partitions: dict[str, Partition],
    extraction_checkpoint: dict[str, dict[str, Any]],
) -> list[str]:
    """Names of the incoming partitions that have no complete output yet, sorted.

    Raises:
        RedeliveredPartitionError: A partition encoded before was delivered
            again with other contents (:func:`refuse_redelivered`).
    """
    refuse_redelivered(incoming_partitions, extraction_checkpoint)
    pending = sorted(set(incoming_partitions) - set(extraction_checkpoint))
    if not incoming_partitions:
        logger.info("No incoming partitions: nothing to do")
    elif not pending:
        logger.info(
            "All %d incoming partitions were processed before: nothing to do",
            len(incoming_partitions),
        )
    else:
        logger.info(
            "%d new partitions to encode (%d done before): %s",
            len(pending),
            len(extraction_checkpoint),
            ", ".join(pending),
        )
    return pending


def extract_partitions(
    incoming_partitions: dict[str, Partition],
    pending: list[str],
    serving_model: InferenceModel,
    batch_extraction_params: BatchExtractionParams,
) -> tuple[PartitionOutputs, dict[str, Any]]:
    """The pending partitions' outputs (id, codes, anomaly score and flag, L0), lazily.

    ``batch_extraction.anomaly_scores: false`` leaves out the score and flag,
    and so the decoder's work.

    Nothing is read here: the catalog's ``extracted_partitions`` runs the
    engine when it saves. ``engine: pandas`` encodes each partition chunk by
    chunk in this process, so memory holds one chunk at a time whatever the
    partition size; ``engine: spark`` encodes and writes them on the Spark
    session's executors (``spark.yml``), with the same model and writer.

    Returns:
        The engine's outputs, and which model encodes them (``source``,
        ``version``).

    Raises:
        ImportError: ``engine: spark`` without PySpark installed.
    """
    logger.info("Encoding with %s", serving_model.source)
    scores = batch_extraction_params.anomaly_scores
    partitions = {name: incoming_partitions[name] for name in pending}
    model_used = {"source": serving_model.source, "version": serving_model.version}
    if batch_extraction_params.engine == "spark":
        outputs = spark_engine().SparkOutputs(partitions, serving_model, scores)
        logger.info(
            "Encoding %d partitions on Spark (%s)",
            len(partitions),
            outputs.spark.sparkContext.master,
        )
        return outputs, model_used
    chunks = {
        name: serving_model.score_chunks(
            partition.chunks(), f"Partition '{name}'", scores
        )
        for name, partition in partitions.items()
    }
    rows, estimates = rows_to_do(partitions)
    inputs = {name: partition.location for name, partition in partitions.items()}
    return ChunkOutputs(chunks, rows, inputs, estimates), model_used


def summarize_batch(
    extracted_partitions: dict[str, dict[str, Any]],
    pending: list[str],
    model_used: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """What this run wrote, for people and for MLflow.

    Returns:
        A table of the partitions written in this run (rows, anomaly rate, mean
        L0, model), and MLflow metrics: ``batch_partitions``, ``batch_rows``,
        ``model_version``, and per partition ``partition_rows``,
        ``partition_anomaly_rate`` and ``partition_mean_l0`` with the
        partition's sequence number (across runs) as step, so drift shows over
        time.
    """
    written = [
        {"partition": name, **extracted_partitions[name], "model": model_used["source"]}
        for name in pending
    ]
    summary = pd.DataFrame(
        written,
        columns=[
            "partition",
            "rows",
            "anomaly_rate",
            "mean_l0",
            "sequence",
            "file",
            "written_at",
            "model",
        ],
    )
    metrics: dict[str, Any] = {
        "batch_partitions": {"value": len(written), "step": 0},
        "batch_rows": {"value": int(summary["rows"].sum()), "step": 0},
    }
    if model_used["version"] is not None:
        metrics["model_version"] = {"value": model_used["version"], "step": 0}
    for key in ("rows", "anomaly_rate", "mean_l0"):
        if values := [
            {"value": float(row[key]), "step": int(row["sequence"])}
            for row in written
            if row[key] is not None
        ]:
            metrics[f"partition_{key}"] = values
    return summary, metrics
