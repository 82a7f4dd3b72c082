"""A trained model ready to encode new tables: normaliser, encoder, threshold.

Plain pandas, scikit-learn and Keras, no Kedro: batch extraction uses it chunk
by chunk, and so does the Spark path.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import pandas as pd

from sae_pipelines.sae.metrics import active_mask, row_squared_errors
from sae_pipelines.sae.model import CODES_LAYER
from sae_pipelines.sae.training import INFERENCE_BATCH_SIZE

# The run metric that holds a trained model's anomaly threshold (see evaluation).
THRESHOLD_METRIC = "anomaly_threshold"


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
    _codes_and_reconstruction: keras.Model | None = field(default=None, repr=False)

    @property
    def feature_columns(self) -> list[str]:
        """The training feature columns, in the order the model expects."""
        return [str(name) for name in self.normalizer.feature_names_in_]

    def encode(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Codes and per-row reconstruction MSE of raw (unnormalised) features."""
        if self._codes_and_reconstruction is None:
            self._codes_and_reconstruction = keras.Model(
                self.autoencoder.inputs,
                [
                    self.autoencoder.get_layer(CODES_LAYER).output,
                    self.autoencoder.output,
                ],
            )
        scaled = np.asarray(
            self.normalizer.transform(
                pd.DataFrame(features, columns=self.feature_columns)
            ),
            dtype=np.float32,
        )
        codes, errors = [], []
        for start in range(0, len(scaled), INFERENCE_BATCH_SIZE):
            batch = scaled[start : start + INFERENCE_BATCH_SIZE]
            batch_codes, reconstruction = self._codes_and_reconstruction(
                batch, training=False
            )
            codes.append(np.asarray(batch_codes))
            errors.append(row_squared_errors(batch, np.asarray(reconstruction)))
        if not codes:
            width = int(self.autoencoder.get_layer(CODES_LAYER).output.shape[-1])
            return np.zeros((0, width), np.float32), np.zeros(0, np.float32)
        return np.concatenate(codes), np.concatenate(errors)


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
    partition: str, chunk: pd.DataFrame, expected: list[str]
) -> np.ndarray:
    """The chunk's features as float32, refusing text and missing values.

    Raises:
        PartitionSchemaError: Naming the partition and the columns at fault.
    """
    features = chunk[expected]
    non_numeric = [
        c for c in expected if not pd.api.types.is_numeric_dtype(features[c])
    ]
    if non_numeric:
        msg = f"Partition '{partition}' has non-numeric values in columns {non_numeric}"
        raise PartitionSchemaError(msg)
    values = features.to_numpy(dtype=np.float32)
    bad = ~np.isfinite(values)
    if bad.any():
        columns = [expected[i] for i in np.flatnonzero(bad.any(axis=0))]
        msg = f"Partition '{partition}' has NaN or infinite values in columns {columns}"
        raise PartitionSchemaError(msg)
    return values


def extract_chunks(
    partition: str,
    chunks: Iterable[pd.DataFrame],
    serving: ServingModel,
    id_column: str,
    code_names: list[str],
) -> Iterator[pd.DataFrame]:
    """Turn a partition's chunks into output chunks: id, codes, score, flag, L0.

    Rows without an id column are numbered from 0 across the whole partition.
    """
    expected = serving.feature_columns
    first_row = 0
    for chunk in chunks:
        check_columns(partition, list(map(str, chunk.columns)), expected, id_column)
        codes, scores = serving.encode(feature_values(partition, chunk, expected))
        ids = (
            chunk[id_column].to_numpy()
            if id_column in chunk
            else np.arange(first_row, first_row + len(chunk))
        )
        first_row += len(chunk)
        output = pd.DataFrame(codes, columns=code_names)
        output.insert(0, id_column, ids)
        output["anomaly_score"] = scores
        output["is_flagged"] = scores > serving.threshold
        output["l0"] = active_mask(codes).sum(axis=1).astype(np.int32)
        yield output
