"""A trained model ready to encode new tables: normaliser, encoder, threshold.

Plain Arrow, NumPy, scikit-learn and Keras, no Kedro: batch extraction uses it
chunk by chunk, and so does the Spark path. Chunks stay Arrow tables from the
parquet reader to the parquet writer; the features become one row-major float32
matrix, the only layout the normaliser and TensorFlow read at full speed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import pandas as pd
import pyarrow as pa
import tensorflow as tf

from sae_pipelines.sae.metrics import active_mask
from sae_pipelines.sae.model import CODES_LAYER, code_size_of
from sae_pipelines.sae.training import INFERENCE_BATCH_SIZE
from sae_pipelines.tables import as_arrow

# The run metric that holds a trained model's anomaly threshold (see evaluation).
THRESHOLD_METRIC = "anomaly_threshold"
# Rows gathered at a time from the feature columns into the row-major matrix:
# small enough for the tile to stay in cache, large enough to amortise the loop.
TILE_ROWS = 2048


class PartitionSchemaError(ValueError):
    """A partition's columns or values do not fit the model; nothing was written."""


@dataclass
class ServingModel:
    """Everything needed to turn raw feature rows into codes and anomaly flags.

    Attributes:
        autoencoder: The trained sparse autoencoder.
        normalizer: The scikit-learn normaliser fitted on its training split.
        threshold: Rows whose reconstruction MSE exceeds it are flagged.
        source: Which model this is, e.g. ``sae_pipelines version 3 (run …)``.
        version: The registry version, or ``None`` for a pinned Kedro file.
    """

    autoencoder: keras.Model
    normalizer: Any
    threshold: float
    source: str
    version: int | None = None
    _compiled: dict[bool, Any] = field(default_factory=dict, repr=False)

    @property
    def feature_columns(self) -> list[str]:
        """The training feature columns, in the order the model expects."""
        return [str(name) for name in self.normalizer.feature_names_in_]

    def normalize(self, features: np.ndarray) -> np.ndarray:
        """Raw feature rows (in :attr:`feature_columns` order) as the model's inputs."""
        with warnings.catch_warnings():
            # Fitted on a DataFrame; the columns were checked by name already.
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            scaled = self.normalizer.transform(features)
        return np.ascontiguousarray(scaled, dtype=np.float32)

    def encode(
        self, features: np.ndarray, scores: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Codes and per-row reconstruction MSE of raw (unnormalised) features.

        Args:
            features: Raw rows, in :attr:`feature_columns` order.
            scores: Also run the decoder for the anomaly scores; without them
                only the encoder runs (half the work) and the MSE is ``None``.
        """
        if len(features) == 0:  # scikit-learn's normalisers refuse zero rows
            empty = np.zeros((0, code_size_of(self.autoencoder)), np.float32)
            return empty, np.zeros(0, np.float32) if scores else None
        scaled = self.normalize(features)
        compiled = self._compiled_model(scores)
        codes, errors = [], []
        for start in range(0, len(scaled), INFERENCE_BATCH_SIZE):
            batch_codes, *batch_errors = compiled(
                scaled[start : start + INFERENCE_BATCH_SIZE]
            )
            codes.append(batch_codes.numpy())
            errors += [error.numpy() for error in batch_errors]
        return np.concatenate(codes), np.concatenate(errors) if scores else None

    def _compiled_model(self, scores: bool) -> Any:
        """A graph function from rows to codes, and to row MSE with ``scores``.

        The MSE is computed in the graph, so reconstructions never leave it.
        """
        if scores not in self._compiled:
            inputs = self.autoencoder.inputs[0]
            outputs = [self.autoencoder.get_layer(CODES_LAYER).output]
            if scores:
                residual = keras.ops.square(inputs - self.autoencoder.output)
                outputs.append(keras.ops.mean(residual, axis=-1))
            model = keras.Model(inputs, outputs)
            self._compiled[scores] = tf.function(
                lambda rows: keras.tree.flatten(model(rows, training=False)),
                input_signature=[tf.TensorSpec([None, inputs.shape[-1]], tf.float32)],
            )
        return self._compiled[scores]


def check_columns(
    partition: str, columns: list[str], expected: list[str], id_column: str
) -> None:
    """Stop unless ``columns`` are the training features in order, with an optional id.

    Raises:
        PartitionSchemaError: Naming the partition and the columns at fault.
    """
    features = [c for c in columns if c != id_column]
    if features == expected:
        return
    missing = [c for c in expected if c not in features]
    extra = [c for c in features if c not in expected]
    if missing or extra:
        detail = f"missing columns {missing}" if missing else ""
        detail += ("; " if missing and extra else "") + (
            f"unexpected columns {extra}" if extra else ""
        )
    else:
        detail = f"columns out of order: expected {expected}, got {features}"
    msg = f"Partition '{partition}' does not match the model's features: {detail}"
    raise PartitionSchemaError(msg)


def feature_values(
    partition: str, chunk: pa.Table | pd.DataFrame, expected: list[str]
) -> np.ndarray:
    """The chunk's features as one row-major float32 matrix.

    Arrow keeps each column apart; the rows are gathered a tile at a time, so
    the copy reads and writes memory in order instead of one value per column.

    Raises:
        PartitionSchemaError: Text, missing, NaN or infinite values; the
            message names the partition and the columns at fault.
    """
    table = as_arrow(chunk)
    non_numeric = [
        name for name in expected if not _is_numeric(table.schema.field(name).type)
    ]
    if non_numeric:
        msg = f"Partition '{partition}' has non-numeric values in columns {non_numeric}"
        raise PartitionSchemaError(msg)
    columns = [  # float32 columns are used in place; nulls become NaN
        table.column(name).cast(pa.float32(), safe=False).to_numpy(zero_copy_only=False)
        for name in expected
    ]
    values = np.empty((table.num_rows, len(expected)), np.float32)
    for start in range(0, table.num_rows, TILE_ROWS):
        stop = min(start + TILE_ROWS, table.num_rows)
        tile = [column[start:stop] for column in columns]
        np.stack(tile, axis=1, out=values[start:stop])
    if not np.isfinite(values).all():
        bad = ~np.isfinite(values).all(axis=0)
        names = [expected[i] for i in np.flatnonzero(bad)]
        msg = f"Partition '{partition}' has missing, NaN or infinite values in columns {names}"
        raise PartitionSchemaError(msg)
    return values


def _is_numeric(column_type: pa.DataType) -> bool:
    return (
        pa.types.is_integer(column_type)
        or pa.types.is_floating(column_type)
        or pa.types.is_boolean(column_type)
        or pa.types.is_null(column_type)
    )


def extract_chunks(
    partition: str,
    chunks: Iterable[pa.Table | pd.DataFrame],
    serving: ServingModel,
    id_column: str,
    code_names: list[str],
    scores: bool = True,
) -> Iterator[pa.Table]:
    """Turn a partition's chunks into output tables: id, codes, score, flag, L0.

    Rows without an id column are numbered from 0 across the whole partition.
    With ``scores`` off only the encoder runs, and the output has no
    ``anomaly_score`` or ``is_flagged`` column.
    """
    expected = serving.feature_columns
    first_row = 0
    for chunk in chunks:
        table = as_arrow(chunk)
        check_columns(partition, table.column_names, expected, id_column)
        codes, errors = serving.encode(
            feature_values(partition, table, expected), scores
        )
        rows = len(codes)
        ids = (
            table.column(id_column)
            if id_column in table.column_names
            else pa.array(np.arange(first_row, first_row + rows))
        )
        first_row += rows
        by_unit = np.ascontiguousarray(codes.T)  # each code column contiguous
        columns = {id_column: ids}
        columns.update(zip(code_names, map(pa.array, by_unit), strict=True))
        if errors is not None:
            columns["anomaly_score"] = pa.array(errors)
            columns["is_flagged"] = pa.array(errors > serving.threshold)
        columns["l0"] = pa.array(active_mask(codes).sum(axis=1).astype(np.int32))
        yield pa.table(columns)
