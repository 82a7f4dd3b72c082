"""Batch extraction on Spark: the same encoder, applied with ``mapInPandas``.

Plain PySpark and :mod:`sae_pipelines.inference`, no Kedro. The incoming files
become one Spark DataFrame with a ``partition`` column; each Python worker
encodes its Arrow batches with
:meth:`~sae_pipelines.inference.InferenceModel.score_chunks`, the very method
of the pandas path, so column checks, codes, anomaly score, flag and L0 cannot
differ. :func:`spark_partition_chunks` hands the result back
as pandas chunks per partition, for ``ExtractedPartitionsDataset`` to write.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Callable, Iterator
from functools import reduce
from typing import TYPE_CHECKING, Any

import pandas as pd
from py4j.protocol import Py4JJavaError
from pyspark.errors import PythonException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - PySpark's usual alias
from pyspark.sql.types import BooleanType, NumericType, Row

from sae_pipelines.inference.model import (
    InferenceModel,
    InvalidInputError,
    check_columns,
)

if TYPE_CHECKING:  # the dataset module imports Kedro, this module does not
    from sae_pipelines.batch.partitions import Partition

PARTITION_COLUMN = "partition"
_SPLIT, _ROW = "__spark_split", "__spark_row"
_ROW_BITS = 33  # monotonically_increasing_id(): split index << 33 | row in split
_PANDAS_TYPES = {"float": "float32", "int": "int32", "boolean": "bool"}


def local_session(app_name: str = "sae_pipelines") -> SparkSession:
    """A ``local[*]`` session whose Python workers run this interpreter."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (
        SparkSession.builder.master("local[*]")
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def read_partitions(
    spark: SparkSession,
    partitions: dict[str, Partition],
    expected: list[str],
    id_column: str,
) -> DataFrame:
    """The partitions as one DataFrame, in name order, with a ``partition`` column.

    Each file's columns are checked here, on the driver, as the pandas path
    checks each chunk. A file without ``id_column`` gets one numbering its rows
    from 0 in file order (this costs one extra pass to count rows).

    Raises:
        InvalidInputError: A file's columns do not fit the model.
    """
    frames = []
    for name in sorted(partitions):
        frame = _read(spark, partitions[name])
        check_columns(f"Partition '{name}'", frame.columns, expected, id_column)
        text = [
            field.name
            for field in frame.schema.fields
            if field.name in expected
            and not isinstance(field.dataType, NumericType | BooleanType)
        ]
        if text:
            msg = f"Partition '{name}' has non-numeric values in columns {text}"
            raise InvalidInputError(msg)
        if id_column not in frame.columns:
            frame = _numbered(frame, id_column)
        frames.append(frame.withColumn(PARTITION_COLUMN, F.lit(name)))
    return reduce(DataFrame.unionByName, frames)


def encode_with_spark(
    spark: SparkSession,
    partitions: dict[str, Partition],
    model: InferenceModel,
    scores: bool = True,
) -> DataFrame:
    """Encode the partitions on Spark, lazily: nothing runs until it is collected.

    The model travels to the workers as a broadcast pickle (Keras 3 models
    pickle through the ``.keras`` format).

    Returns:
        ``partition``, the id column, the codes (float), with ``scores`` also
        ``anomaly_score`` (float) and ``is_flagged``, and ``l0`` (int),
        partition after partition.

    Raises:
        InvalidInputError: A file's columns do not fit the model.
    """
    if not partitions:
        msg = "No partitions to encode"
        raise ValueError(msg)
    id_column = model.id_column
    frame = read_partitions(spark, partitions, model.feature_columns, id_column)
    broadcast = spark.sparkContext.broadcast(model)
    schema = ", ".join(
        [
            f"`{PARTITION_COLUMN}` string",
            f"`{id_column}` {frame.schema[id_column].dataType.simpleString()}",
            *(f"`{name}` float" for name in model.code_columns),
            *(["anomaly_score float", "is_flagged boolean"] if scores else []),
            "l0 int",
        ]
    )
    return frame.mapInPandas(_encoder(broadcast, scores), schema)


