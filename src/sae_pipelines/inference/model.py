"""The inference model: normaliser, sparse autoencoder and anomaly threshold in one.

Plain Arrow, NumPy, scikit-learn and Keras, no Kedro and no MLflow. It is the
one way this project turns rows into codes and anomaly scores: feature
extraction and evaluation, batch extraction (pandas and Spark) and the MLflow
model that leaves the project all call it.

Rows go in as Arrow tables (or DataFrames) of raw feature columns, matched by
name. Their features become one float32 matrix stored feature by feature, the
layout Arrow's columns copy into fastest. It is normalised in place and handed
to TensorFlow without a copy, whose first matrix product reads it transposed;
the codes come back unit by unit, the layout of the output's columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import pandas as pd
import pyarrow as pa
import tensorflow as tf

from sae_pipelines.inference.features import (
    as_tensor,
    in_place_copy,
    normalize_features,
)
from sae_pipelines.inference.rows import RowCheck
from sae_pipelines.inference.scoring import AnomalyScorer
from sae_pipelines.inference.tables import DEFAULT_ID_COLUMN, as_arrow
from sae_pipelines.sae.metrics import active_mask
from sae_pipelines.sae.model import centring_of, code_size_of, forward_steps

SCORE_COLUMN = "anomaly_score"
FLAG_COLUMN = "is_flagged"
L0_COLUMN = "l0"
DEFAULT_CODE_PREFIX = "code_"


def code_column_names(code_size: int, prefix: str = DEFAULT_CODE_PREFIX) -> list[str]:
    """``code_000, code_001, …``: zero-padded so they sort in unit order."""
    width = max(3, len(str(code_size - 1)))
    return [f"{prefix}{unit:0{width}d}" for unit in range(code_size)]


@dataclass
class InferenceModel:
    """Everything needed to turn raw feature rows into codes and anomaly flags.

    Attributes:
        autoencoder: The trained sparse autoencoder.
        normalizer: The scikit-learn normaliser fitted on its training split.
        threshold: Rows whose anomaly score exceeds it are flagged; NaN until
            evaluation has set it (then no row is flagged).
        scorer: How a row's anomaly score is computed (see
            :mod:`sae_pipelines.inference.scoring`); the reconstruction MSE
            unless given.
        id_column: The column that identifies rows. Passed through when the
            input has it; otherwise rows are numbered from 0.
        code_prefix: Prefix of the code columns (``code_000``, …).
        source: Which model this is, e.g. ``sae_pipelines version 3 (run …)``.
        version: The registry version, or ``None`` when not from the registry.
        integer_features: The features that held integers in the training
            table: input rows must hold whole numbers there (see
            :mod:`sae_pipelines.inference.rows`). Empty for models saved before
            it was recorded.
    """

    autoencoder: keras.Model
    normalizer: Any
    threshold: float = float("nan")
    scorer: AnomalyScorer = field(default_factory=AnomalyScorer)
    id_column: str = DEFAULT_ID_COLUMN
    code_prefix: str = DEFAULT_CODE_PREFIX
    source: str = "inference model"
    version: int | None = None
    integer_features: tuple[str, ...] = ()
    _compiled: dict[bool, Any] = field(default_factory=dict, repr=False)
    _in_place: Any = field(default=None, init=False, repr=False)

    @property
    def feature_columns(self) -> list[str]:
        """The training feature columns, in the order the model reads them."""
        return [str(name) for name in self.normalizer.feature_names_in_]

    @property
    def code_columns(self) -> list[str]:
        """The names of the code columns of the output, one per code unit."""
        return code_column_names(code_size_of(self.autoencoder), self.code_prefix)

    def __getstate__(self) -> dict[str, Any]:
        # Compiled graph functions and the in-place normaliser do not pickle
        # (to another process); they are rebuilt on first use.
        return {**self.__dict__, "_compiled": {}, "_in_place": None}

    def predict(
        self, rows: pd.DataFrame | pa.Table, scores: bool = True
    ) -> pd.DataFrame:
        """Score a table of raw rows: the output of batch extraction, as a DataFrame.

        Args:
            rows: The training feature columns, matched by name (any order),
                and optionally :attr:`id_column`.
            scores: Also compute ``anomaly_score`` and ``is_flagged`` (the
                decoder runs too); without them the output has the id, the
                codes and ``l0``.

        Raises:
            InvalidInputError: A row that is not valid (see
                :mod:`sae_pipelines.inference.rows`); the message names the
                column.
        """
        tables = list(self.score_chunks([rows], "The input", scores))
        return pa.concat_tables(tables).to_pandas()

    def score_chunks(
        self,
        chunks: Iterable[pa.Table | pd.DataFrame],
        label: str = "The input",
        scores: bool = True,
    ) -> Iterator[pa.Table]:
        """Turn chunks of raw rows into output tables: id, codes, score, flag, L0.

        Each next chunk is read, checked and normalised on a worker thread
        while this one is encoded. Rows without an id column are numbered from
        0 across all chunks.

        Args:
            chunks: Arrow tables or DataFrames, e.g. a partition read in chunks.
            label: How error messages name the rows, e.g. ``Partition 'day1'``.
            scores: As in :meth:`predict`.

        Raises:
            InvalidInputError: A chunk does not fit the model; the message
                starts with ``label``.
        """
        first_row = 0
        for table, scaled in read_ahead(self._model_inputs(label, chunks)):
            codes, errors = self.encode_normalized(scaled, scores)
            if self.id_column in table.column_names:
                ids = table.column(self.id_column)
                id_field = table.schema.field(self.id_column)
            else:
                ids = pa.array(np.arange(first_row, first_row + len(codes)))
                id_field = pa.field(self.id_column, pa.int64(), nullable=False)
            first_row += len(codes)
            yield self.output_columns(codes, errors).add_column(0, id_field, ids)

    def normalize(self, features: np.ndarray, overwrite: bool = False) -> np.ndarray:
        """Raw feature rows scaled by the normaliser: the autoencoder's inputs.

        Args:
            features: Raw rows, ``(rows, features)`` in :attr:`feature_columns`
                order, float32 and finite (see :func:`~sae_pipelines.inference.features.feature_values`), in any
                memory layout.
            overwrite: ``features`` may be scaled in place. Stored feature by
                feature and aligned, as :func:`~sae_pipelines.inference.features.feature_values` returns them,
                they then are, without a copy.

        Returns:
            ``(rows, features)``, stored feature by feature and aligned, ready
            for :meth:`encode_normalized` to hand to TensorFlow without a copy.
        """
        if self._in_place is None:
            self._in_place = in_place_copy(self.normalizer)
        return normalize_features(self._in_place, features, overwrite)

    def encode_normalized(
        self, scaled: np.ndarray, scores: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Codes and anomaly scores of normalised rows (:meth:`normalize`'s output).

        The anomaly score is :attr:`scorer`'s, from the row and its
        reconstruction MSE, ``mean_j (x_ij − x̂_ij)²`` over the normalised
        features.

        Returns:
            The codes, ``(rows, code units)`` stored unit by unit, and the
            scores (``None`` without ``scores``).
        """
        if len(scaled) == 0:
            empty = np.zeros((0, code_size_of(self.autoencoder)), np.float32)
            return empty, np.zeros(0, np.float32) if scores else None
        codes_by_unit, *errors = self._compiled_model(scores)(as_tensor(scaled.T))
        if not scores:
            return codes_by_unit.numpy().T, None
        return codes_by_unit.numpy().T, self.scorer.score(scaled, errors[0].numpy())

    def _compiled_model(self, scores: bool) -> Any:
        """A graph function from rows stored feature by feature to codes by unit.

        With ``scores``, also the rows' reconstruction MSE, computed in the
        graph so that reconstructions never leave it. The first layer's matrix
        product reads its input transposed, which costs no copy; the centring
        before it, if any, works on that layout too.
        """
        if scores not in self._compiled:
            encoder, decoder = forward_steps(self.autoencoder)
            centring = centring_of(self.autoencoder)
            first, later = encoder[0], encoder[1:]

            def codes_and_errors(by_feature: tf.Tensor) -> list[tf.Tensor]:
                centred = (
                    by_feature
                    if centring is None
                    else centring.centre_by_feature(by_feature)
                )
                hidden = first.activation(
                    tf.matmul(centred, first.kernel, transpose_a=True) + first.bias
                )
                for layer in later:
                    hidden = layer(hidden, training=False)
                outputs = [tf.transpose(hidden)]
                if scores:
                    for step in decoder:
                        hidden = step(hidden)
                    residual = tf.square(by_feature - tf.transpose(hidden))
                    outputs.append(tf.reduce_mean(residual, axis=0))
                return outputs

            width = self.autoencoder.input_shape[-1]
            self._compiled[scores] = tf.function(
                codes_and_errors,
                input_signature=[tf.TensorSpec([width, None], tf.float32)],
            )
        return self._compiled[scores]

    def _model_inputs(
        self, label: str, chunks: Iterable[pa.Table | pd.DataFrame]
    ) -> Iterator[tuple[pa.Table, np.ndarray]]:
        """Each chunk as an Arrow table, checked, and its features normalised.

        Two matrices take turns: the caller may use one while the next chunk is
        prepared in the other (as :func:`read_ahead` does), never longer.
        """
        check = self.row_check(label)
        matrices: list[np.ndarray | None] = [None, None]
        for index, chunk in enumerate(chunks):
            table = as_arrow(chunk)
            turn = index % 2
            values = check.features_of(table, matrices[turn])
            matrix = self.normalize(values, overwrite=True)
            matrices[turn] = matrix
            yield table, matrix

    def row_check(self, label: str) -> RowCheck:
        """What checks that one input's rows are valid for this model."""
        return RowCheck(
            label, self.feature_columns, self.integer_features, self.id_column
        )

    def output_columns(self, codes: np.ndarray, scores: np.ndarray | None) -> pa.Table:
        """The computed output columns: codes, anomaly score and flag, and L0.

        ``anomaly_score`` and ``is_flagged`` come with ``scores``; the flag also
        needs a threshold (not NaN). The columns are declared non-nullable, so
        the parquet writer stores no validity levels for them.

        Args:
            codes: ``(rows, code units)``, as :meth:`encode_normalized` returns them.
            scores: The rows' anomaly scores, or ``None``.
        """
        computed = dict(zip(self.code_columns, codes.T, strict=True))  # rows of codes.T
        if scores is not None:
            computed[SCORE_COLUMN] = scores
            if not math.isnan(self.threshold):
                computed[FLAG_COLUMN] = scores > self.threshold
        computed[L0_COLUMN] = active_mask(codes).sum(axis=1).astype(np.int32)
        arrays = {name: pa.array(values) for name, values in computed.items()}
        fields = [
            pa.field(name, array.type, nullable=False) for name, array in arrays.items()
        ]
        return pa.Table.from_arrays(list(arrays.values()), schema=pa.schema(fields))


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
