"""A trained model ready to encode new tables: normaliser, encoder, threshold.

Plain Arrow, NumPy, scikit-learn and Keras, no Kedro: batch extraction uses it
chunk by chunk, and so does the Spark path. Chunks stay Arrow tables from the
parquet reader to the parquet writer. Their features become one float32 matrix
stored feature by feature, the layout Arrow's columns copy into fastest. It is
normalised in place and handed to TensorFlow without a copy, whose first matrix
product reads it transposed; the codes come back unit by unit, the layout of
the output's columns.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import pandas as pd
import pyarrow as pa
import sklearn
import tensorflow as tf

from sae_pipelines.sae.metrics import active_mask
from sae_pipelines.sae.model import CODES_LAYER, code_size_of
from sae_pipelines.tables import as_arrow

# The run metric that holds a trained model's anomaly threshold (see evaluation).
THRESHOLD_METRIC = "anomaly_threshold"
# TensorFlow's alignment of tensor memory: an array aligned to it is shared
# through DLPack instead of copied.
TENSOR_ALIGNMENT = 64


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
    _in_place: Any = field(default=None, init=False, repr=False)

    @property
    def feature_columns(self) -> list[str]:
        """The training feature columns, in the order the model expects."""
        return [str(name) for name in self.normalizer.feature_names_in_]

    def encode(
        self, features: np.ndarray, scores: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Codes and per-row reconstruction MSE of raw (unnormalised) features.

        :meth:`normalize`, then :meth:`encode_normalized`.

        Args:
            features: Raw rows, ``(rows, features)`` in :attr:`feature_columns`
                order, in any memory layout.
            scores: Also run the decoder for the anomaly scores; without them
                only the encoder runs (half the work) and the MSE is ``None``.
        """
        return self.encode_normalized(self.normalize(features), scores)

    def normalize(self, features: np.ndarray, overwrite: bool = False) -> np.ndarray:
        """Raw feature rows scaled by the normaliser: the model's inputs.

        Args:
            features: Raw rows, ``(rows, features)`` in :attr:`feature_columns`
                order, float32 and finite (see :func:`feature_values`), in any
                memory layout.
            overwrite: ``features`` may be scaled in place. Stored feature by
                feature and aligned, as :func:`feature_values` returns them,
                they then are, without a copy.

        Returns:
            ``(rows, features)``, stored feature by feature and aligned, ready
            for :meth:`encode_normalized` to hand to TensorFlow without a copy.
        """
        by_feature = features.T
        if not (overwrite and _shareable_with_tensorflow(by_feature)):
            by_feature = _aligned_empty(by_feature.shape)
            by_feature[...] = features.T
        if len(features) == 0:  # scikit-learn's normalisers refuse zero rows
            return by_feature.T
        if self._in_place is None:
            self._in_place = _in_place_copy(self.normalizer)
        with warnings.catch_warnings(), sklearn.config_context(assume_finite=True):
            # Fitted on a DataFrame; the columns were checked by name already.
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            scaled = self._in_place.transform(by_feature.T)
        if not np.shares_memory(scaled, by_feature):  # not a scikit-learn scaler
            by_feature[...] = scaled.T
        return by_feature.T

    def encode_normalized(
        self, scaled: np.ndarray, scores: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Codes and per-row reconstruction MSE of :meth:`normalize`'s output.

        Returns:
            The codes, ``(rows, code units)`` stored unit by unit, and the MSE
            (``None`` without ``scores``).
        """
        if len(scaled) == 0:
            empty = np.zeros((0, code_size_of(self.autoencoder)), np.float32)
            return empty, np.zeros(0, np.float32) if scores else None
        codes_by_unit, *errors = self._compiled_model(scores)(_as_tensor(scaled.T))
        return codes_by_unit.numpy().T, errors[0].numpy() if scores else None

    def _compiled_model(self, scores: bool) -> Any:
        """A graph function from rows stored feature by feature to codes by unit.

        With ``scores``, also the rows' reconstruction MSE, computed in the
        graph so that reconstructions never leave it. The first layer's matrix
        product reads its input transposed, which costs no copy.
        """
        if scores not in self._compiled:
            layers = self.autoencoder.layers[1:]  # after the input layer
            first, later = layers[0], layers[1:]
            codes_at = later.index(self.autoencoder.get_layer(CODES_LAYER))

            def codes_and_errors(by_feature: tf.Tensor) -> list[tf.Tensor]:
                hidden = first.activation(
                    tf.matmul(by_feature, first.kernel, transpose_a=True) + first.bias
                )
                for layer in later[: codes_at + 1]:
                    hidden = layer(hidden, training=False)
                outputs = [tf.transpose(hidden)]
                if scores:
                    for layer in later[codes_at + 1 :]:
                        hidden = layer(hidden, training=False)
                    residual = tf.square(by_feature - tf.transpose(hidden))
                    outputs.append(tf.reduce_mean(residual, axis=0))
                return outputs

            width = self.autoencoder.input_shape[-1]
            self._compiled[scores] = tf.function(
                codes_and_errors,
                input_signature=[tf.TensorSpec([width, None], tf.float32)],
            )
        return self._compiled[scores]


def _aligned_empty(shape: tuple[int, ...]) -> np.ndarray:
    """An uninitialised C-ordered float32 array aligned for TensorFlow."""
    size = int(np.prod(shape))
    raw = np.empty(size + TENSOR_ALIGNMENT // 4, np.float32)
    start = (-raw.ctypes.data % TENSOR_ALIGNMENT) // 4
    return raw[start : start + size].reshape(shape)


def _shareable_with_tensorflow(array: np.ndarray) -> bool:
    return (
        array.dtype == np.float32
        and array.flags.c_contiguous
        and array.flags.writeable
        and array.ctypes.data % TENSOR_ALIGNMENT == 0
    )


def _as_tensor(array: np.ndarray) -> tf.Tensor:
    """``array`` as a tensor: shared through DLPack where it can be, else copied.

    TensorFlow aborts the process on unaligned memory, so only arrays that
    pass :func:`_shareable_with_tensorflow` are shared.
    """
    if _shareable_with_tensorflow(array):
        return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
    return tf.convert_to_tensor(np.ascontiguousarray(array, np.float32))


def _in_place_copy(normalizer: Any) -> Any:
    """A copy of a fitted scikit-learn normaliser that transforms in place.

    Every ``copy`` parameter, its own or its pipeline steps', is set to False.
    """
    in_place = copy.deepcopy(normalizer)
    copies = [name for name in in_place.get_params() if name.split("__")[-1] == "copy"]
    return in_place.set_params(**dict.fromkeys(copies, False))


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
    partition: str,
    chunk: pa.Table | pd.DataFrame,
    expected: list[str],
    reuse: np.ndarray | None = None,
) -> np.ndarray:
    """The chunk's features as one float32 matrix, stored feature by feature.

    Shape ``(rows, features)``; each feature's values lie together, so each
    Arrow column is one contiguous copy. The memory is aligned for
    :meth:`ServingModel.normalize` to scale it in place and share it with
    TensorFlow.

    Args:
        partition: The partition's name, for error messages.
        chunk: Some of its rows.
        expected: The feature columns, in the model's order.
        reuse: An earlier result whose memory may be overwritten when it has
            the same shape: fresh memory costs the kernel a page clearing.

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
    shape = (len(expected), table.num_rows)
    reusable = reuse is not None and reuse.T.shape == shape
    by_feature = reuse.T if reusable else _aligned_empty(shape)
    for row, name in zip(by_feature, expected, strict=True):
        # float32 columns are read in place; nulls become NaN
        column = table.column(name).cast(pa.float32(), safe=False)
        row[:] = column.to_numpy(zero_copy_only=False)
    # One sum per feature finds NaN and infinity; only then is each value checked
    # (a sum can also overflow to infinity from finite values).
    with np.errstate(over="ignore", invalid="ignore"):
        suspect = not np.isfinite(by_feature.sum(axis=1)).all()
    bad = np.flatnonzero(~np.isfinite(by_feature).all(axis=1)) if suspect else []
    if len(bad):
        names = [expected[i] for i in bad]
        msg = f"Partition '{partition}' has missing, NaN or infinite values in columns {names}"
        raise PartitionSchemaError(msg)
    return by_feature.T


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
    first_row = 0
    for table, scaled in read_ahead(
        _model_inputs(partition, chunks, serving, id_column)
    ):
        codes, errors = serving.encode_normalized(scaled, scores)
        if id_column in table.column_names:
            ids = table.column(id_column)
            id_field = table.schema.field(id_column)
        else:
            ids = pa.array(np.arange(first_row, first_row + len(codes)))
            id_field = pa.field(id_column, pa.int64(), nullable=False)
        first_row += len(codes)
        yield _output_table(id_field, ids, code_names, codes, errors, serving.threshold)


def _model_inputs(
    partition: str,
    chunks: Iterable[pa.Table | pd.DataFrame],
    serving: ServingModel,
    id_column: str,
) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """Each chunk as an Arrow table, checked, and its features normalised.

    Two matrices take turns: the caller may use one while the next chunk is
    prepared in the other (as :func:`read_ahead` does), never longer.
    """
    expected = serving.feature_columns
    matrices: list[np.ndarray | None] = [None, None]
    for index, chunk in enumerate(chunks):
        table = as_arrow(chunk)
        check_columns(partition, table.column_names, expected, id_column)
        turn = index % 2
        values = feature_values(partition, table, expected, matrices[turn])
        matrices[turn] = serving.normalize(values, overwrite=True)
        yield table, matrices[turn]


def read_ahead(items: Iterator[Any]) -> Iterator[Any]:
    """``items``, each next one produced on a worker thread while this one is used.

    Parquet decoding and NumPy's work on large arrays release the GIL, so
    reading and normalising the next chunk overlaps encoding this one.
    """
    with ThreadPoolExecutor(max_workers=1) as worker:
        pending = worker.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = worker.submit(next, items, None)
            yield item


def _output_table(
    id_field: pa.Field,
    ids: pa.Array | pa.ChunkedArray,
    code_names: list[str],
    codes: np.ndarray,
    errors: np.ndarray | None,
    threshold: float,
) -> pa.Table:
    """Id, codes, anomaly score and flag (with ``errors``) and L0 of a chunk.

    The computed columns are declared non-nullable, so the parquet writer
    stores no validity levels for them.
    """
    computed = dict(zip(code_names, codes.T, strict=True))  # rows of codes.T
    if errors is not None:
        computed["anomaly_score"] = errors
        computed["is_flagged"] = errors > threshold
    computed["l0"] = active_mask(codes).sum(axis=1).astype(np.int32)
    arrays = {name: pa.array(values) for name, values in computed.items()}
    fields = [
        pa.field(name, array.type, nullable=False) for name, array in arrays.items()
    ]
    return pa.Table.from_arrays(
        [ids, *arrays.values()], schema=pa.schema([id_field, *fields])
    )