def spark_partition_chunks(
    result: DataFrame, partition_names: list[str], chunk_rows: int = 100_000
) -> dict[str, Iterator[pd.DataFrame]]:
    """The encoded rows of each partition, as pandas chunks of ``chunk_rows`` rows.

    One pass over ``result`` (one Spark job per Spark partition, as the driver
    reads), so each partition is encoded once and the driver holds a chunk at a
    time. The iterators must be consumed in the order given, as
    ``ExtractedPartitionsDataset`` does; ``partition_names`` must be in the
    order of ``result`` (sorted, as :func:`encode_with_spark` makes it).

    Raises:
        InvalidInputError: A worker found NaN or text in a partition.
    """
    stream = _RowStream(result, partition_names)
    columns = result.columns[1:]
    dtypes = {  # what the pandas path gives; the id column keeps its own
        field.name: _PANDAS_TYPES[field.dataType.simpleString()]
        for field in result.schema.fields[2:]
    }

    def chunks(name: str) -> Iterator[pd.DataFrame]:
        rows = (row[1:] for row in stream.rows(name))
        while batch := list(itertools.islice(rows, chunk_rows)):
            yield pd.DataFrame.from_records(batch, columns=columns).astype(dtypes)

    return {name: chunks(name) for name in partition_names}


class _RowStream:
    """``result``'s rows, one partition after another, read once."""

    def __init__(self, result: DataFrame, names: list[str]):
        self._result = result
        self._order = {name: position for position, name in enumerate(names)}
        self._groups: Iterator[tuple[str, Iterator[Row]]] | None = None
        self._head: tuple[str, Iterator[Row]] | None = None
        self._position = -1

    def rows(self, name: str) -> Iterator[Row]:
        """The rows of ``name``; none when it has no rows."""
        if self._order[name] <= self._position:
            msg = f"Partition '{name}' was read already: read them in order"
            raise RuntimeError(msg)
        self._position = self._order[name]
        while (head := self._peek()) is not None and head[0] != name:
            if self._order.get(head[0], -1) > self._position:
                return  # ``name`` has no rows
            self._head = None  # a partition not asked for, or skipped
        if head is not None:
            self._head = None
            yield from head[1]

    def _peek(self) -> tuple[str, Iterator[Row]] | None:
        if self._groups is None:
            rows = _translated(self._result.toLocalIterator())
            self._groups = itertools.groupby(rows, key=lambda row: row[0])
        if self._head is None:
            self._head = next(self._groups, None)
        return self._head


def _translated(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, with a worker's ``InvalidInputError`` raised as such."""
    try:
        yield from items
    except (PythonException, Py4JJavaError) as error:  # toLocalIterator: the latter
        found = re.search(r"InvalidInputError: (.+)", str(error))
        if found:
            raise InvalidInputError(found.group(1)) from error
        raise


def _read(spark: SparkSession, partition: Partition) -> DataFrame:
    path = str(partition.path)
    if partition.path.suffix == ".parquet":
        return spark.read.parquet(path)
    return spark.read.csv(path, header=True, inferSchema=True)


def _numbered(frame: DataFrame, id_column: str) -> DataFrame:
    """``frame`` with ``id_column`` = 0, 1, … in file order (Spark splits in order)."""
    tagged = frame.withColumn(_SPLIT, F.spark_partition_id()).withColumn(
        _ROW, F.monotonically_increasing_id()
    )
    first_rows, total = [], 0
    for split, rows in sorted(
        tuple(row) for row in tagged.groupBy(_SPLIT).count().collect()
    ):
        first_rows += [F.lit(split), F.lit(total).cast("long")]
        total += rows
    if not first_rows:
        return frame.withColumn(id_column, F.lit(None).cast("long"))
    in_split = F.col(_ROW).bitwiseAND((1 << _ROW_BITS) - 1)
    first_row = F.create_map(*first_rows)[F.col(_SPLIT)]
    return tagged.withColumn(id_column, first_row + in_split).drop(_SPLIT, _ROW)


def _encoder(
    broadcast: Any, scores: bool
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The ``mapInPandas`` function: ``score_chunks`` on each partition's rows."""

    def encode(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        model: InferenceModel = broadcast.value
        for batch in batches:
            for name, rows in batch.groupby(PARTITION_COLUMN, sort=False):
                chunk = rows.drop(columns=PARTITION_COLUMN).reset_index(drop=True)
                label = f"Partition '{name}'"
                for output in model.score_chunks([chunk], label, scores):
                    frame = output.to_pandas()
                    frame.insert(0, PARTITION_COLUMN, str(name))
                    yield frame

    return encode
